// Drives `mla serve` with the official `openai` npm client: chat and completions, streaming and
// not, usage, n > 1, seeds, logprobs, stop strings, errors. Greedy streaming must give exactly the
// non-streaming text. Usage: node openai_client.js BASE_URL API_KEY MODEL
'use strict';
const OpenAI = require('openai');
const assert = require('assert/strict');

const [base, apiKey, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey, maxRetries: 0 });
const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say something about latent attention.' }];

async function collect(stream, kind) {
  const texts = [], finish = [];
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      texts[c.index] = (texts[c.index] ?? '') + (kind === 'chat' ? c.delta.content ?? '' : c.text);
      if (c.finish_reason) finish[c.index] = c.finish_reason;
    }
  }
  return { texts, finish, usage };
}

async function expectStatus(promise, status) {
  await assert.rejects(promise, (e) => e instanceof OpenAI.APIError && e.status === status && typeof e.message === 'string');
}

async function main() {
  const models = await client.models.list();
  assert.ok(models.data.some((m) => m.id === model), 'the served model is listed');

  // Chat: non-streaming, then streaming with usage, greedy: the same text.
  const chat = await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0 });
  assert.equal(chat.object, 'chat.completion');
  assert.equal(chat.choices.length, 1);
  assert.equal(chat.choices[0].message.role, 'assistant');
  assert.ok(['stop', 'length'].includes(chat.choices[0].finish_reason));
  assert.ok(chat.usage.prompt_tokens > 0 && chat.usage.completion_tokens > 0);
  assert.equal(chat.usage.total_tokens, chat.usage.prompt_tokens + chat.usage.completion_tokens);
  const chatStream = await collect(await client.chat.completions.create(
    { model, messages, max_completion_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true } }), 'chat');
  assert.equal(chatStream.texts[0], chat.choices[0].message.content, 'chat: stream == non-stream');
  assert.equal(chatStream.finish[0], chat.choices[0].finish_reason);
  // The second request repeats the prompt: its full cache blocks come from the prefix cache.
  const { prompt_tokens_details: firstDetails, ...firstUsage } = chat.usage;
  const { prompt_tokens_details: againDetails, ...againUsage } = chatStream.usage;
  assert.deepEqual(againUsage, firstUsage, 'chat: usage in the stream');
  assert.equal(firstDetails.cached_tokens, 0, 'chat: nothing cached before the first request');
  assert.ok(againDetails.cached_tokens > 0 && againDetails.cached_tokens < chat.usage.prompt_tokens,
    'chat: the repeated prompt is served from the prefix cache');

  // Completions: the same.
  const prompt = 'The cache holds only the latent';
  const comp = await client.completions.create({ model, prompt, max_tokens: 16, temperature: 0, ignore_eos: true });
  assert.equal(comp.object, 'text_completion');
  assert.equal(comp.choices[0].finish_reason, 'length');
  assert.equal(comp.usage.completion_tokens, 16);
  const compStream = await collect(await client.completions.create(
    { model, prompt, max_tokens: 16, temperature: 0, ignore_eos: true, stream: true }), 'completions');
  assert.equal(compStream.texts[0], comp.choices[0].text, 'completions: stream == non-stream');
  assert.equal(compStream.usage, null, 'no usage chunk unless include_usage');

  // n > 1 with sampling: choices 0..n-1, reproducible with the seed, streaming or not.
  const sampled = { model, prompt, max_tokens: 10, temperature: 1.0, top_p: 0.9, top_k: 50, min_p: 0.01,
    presence_penalty: 0.5, frequency_penalty: 0.5, repetition_penalty: 1.1, seed: 7, n: 3, ignore_eos: true };
  const a = await client.completions.create(sampled);
  const b = await client.completions.create(sampled);
  assert.deepEqual(a.choices.map((c) => c.index), [0, 1, 2]);
  assert.deepEqual(a.choices.map((c) => c.text), b.choices.map((c) => c.text), 'same seed, same text');
  assert.equal(a.usage.completion_tokens, 30);
  const s = await collect(await client.completions.create({ ...sampled, stream: true }), 'completions');
  assert.deepEqual(s.texts, a.choices.map((c) => c.text), 'n: stream == non-stream');
  const other = await client.completions.create({ ...sampled, seed: 8 });
  assert.notDeepEqual(other.choices.map((c) => c.text), a.choices.map((c) => c.text), 'another seed, other text');

  // Log-probabilities: one entry per token, top_logprobs sorted, the chosen one among or below them.
  const lp = await client.chat.completions.create(
    { model, messages, max_tokens: 8, temperature: 0, logprobs: true, top_logprobs: 3, ignore_eos: true });
  const content = lp.choices[0].logprobs.content;
  assert.equal(content.length, 8);
  for (const t of content) {
    assert.equal(t.top_logprobs.length, 3);
    assert.ok(t.logprob <= 0 && t.top_logprobs[0].logprob >= t.top_logprobs[2].logprob);
    assert.equal(t.logprob, t.top_logprobs[0].logprob, 'greedy picks the most likely token');
    assert.ok(Array.isArray(t.bytes));
  }
  const clp = await client.completions.create({ model, prompt, max_tokens: 5, temperature: 0, logprobs: 2, ignore_eos: true });
  assert.equal(clp.choices[0].logprobs.tokens.length, 5);
  assert.equal(clp.choices[0].logprobs.top_logprobs.length, 5);

  // Stop strings: the text ends before the stop string.
  const full = comp.choices[0].text;
  const stop = full.slice(Math.floor(full.length / 2), Math.floor(full.length / 2) + 2);
  if (stop.length === 2 && !/\uFFFD/.test(stop)) {
    const stopped = await client.completions.create({ model, prompt, max_tokens: 16, temperature: 0, stop: [stop], ignore_eos: true });
    assert.equal(stopped.choices[0].finish_reason, 'stop');
    assert.equal(stopped.choices[0].text, full.slice(0, full.indexOf(stop)));
  }

  // Errors come back as the client's error classes.
  await expectStatus(client.completions.create({ model: 'no-such-model', prompt, max_tokens: 2 }), 404);
  await expectStatus(client.completions.create({ model, prompt, max_tokens: 2, temperature: 5 }), 400);
  await expectStatus(new OpenAI({ baseURL: `${base}/v1`, apiKey: 'wrong', maxRetries: 0 }).models.list(), 401);
  console.log('openai client: all checks passed');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
