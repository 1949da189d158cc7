#!/usr/bin/env node
// llama-bench's measurements, taken with llama.cpp from node-llama-cpp's prebuilt CPU binaries, on
// one GGUF file. The peer of `mla bench --model F.gguf --json`, with the same JSON schema.
//
//   node bench/peer/llama_bench.mjs --model F.gguf [-p 512,4096] [-n 64] [-d 0,4096] [-r 3] [-t 2]
//        [-b 2048] [-ub 512] [--fa 0,1] [--seed 1234] [--json OUT]
//
// Same meaning as llama-bench: pp<P> prefills P random tokens into a cache already holding `depth`
// tokens; tg<N> decodes N tokens one at a time after `depth` tokens. Per test llama-bench's order:
// a fresh context of depth + tokens cells, one untimed warm-up (a P-token prefill or a 1-token
// decode, at depth 0), then per repetition: clear the cache, fill `depth` tokens untimed, time the
// test. tokens/s per repetition, then mean and sample standard deviation over the repetitions.
// Each test runs with flash attention off and on (--fa); the faster mean is reported, and which.
//
// Every decode goes straight to the addon's llama_decode wrapper (context._ctx: initBatch,
// addToBatch, decodeBatch), as llama-bench calls llama_decode: the public sequence API adds a batch
// scheduler, locks and sampling to every call, and chooses itself which tokens produce logits.
// _ctx is internal to node-llama-cpp, which is why package.json pins the exact version.
//
// Threads: node-llama-cpp attaches no ggml threadpool to its contexts (llama-bench does), so with
// -t > 1 every llama_decode starts and joins t-1 fresh threads whose barriers spin-wait; on a small
// VM (2 vCPUs) a fresh thread often does not run alongside its peer and a decode step loses
// scheduler ticks. Decode at -t 2 then reads far below llama.cpp's real speed, so with -t > 1 each
// decode test also runs on 1 thread, and llama.cpp's faster setting counts (as flash attention's).
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import fs from "node:fs";

function parseArgs(argv) {
  const a = { model: null, p: [512, 4096], n: [64], d: [0, 4096], r: 3, t: 2, b: 2048, ub: 512,
              fa: [false, true], seed: 1234, json: null };
  const list = (s) => s.split(",").filter((x) => x !== "").map((x) => {
    const v = Number(x);
    if (!Number.isInteger(v) || v < 0) throw new Error(`not a count: ${x}`);
    return v;
  });
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i], v = argv[i + 1];
    if (v === undefined && k !== "-h" && k !== "--help") throw new Error(`${k} needs a value`);
    switch (k) {
      case "-m": case "--model": a.model = v; break;
      case "-p": case "--n-prompt": a.p = list(v); break;
      case "-n": case "--n-gen": a.n = list(v); break;
      case "-d": case "--n-depth": a.d = list(v); break;
      case "-r": case "--repetitions": a.r = list(v)[0]; break;
      case "-t": case "--threads": a.t = list(v)[0]; break;
      case "-b": case "--batch-size": a.b = list(v)[0]; break;
      case "-ub": case "--ubatch-size": a.ub = list(v)[0]; break;
      case "--fa": case "-fa": a.fa = list(v).map(Boolean); break;
      case "--seed": a.seed = list(v)[0]; break;
      case "--json": case "-o": a.json = v; break;
      case "-h": case "--help":
        console.log(fs.readFileSync(new URL(import.meta.url), "utf8").split("\n").slice(1, 13)
          .map((l) => l.replace(/^\/\/ ?/, "")).join("\n"));
        process.exit(0);
      default: throw new Error(`unknown argument ${k}`);
    }
    i++;
  }
  if (!a.model) throw new Error("--model F.gguf is required");
  if (a.r < 1 || a.t < 1 || a.b < 1 || a.ub < 1) throw new Error("-r, -t, -b, -ub must be >= 1");
  a.p = a.p.filter((x) => x > 0);   // llama-bench skips pp0 / tg0 too
  a.n = a.n.filter((x) => x > 0);
  return a;
}

