#!/usr/bin/env node
// Joins `mla bench --model --json` and llama_bench.mjs --json results per (test, depth):
//   node bench/peer/compare.mjs MLA.json LLAMA.json [--md OUT.md]
// Prints a table (mla t/s, llama.cpp t/s with its flash-attention choice, mla / llama.cpp) and, with
// --md, writes the same table as markdown. Both files use one schema:
//   {engine, model, threads, results: [{test, kind, tokens, depth, reps, tps_mean, tps_sd, seconds, flash_attn?,
//    threads?}]}
import fs from "node:fs";
import path from "node:path";

const args = process.argv.slice(2);
let md = null;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--md") md = args[++i];
  else files.push(args[i]);
}
if (files.length !== 2 || (md !== null && !md)) {
  console.error("usage: compare.mjs MLA.json LLAMA.json [--md OUT.md]");
  process.exit(2);
}
const load = (f) => {
  const j = JSON.parse(fs.readFileSync(f, "utf8"));
  if (!Array.isArray(j.results)) throw new Error(`${f}: no "results" array`);
  return j;
};
const [mla, peer] = files.map(load);

// Union of (test, depth) in the order mla lists them, then any the peer has on its own; prefill
// before decode and by size, as both benches run them.
const key = (r) => `${r.test}@${r.depth}`;
const byKey = (j) => new Map(j.results.map((r) => [key(r), r]));
const m = byKey(mla), p = byKey(peer);
const keys = [...new Set([...m.keys(), ...p.keys()])];
const info = (k) => m.get(k) ?? p.get(k);
keys.sort((a, b) => {
  const x = info(a), y = info(b);
  return (x.kind === y.kind ? 0 : x.kind === "prefill" ? -1 : 1) || x.tokens - y.tokens || x.depth - y.depth;
});

const tps = (r) => (r ? `${r.tps_mean.toFixed(1)} ± ${r.tps_sd.toFixed(1)}` : "-");
const rows = keys.map((k) => {
  const a = m.get(k), b = p.get(k), r = info(k);
  return [r.test, String(r.depth), tps(a), tps(b),
          b && typeof b.flash_attn === "boolean" ? `fa ${b.flash_attn ? "on" : "off"}, t ${b.threads ?? peer.threads}` : "-",
          a && b ? `${(a.tps_mean / b.tps_mean).toFixed(2)}x` : "-"];
});
const head = ["test", "depth", "mla t/s", "llama.cpp t/s", "llama.cpp setting", "mla / llama.cpp"];

const notes = [];
if (mla.threads !== peer.threads) notes.push(`threads differ: mla ${mla.threads}, llama.cpp ${peer.threads}`);
if (path.resolve(String(mla.model)) !== path.resolve(String(peer.model)))
  notes.push(`models differ: mla ${mla.model}, llama.cpp ${peer.model}`);
const title = `model ${path.basename(String(mla.model))} | ${mla.threads} threads | tokens/s, mean ± sd of ` +
  `${[...new Set([...m.values(), ...p.values()].map((r) => r.reps))].join("/")} runs; llama.cpp: its fastest ` +
  `setting of flash attention off / on (and, for decode, 1 thread: bench/peer/llama_bench.mjs)`;

const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join("  ");
console.log(title);
for (const n of notes) console.log(`warning: ${n}`);
console.log(line(head));
console.log(w.map((x) => "-".repeat(x)).join("  "));
for (const r of rows) console.log(line(r));

if (md) {
  const mdRow = (r) => `| ${r.join(" | ")} |`;
  const text = [title, "", ...notes.map((n) => `warning: ${n}`), ...(notes.length ? [""] : []),
                mdRow(head), `|${head.map((_, i) => (i === 0 ? " --- " : " ---: ")).join("|")}|`,
                ...rows.map(mdRow), ""].join("\n");
  fs.writeFileSync(md, text);
  console.log(`markdown: ${md}`);
}
