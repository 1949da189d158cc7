// An oversized request body must come back as a readable 413 with OpenAI's error JSON, even though
// the client is still sending when the server refuses it (issue 14: a 20 MB body used to end in a
// connection reset, "fetch failed"). Three clients post 20 MB each, several times: Node's built-in
// fetch with a Content-Length body, fetch with a streamed (chunked) body, and the official `openai`
// client; then a normal request must still succeed.
// Usage: node body_limit.js BASE_URL MODEL
'use strict';
const OpenAI = require('openai');
const assert = require('assert/strict');

const [base, model] = process.argv.slice(2);
const BIG = 20 * 1000 * 1000;
const ROUNDS = 3;

function checkError(err, where) {
  assert.ok(err && typeof err === 'object', `${where}: no error object`);
  assert.equal(typeof err.message, 'string', `${where}: error.message`);
  assert.equal(err.type, 'invalid_request_error', `${where}: error.type`);
  assert.equal(err.code, 'body_too_large', `${where}: error.code`);
  assert.ok('param' in err, `${where}: error.param`);
}

async function fetchJson(body, extra, where) {
  let res;
  try {
    res = await fetch(`${base}/v1/chat/completions`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body, ...extra });
  } catch (e) {
    throw new Error(`${where}: ${e.message} (${e.cause ? e.cause.code || e.cause.message : 'no cause'})`);
  }
  assert.equal(res.status, 413, `${where}: status`);
  const text = await res.text();
  let parsed;
  try { parsed = JSON.parse(text); } catch { assert.fail(`${where}: body is not JSON: ${text.slice(0, 200)}`); }
  checkError(parsed.error, where);
}

function bigMessages() {
  return [{ role: 'user', content: 'x'.repeat(BIG) }];
}

// A 20 MB body sent as a stream: fetch sends it with Transfer-Encoding: chunked.
function chunkedBody() {
  const piece = new TextEncoder().encode('y'.repeat(64 * 1024));
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= BIG) { controller.close(); return; }
      controller.enqueue(piece);
      sent += piece.length;
    },
  });
}

async function main() {
  const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
  for (let round = 0; round < ROUNDS; ++round) {
    await fetchJson(JSON.stringify({ model, messages: bigMessages() }), {}, `fetch (Content-Length), round ${round}`);
    await fetchJson(chunkedBody(), { duplex: 'half' }, `fetch (chunked), round ${round}`);
    const where = `openai client, round ${round}`;
    let caught = null;
    try {
      await client.chat.completions.create({ model, messages: bigMessages(), max_tokens: 1 });
    } catch (e) {
      caught = e;
    }
    assert.ok(caught, `${where}: the request did not fail`);
    assert.ok(caught instanceof OpenAI.APIError, `${where}: ${caught}`);
    assert.equal(caught.status, 413, `${where}: status ${caught.status} (${caught.message})`);
    checkError(caught.error, where);
  }
  // The server keeps serving.
  const ok = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
  assert.equal(ok.object, 'chat.completion');
  console.log(`body_limit: ${ROUNDS * 3} oversized requests answered 413 with the JSON error; the server still serves`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
