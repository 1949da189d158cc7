// The chat page of `mla serve` in headless chromium (puppeteer-core, no browser download):
//   1. without a stored key the page asks for one; once given, it connects;
//   2. a fresh page loads with no console error and no uncaught exception;
//   3. a message streams the reply (reasoning_content and content) the API gives for the same
//      greedy request, with its prompt / completion token counts; the reasoning block is folded;
//      the second turn finds the first prompt's blocks in the prefix cache (cached tokens > 0);
//   4. stop cancels the request: /metrics counts one more cancellation and disconnect, and the
//      cache holds no block afterwards;
//   5. every number of the cache panel equals GET /cache's, and those /metrics also exports equal
//      its values.
// Usage: node chat_page.js BASE_URL API_KEY MODEL   (env: CHROMIUM, MLA_SCREENSHOT)
'use strict';
const assert = require('assert/strict');
const puppeteer = require('puppeteer-core');

const [base, key, model] = process.argv.slice(2);
const auth = { Authorization: `Bearer ${key}` };
const TIMEOUT = 120000;  // generous: the ASan build's server is several times slower
// With these weights (serve_chat_page.sh's model) the greedy R1 reply to the first question closes
// its reasoning after a few tokens and the second does not, so the page shows both kinds (the test
// itself needs only the equality with the API).
const SYSTEM = 'You are a helpful assistant that explains how language models store their key-value cache.';

