// Load benchmark for a running `mla serve` (any OpenAI-compatible server): at each concurrency
// level, C clients each stream R greedy completions back to back (prompt of P token ids, exactly
// M generated tokens: ignore_eos), and the run reports time to first token (TTFT), time per output
// token after the first (TPOT), inter-token latency between streamed chunks (ITL) as p50 / p99, and
// output throughput (generated tokens / wall time of the level). Needs only Node >= 18 (fetch).
//
//   node tools/serve_bench.js --url http://127.0.0.1:8080 --model NAME [--levels 1,4,16,64]
//        [--prompt-tokens 64] [--max-tokens 64] [--requests-per-client 2] [--api-key KEY] [--json OUT]
'use strict';
const fs = require('fs');

function parseArgs(argv) {
  const a = { levels: '1,4,16,64', 'prompt-tokens': '64', 'max-tokens': '64', 'requests-per-client': '2' };
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) throw new Error(`bad argument ${argv[i]}`);
    a[argv[i].slice(2)] = argv[i + 1];
  }
  if (!a.url || !a.model) throw new Error('give --url and --model');
  return a;
}

function percentile(xs, p) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

// One streamed completion: arrival times of its content chunks and the generated token count.
async function one(args, seed) {
  const promptTokens = Number(args['prompt-tokens']);
  const prompt = Array.from({ length: promptTokens }, (_, k) => 50 + ((seed * 7 + k * 13) % 200));
  const body = { model: args.model, prompt, max_tokens: Number(args['max-tokens']), temperature: 0, ignore_eos: true,
    stream: true, stream_options: { include_usage: true } };
  const headers = { 'content-type': 'application/json' };
  if (args['api-key']) headers.authorization = `Bearer ${args['api-key']}`;
  const t0 = performance.now();
  const res = await fetch(`${args.url}/v1/completions`, { method: 'POST', headers, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const decoder = new TextDecoder();
  const arrivals = [];
  let buf = '', tokens = 0, done = false;
  for await (const bytes of res.body) {
    buf += decoder.decode(bytes, { stream: true });
    let end;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const line = buf.slice(0, end);
      buf = buf.slice(end + 2);
      if (!line.startsWith('data: ')) continue;
      if (line === 'data: [DONE]') { done = true; continue; }
      const chunk = JSON.parse(line.slice(6));
      if (chunk.error) throw new Error(chunk.error.message);
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
      if (chunk.choices.length && chunk.choices[0].text) arrivals.push(performance.now());
    }
  }
  if (!done || !arrivals.length) throw new Error('the stream ended early');
  return { t0, arrivals, tokens, end: performance.now() };
}

async function level(args, c) {
  const perClient = Number(args['requests-per-client']);
  const results = [];
  const start = performance.now();
  await Promise.all(Array.from({ length: c }, async (_, i) => {
    for (let r = 0; r < perClient; ++r) results.push(await one(args, i * perClient + r));
  }));
  const wall = (performance.now() - start) / 1000;
  const ttft = [], tpot = [], itl = [];
  let tokens = 0;
  for (const r of results) {
    ttft.push(r.arrivals[0] - r.t0);
    if (r.tokens > 1) tpot.push((r.arrivals[r.arrivals.length - 1] - r.arrivals[0]) / (r.tokens - 1));
    for (let k = 1; k < r.arrivals.length; ++k) itl.push(r.arrivals[k] - r.arrivals[k - 1]);
    tokens += r.tokens;
  }
  return { concurrency: c, requests: results.length, tokens, wall_s: wall, throughput_tok_s: tokens / wall,
    ttft_ms: { p50: percentile(ttft, 50), p99: percentile(ttft, 99) },
    tpot_ms: { p50: percentile(tpot, 50), p99: percentile(tpot, 99) },
    itl_ms: { p50: percentile(itl, 50), p99: percentile(itl, 99) } };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const rows = [];
  console.log(`model ${args.model}: prompt ${args['prompt-tokens']} tokens, ${args['max-tokens']} generated, ` +
    `${args['requests-per-client']} requests per client`);
  console.log('conc  reqs  TTFT p50/p99 ms    TPOT p50/p99 ms   ITL p50/p99 ms    tok/s');
  const f = (x) => x.toFixed(1).padStart(7);
  for (const c of args.levels.split(',').map(Number)) {
    const r = await level(args, c);
    rows.push(r);
    console.log(`${String(c).padStart(4)}  ${String(r.requests).padStart(4)}  ${f(r.ttft_ms.p50)} ${f(r.ttft_ms.p99)}   ` +
      `${f(r.tpot_ms.p50)} ${f(r.tpot_ms.p99)}  ${f(r.itl_ms.p50)} ${f(r.itl_ms.p99)}  ${f(r.throughput_tok_s)}`);
  }
  if (args.json) fs.writeFileSync(args.json, JSON.stringify({ model: args.model, levels: rows }, null, 2) + '\n');
}

main().catch((e) => {
  console.error(`serve_bench: ${e.message}`);
  process.exit(1);
});
