// 64 concurrent streaming clients with greedy decoding must each receive exactly the text (and
// token count) that the same request gives when it runs alone: no token lost, duplicated or
// crossed between requests. Usage: node concurrency.js BASE_URL MODEL [CLIENTS [API_KEY]]
'use strict';
const OpenAI = require('openai');
const assert = require('assert/strict');

const [base, model, clientsArg, apiKey] = process.argv.slice(2);
const clients = Number(clientsArg ?? 64);
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: apiKey ?? 'none', maxRetries: 0 });

// Distinct prompts and lengths, half chat and half completions.
function request(i) {
  const max_tokens = 8 + (i % 5) * 4;
  const common = { model, max_tokens, temperature: 0, ignore_eos: true, stream: true, stream_options: { include_usage: true } };
  return i % 2
    ? { kind: 'chat', body: { ...common, messages: [{ role: 'user', content: `Question ${i}: ${'why '.repeat(i % 7)}latent?` }] } }
    : { kind: 'completions', body: { ...common, prompt: `Prompt number ${i} ${'abc '.repeat(i % 9)}` } };
}

async function run(i) {
  const { kind, body } = request(i);
  const api = kind === 'chat' ? client.chat.completions : client.completions;
  let text = '', usage = null, finish = null;
  for await (const chunk of await api.create(body)) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      assert.equal(c.index, 0);
      text += kind === 'chat' ? c.delta.content ?? '' : c.text;
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  return { text, tokens: usage.completion_tokens, finish };
}

async function main() {
  const alone = [];
  for (let i = 0; i < clients; ++i) alone.push(await run(i));
  const together = await Promise.all(Array.from({ length: clients }, (_, i) => run(i)));
  for (let i = 0; i < clients; ++i) {
    assert.deepEqual(together[i], alone[i], `client ${i}: concurrent result differs from the sequential one`);
    assert.equal(alone[i].tokens, request(i).body.max_tokens);
    assert.equal(alone[i].finish, 'length');
  }
  console.log(`concurrency: ${clients} concurrent streams match their sequential runs`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