// mulberry32: a fixed seed gives the same token ids on every run and machine.
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
const sd = (xs) => {   // sample standard deviation, as llama-bench's stdev
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
};

async function main() {
  const a = parseArgs(process.argv.slice(2));

  // llama.cpp's info log says whether a context really got flash attention; keep its lines and
  // show warnings and errors.
  const log = [];
  const llama = await getLlama({
    gpu: false,            // CPU only: the prebuilt linux-x64 binaries
    build: "never",        // never compile llama.cpp; fail if the prebuilt binary does not load
    skipDownload: true,    // never fetch llama.cpp sources
    usePrebuiltBinaries: true,
    progressLogs: false,
    maxThreads: 0,         // no cap: the context's `threads` is then the exact count used
    logLevel: LlamaLogLevel.info,
    logger: (level, msg) => {
      log.push(msg);
      if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal || level === LlamaLogLevel.warn)
        process.stderr.write(`llama.cpp ${level}: ${msg}${msg.endsWith("\n") ? "" : "\n"}`);
    },
  });
  const model = await llama.loadModel({ modelPath: a.model, gpuLayers: 0, useMmap: true });

  // Random ids from [0, n_vocab) that are not control / special tokens (their id does not change
  // the work, but a real prompt does not contain them).
  const vocab = [];
  for (const tok of model.iterateAllTokens()) if (!model.isSpecialToken(tok)) vocab.push(tok);
  if (vocab.length === 0) throw new Error("the model has no non-special tokens");
  const rand = rng(a.seed);
  const randomTokens = (k) => Array.from({ length: k }, () => vocab[Math.floor(rand() * vocab.length)]);

  const cpu = llama.systemInfo.replace(/\s+/g, " ").trim();
  console.log(`llama.cpp ${llama.llamaCppRelease.release} (node-llama-cpp ${llama.buildType}, ` +
              `gpu ${llama.gpu}) | ${a.t} threads | model ${a.model} (${model.typeDescription})`);
  console.log(`system: ${cpu}`);

  // One llama_decode over `tokens` at positions pos.., logits only where `logitsAt` says, then
  // llama_synchronize (the addon's worker does both).
  async function decode(ctx, tokens, pos, logitsAt) {
    ctx.initBatch(tokens.length);
    ctx.addToBatch(0, pos, Uint32Array.from(tokens), Uint32Array.from(logitsAt));
    await ctx.decodeBatch();
  }
  // llama-bench's test_prompt: n_batch-token llama_decode calls (llama.cpp splits each into
  // n_ubatch ubatches) with logits for the last token of each call. The addon's n_batch equals its
  // n_ubatch, so the ubatches are sent as separate calls and the last token of each n_batch window
  // asks for logits: the same ubatches and the same outputs.
  async function prompt(ctx, n, pos, ub) {
    const tokens = randomTokens(n);
    for (let i = 0; i < n; i += ub) {
      const chunk = tokens.slice(i, i + ub);
      const logitsAt = [];
      chunk.forEach((_, j) => {
        const g = i + j;
        if (g === n - 1 || (g + 1) % a.b === 0) logitsAt.push(j);
      });
      await decode(ctx, chunk, pos + i, logitsAt);
    }
  }
  // llama-bench's test_gen: one token per llama_decode, with its logits.
  async function gen(ctx, n, pos) {
    const tokens = randomTokens(n);
    for (let i = 0; i < n; i++) await decode(ctx, [tokens[i]], pos + i, [0]);
  }

  async function runTest(kind, tokens, depth, fa, threads) {
    const contextSize = depth + tokens;   // llama-bench's n_ctx; llama.cpp pads it to 256
    const logStart = log.length;
    const context = await model.createContext({
      contextSize, batchSize: a.ub, threads, flashAttention: fa, sequences: 1,
      failedCreationRemedy: false,
    });
    try {
      const ctx = context._ctx;
      for (const f of ["initBatch", "addToBatch", "decodeBatch", "disposeSequence", "setThreads"])
        if (typeof ctx?.[f] !== "function")
          throw new Error(`node-llama-cpp internals changed (context._ctx.${f}); use the pinned version`);
      ctx.setThreads(threads);
      // llama.cpp clamps n_ubatch to the padded context; the addon's batch check uses the
      // unclamped value, so keep the chunks within both.
      const ub = Math.min(a.ub, context.contextSize);
      if (kind === "prefill") await prompt(ctx, tokens, 0, ub);   // warm-up, untimed
      else await gen(ctx, 1, 0);
      const seconds = [];
      for (let rep = 0; rep < a.r; rep++) {
        ctx.disposeSequence(0);                                    // llama_memory_seq_rm(0, -1, -1)
        if (depth > 0) await prompt(ctx, depth, 0, ub);            // depth fill, untimed
        const t0 = process.hrtime.bigint();
        if (kind === "prefill") await prompt(ctx, tokens, depth, ub);
        else await gen(ctx, tokens, depth);
        seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
      }
      const tps = seconds.map((s) => tokens / s);
      // What llama.cpp says it did with flash attention for this context (or null if it is silent).
      const faLine = log.slice(logStart).find((l) => /flash_attn\s*=/.test(l));
      return { tps_mean: mean(tps), tps_sd: sd(tps), seconds, fa_log: faLine?.trim() ?? null,
               n_ctx: context.contextSize };
    } finally {
      await context.dispose();
    }
  }

  const tests = [...a.p.map((p) => ["prefill", `pp${p}`, p]), ...a.n.map((n) => ["decode", `tg${n}`, n])];
  const results = [];
  const rows = [];
  for (const [kind, name, tokens] of tests) {
    for (const depth of a.d) {
      const tries = [];
      const threadCounts = kind === "decode" && a.t > 1 ? [a.t, 1] : [a.t];
      for (const threads of threadCounts)
        for (const fa of a.fa) {
          const setting = `fa ${fa ? "on" : "off"}, t ${threads}`;
          try {
            const r = await runTest(kind, tokens, depth, fa, threads);
            tries.push({ fa, threads, ...r });
            rows.push([name, depth, setting, r.n_ctx, `${r.tps_mean.toFixed(2)} ± ${r.tps_sd.toFixed(2)}`, r.fa_log ?? ""]);
          } catch (e) {
            const msg = String(e?.message ?? e).split("\n")[0];
            process.stderr.write(`llama_bench: ${name} d${depth} ${setting} failed: ${msg}\n`);
            rows.push([name, depth, setting, "-", "FAILED", msg]);
          }
        }
      if (tries.length === 0) continue;
      const best = tries.reduce((x, y) => (y.tps_mean > x.tps_mean ? y : x));
      results.push({ test: name, kind, tokens, depth, reps: a.r, tps_mean: best.tps_mean,
                     tps_sd: best.tps_sd, seconds: best.seconds, flash_attn: best.fa, threads: best.threads });
    }
  }

  const head = ["test", "depth", "setting", "n_ctx", "t/s", "llama.cpp says"];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => (i === 0 || i === 5 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join("  ");
  console.log("\n" + line(head) + "\n" + w.map((x) => "-".repeat(x)).join("  "));
  for (const r of rows) console.log(line(r).trimEnd());
  console.log("\nbest setting:");
  for (const r of results)
    console.log(`  ${(r.test + " @ d" + r.depth).padEnd(16)} ${r.tps_mean.toFixed(2).padStart(10)} ± ` +
                `${r.tps_sd.toFixed(2).padEnd(8)} t/s  (fa ${r.flash_attn ? "on" : "off"}, t ${r.threads})`);

  const out = { engine: "llama.cpp", model: a.model, threads: a.t, results };
  if (a.json) fs.writeFileSync(a.json, JSON.stringify(out, null, 1) + "\n");
  await model.dispose();
  await llama.dispose();
  // Every test must have produced a result for the comparison to be complete.
  if (results.length !== tests.length * a.d.length) process.exitCode = 1;
}

main().catch((e) => {
  process.stderr.write(`llama_bench: ${e?.stack ?? e}\n`);
  process.exit(1);
});
