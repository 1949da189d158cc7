#!/usr/bin/env node
// llama.cpp's greedy continuation of a prompt given as token ids, from node-llama-cpp's prebuilt CPU
// binaries: the peer of `mla generate --tokens ... --temperature 0 --ignore-eos`.
//
//   node bench/peer/greedy.mjs --model F.gguf --tokens 1,2,3 -n 16 [-t 1] [--json OUT]
//
// Each step decodes one token with llama_decode (the addon's batch calls, as llama_bench.mjs does)
// and samples it with a temperature-0 sampler (llama.cpp's greedy: the argmax of the logits), with
// no repetition penalty and no end-of-sequence stop. Prints the ids as a JSON array.
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import fs from "node:fs";

function parseArgs(argv) {
  const a = { model: null, tokens: null, n: 16, t: 1, json: null };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i], v = argv[i + 1];
    if (v === undefined) throw new Error(`${k} needs a value`);
    switch (k) {
      case "-m": case "--model": a.model = v; break;
      case "--tokens": a.tokens = v.split(",").filter((x) => x !== "").map(Number); break;
      case "-n": a.n = Number(v); break;
      case "-t": case "--threads": a.t = Number(v); break;
      case "--json": a.json = v; break;
      default: throw new Error(`unknown argument ${k}`);
    }
  }
  if (!a.model || !a.tokens?.length) throw new Error("--model F.gguf and --tokens ids are required");
  if (!a.tokens.every(Number.isInteger) || !Number.isInteger(a.n) || a.n < 1) throw new Error("bad --tokens or -n");
  return a;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const llama = await getLlama({
    gpu: false, build: "never", skipDownload: true, usePrebuiltBinaries: true, progressLogs: false,
    maxThreads: 0, logLevel: LlamaLogLevel.error,
  });
  const model = await llama.loadModel({ modelPath: a.model, gpuLayers: 0, useMmap: true });
  const context = await model.createContext({
    contextSize: a.tokens.length + a.n, batchSize: Math.max(a.tokens.length, 1), threads: a.t, sequences: 1,
    failedCreationRemedy: false,
  });
  const ctx = context._ctx;
  for (const f of ["initBatch", "addToBatch", "decodeBatch", "sampleToken"])
    if (typeof ctx?.[f] !== "function") throw new Error(`node-llama-cpp internals changed (context._ctx.${f})`);
  const sampler = new llama._bindings.AddonSampler(model._model);
  sampler.applyConfig({ temperature: 0 });
  let logitIndex;
  const decode = async (tokens, pos) => {
    ctx.initBatch(tokens.length);
    [logitIndex] = ctx.addToBatch(0, pos, Uint32Array.from(tokens), Uint32Array.from([tokens.length - 1]));
    await ctx.decodeBatch();
  };
  const argmax = () => ctx.sampleToken(logitIndex, sampler);
  await decode(a.tokens, 0);
  const out = [];
  for (let i = 0; i < a.n; i++) {
    out.push(await argmax());
    if (i + 1 < a.n) await decode([out[i]], a.tokens.length + i);
  }
  const text = JSON.stringify(out);
  console.log(text);
  if (a.json) fs.writeFileSync(a.json, text + "\n");
  sampler.dispose();
  await context.dispose();
  await model.dispose();
}

main().catch((e) => {
  console.error(`greedy.mjs: ${e?.message ?? e}`);
  process.exit(1);
});