async function api(path, body) {
  const res = await fetch(base + path, body === undefined ? { headers: auth }
    : { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 200, `${path}: ${res.status}`);
  return path === '/metrics' ? res.text() : res.json();
}
async function metrics() {
  const out = {};
  for (const line of (await api('/metrics')).split('\n')) {
    const m = /^mla_(\w+) (\S+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, ms = TIMEOUT) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function setField(page, id, value) {
  await page.$eval(`#${id}`, (el, v) => {
    el.value = v;
    el.dispatchEvent(new Event('change'));
  }, value);
}

// Sends `text` through the composer and waits until the newest reply is no longer waiting or
// streaming; returns what the page shows of it.
async function ask(page, text, { stopAfterFirstChunk = false } = {}) {
  const before = await page.$$eval('.msg.assistant', (els) => els.length);
  await page.type('#prompt', text);
  await page.keyboard.press('Enter');
  await page.waitForFunction((n) => document.querySelectorAll('.msg.assistant').length === n + 1,
    { timeout: TIMEOUT }, before);
  if (stopAfterFirstChunk) {
    await page.waitForFunction(() => {
      const r = [...document.querySelectorAll('.msg.assistant')].pop();
      return r.dataset.state !== 'waiting';
    }, { timeout: TIMEOUT });
    await page.click('#stop');
  }
  await page.waitForFunction(() => {
    const r = [...document.querySelectorAll('.msg.assistant')].pop();
    return !['waiting', 'streaming'].includes(r.dataset.state);
  }, { timeout: TIMEOUT });
  return page.evaluate(() => {
    const r = [...document.querySelectorAll('.msg.assistant')].pop();
    const d = r.querySelector('details.reasoning');
    const stats = {};
    for (const s of r.querySelectorAll('[data-stat]')) stats[s.dataset.stat] = s.dataset.v;
    return {
      state: r.dataset.state,
      reasoning: r.querySelector('.reasoning-text').textContent,
      content: r.querySelector('.content').textContent,
      reasoningShown: !d.hidden,
      reasoningOpen: d.open,
      stats,
    };
  });
}

// The non-streaming API's answer to the same request.
async function apiReply(messages, maxTokens) {
  const r = await api('/v1/chat/completions', { model, messages, temperature: 0, max_tokens: maxTokens });
  const m = r.choices[0].message;
  return { reasoning: m.reasoning_content ?? '', content: m.content ?? '', usage: r.usage };
}

function checkReply(shown, want, what) {
  assert.equal(shown.state, 'done', `${what}: state`);
  assert.equal(shown.reasoning, want.reasoning, `${what}: reasoning differs from the API's`);
  assert.equal(shown.content, want.content, `${what}: content differs from the API's`);
  assert.equal(Number(shown.stats.prompt_tokens), want.usage.prompt_tokens, `${what}: prompt tokens`);
  assert.equal(Number(shown.stats.completion_tokens), want.usage.completion_tokens, `${what}: completion tokens`);
  assert.ok(Number(shown.stats.ttft_ms) >= 0, `${what}: time to first token`);
  if (shown.reasoning) {  // R1: the reasoning is shown, folded once the reply is done
    assert.ok(shown.reasoningShown && !shown.reasoningOpen, `${what}: the reasoning block is not folded`);
  }
}

async function main() {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-extensions'],
    defaultViewport: { width: 1280, height: 860 },
  });
  try {
    // 1. No key stored: the page asks for one (its first calls answer 401, logged by the browser).
    const first = await browser.newPage();
    await first.goto(base + '/', { waitUntil: 'load' });
    await first.waitForSelector('#key-form:not([hidden])', { timeout: TIMEOUT });
    assert.equal(await first.$eval('#status', (e) => e.dataset.state), 'key');
    await first.type('#key-input', key);
    await first.click('#key-form button');
    await first.waitForSelector('#status[data-state="ready"]', { timeout: TIMEOUT });
    await first.close();

    // 2. A fresh page with the key stored: not one console error.
    const page = await browser.newPage();
    const problems = [];
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
    await page.goto(base + '/', { waitUntil: 'load' });
    await page.waitForSelector('#status[data-state="ready"]', { timeout: TIMEOUT });
    assert.equal(await page.$eval('#model', (e) => e.textContent), model);
    await page.waitForFunction(() => Number(document.querySelector('#cache').dataset.updated) > 0, { timeout: TIMEOUT });

    // 3. Greedy replies equal to the API's, twice (the second turn re-sends the first).
    const N = 24;
    await page.click('#settings summary');
    await setField(page, 'system', SYSTEM);
    await setField(page, 'temperature', '0');
    await setField(page, 'max_tokens', String(N));
    const q1 = 'Why is the cache small?';
    const r1 = await ask(page, q1);
    const messages = [{ role: 'system', content: SYSTEM }, { role: 'user', content: q1 }];
    checkReply(r1, await apiReply(messages, N), 'turn 1');
    assert.ok(r1.reasoning.length > 0, 'the R1 template opens the reasoning: it must show');
    const q2 = 'And how much smaller is it than with multi-head attention?';
    const r2 = await ask(page, q2);
    messages.push({ role: 'assistant', content: r1.content }, { role: 'user', content: q2 });
    const want2 = await apiReply(messages, N);
    checkReply(r2, want2, 'turn 2');
    assert.ok(Number(r2.stats.cached_tokens) >= 16, `turn 2: ${r2.stats.cached_tokens} prompt tokens from the prefix cache`);

    // 4. Stop: a long reply (the rest of the context), cancelled after its first chunk. Greedy
    // replies of this random model may end early at EOS: then try another question.
    await setField(page, 'max_tokens', '');
    let stopped = null;
    for (const q of ['Count slowly from one to one thousand.', 'Recite a very long poem.', 'Write a long essay.']) {
      const m0 = await metrics();
      const r = await ask(page, q, { stopAfterFirstChunk: true });
      if (r.state === 'done') continue;  // finished before the click
      assert.equal(r.state, 'stopped');
      assert.equal(r.stats.finish_reason, 'stopped');
      const m1 = await until('the cancellation in /metrics', async () => {
        const m = await metrics();
        return m.requests_cancelled_total === m0.requests_cancelled_total + 1 && m.running_sequences === 0 &&
          m.kv_blocks_used === 0 ? m : null;
      }, 30000);
      assert.equal(m1.http_disconnects_total, m0.http_disconnects_total + 1, 'the stop is a disconnect');
      stopped = r;
      break;
    }
    assert.ok(stopped, 'every long reply finished before stop was clicked');

    // 5. The panel after two more refreshes of an idle server against GET /cache and /metrics.
    const n0 = Number(await page.$eval('#cache', (e) => e.dataset.updated));
    await page.waitForFunction((n) => Number(document.querySelector('#cache').dataset.updated) >= n + 2,
      { timeout: TIMEOUT }, n0);
    const shown = await page.$$eval('#cache [data-k]', (els) => els.map((e) => [e.dataset.k, e.dataset.v]));
    const cache = await api('/cache');
    const lookup = (o, p) => p.split('.').reduce((x, k) => (x == null ? x : x[k]), o);
    assert.ok(shown.length >= 20, `only ${shown.length} numbers on the panel`);
    for (const [k, v] of shown) {
      const want = lookup(cache, k);
      assert.equal(v, want === null || want === undefined ? 'null' : String(want), `panel ${k}`);
    }
    const m = await metrics();
    const same = {
      'blocks.total': 'kv_blocks_total', 'blocks.used': 'kv_blocks_used', 'blocks.free': 'kv_blocks_free',
      'blocks.cached': 'kv_blocks_cached', 'blocks.shared': 'kv_blocks_shared', 'bytes.total': 'kv_bytes_total',
      'bytes.used': 'kv_bytes_used', block_tokens: 'kv_block_tokens', kv_bytes_per_token: 'kv_bytes_per_token',
      mha_kv_bytes_per_token: 'kv_mha_bytes_per_token', 'sequences.running': 'running_sequences',
      'sequences.queued': 'queue_depth', 'counters.prefix_cache_hit_tokens': 'prefix_cache_hit_tokens_total',
      'counters.preemptions': 'preemptions_total', 'counters.requests_cancelled': 'requests_cancelled_total',
    };
    const panel = Object.fromEntries(shown);
    for (const [k, metric] of Object.entries(same)) assert.equal(Number(panel[k]), m[metric], `panel ${k} vs mla_${metric}`);
    assert.equal(panel.kv_type, 'bf16');
    assert.equal(panel.attention, 'MLA');
    assert.ok(Number(panel.reduction) > 1, 'MLA caches less than its MHA equivalent');
    const plotted = cache.history.kv_bytes_used.filter((v) => v !== null);
    assert.equal(cache.history.kv_bytes_used.length, cache.history.seconds);
    assert.ok(plotted.length >= 2 && Math.max(...plotted) > 0, 'the plot shows the replies\' cache');
    assert.ok(Number(panel['blocks.cached']) > 0, 'finished replies leave their prefix blocks cached');

    if (process.env.MLA_SCREENSHOT) {
      await page.$eval('#settings', (d) => { d.open = false; });
      await page.evaluate(() => { document.querySelector('#messages').scrollTop = 0; });
      await page.screenshot({ path: process.env.MLA_SCREENSHOT });
    }
    assert.deepEqual(problems, [], 'the page logged errors');
    console.log(`chat_page: replies equal to the API's (${r1.stats.completion_tokens} + ${r2.stats.completion_tokens} ` +
                `tokens; reasoning ${r1.reasoning.length} + ${r2.reasoning.length} characters, answer ` +
                `${r1.content.length} + ${r2.content.length}; ${r2.stats.cached_tokens} prompt tokens cached), stop ` +
                `cancels, ${shown.length} panel numbers equal /cache`);
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
