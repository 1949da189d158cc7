// Compares `mla tokenize` with Hugging Face tokenizers (the Rust library, through its Node bindings)
// on every sample of a corpus and on every assigned Unicode plane, for one tokenizer.json: the ids must
// be identical, and decoding them must give back the text byte for byte.
//
//   node hf_tokenize.js --tokenizer tokenizer.json --corpus corpus.json --mla path/to/mla --work DIR
//
// Exits non-zero, after printing every mismatch, if any sample differs.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { Tokenizer } = require('tokenizers');

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) throw new Error(`bad argument ${argv[i]}`);
    args[argv[i].slice(2)] = argv[i + 1];
  }
  for (const key of ['tokenizer', 'corpus', 'mla', 'work']) {
    if (!args[key]) throw new Error(`missing --${key}`);
  }
  return args;
}

// One sample per Unicode plane that has anything assigned (planes 4-13 have nothing, 16 is private
// use like 15) with every code point of it in order, surrogates left out as UTF-8 cannot carry them:
// every character class of the pre-tokenizer regexes meets Oniguruma's idea of it.
function codePointSamples() {
  const samples = [];
  for (const plane of [0, 1, 2, 3, 14, 15]) {
    const chars = [];
    for (let cp = plane * 0x10000; cp < (plane + 1) * 0x10000; ++cp) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      chars.push(String.fromCodePoint(cp));
    }
    samples.push({ name: `codepoints_plane${plane}`, text: chars.join('') });
  }
  return samples;
}

function firstDifference(a, b) {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) ++i;
  return i;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const tok = Tokenizer.fromFile(args.tokenizer);
  const corpus = JSON.parse(fs.readFileSync(args.corpus, 'utf8'));
  const samples = corpus.concat(codePointSamples());
  fs.mkdirSync(args.work, { recursive: true });

  // One `mla tokenize --jsonl` run for all samples: the tokenizer loads once (loading a 128k-token
  // tokenizer.json costs about a second, several under the sanitizers).
  const input = path.join(args.work, 'samples.jsonl');
  fs.writeFileSync(input, samples.map((s) => JSON.stringify(s.text)).join('\n') + '\n', 'utf8');
  const lines = execFileSync(args.mla, ['tokenize', '--tokenizer', args.tokenizer, '--jsonl', input], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  }).trimEnd().split('\n');
  if (lines.length !== samples.length) throw new Error(`mla printed ${lines.length} lines for ${samples.length} samples`);

  let failures = 0;
  for (const [index, sample] of samples.entries()) {
    const hf = (await tok.encode(sample.text, null, { addSpecialTokens: false })).getIds();
    const mla = JSON.parse(lines[index]);
    const problems = [];
    if (mla.length !== hf.length || firstDifference(mla, hf) !== hf.length) {
      const at = firstDifference(mla, hf);
      const around = (ids) => ids.slice(Math.max(0, at - 3), at + 5)
        .map((id) => `${id}:${JSON.stringify(tok.idToToken(id))}`).join(' ');
      problems.push(`ids differ at position ${at} (mla ${mla.length} ids, hf ${hf.length})`,
                    `  mla: ... ${around(mla)}`, `  hf:  ... ${around(hf)}`);
    }
    const decoded = await tok.decode(mla, false);
    if (decoded !== sample.text) {
      const at = firstDifference(decoded, sample.text);
      problems.push(`decode(ids) differs from the text at UTF-16 index ${at}: ` +
                    `${JSON.stringify(decoded.slice(at, at + 20))} vs ${JSON.stringify(sample.text.slice(at, at + 20))}`);
    }
    if (problems.length > 0) {
      ++failures;
      // The text as a file, to rerun by hand: mla tokenize --tokenizer ... --file FILE --json
      const file = path.join(args.work, `${String(index).padStart(3, '0')}_${sample.name}.txt`);
      fs.writeFileSync(file, sample.text, 'utf8');
      console.log(`FAIL ${sample.name} (${file})`);
      for (const p of problems) console.log(`  ${p}`);
    } else {
      console.log(`ok   ${sample.name}: ${hf.length} ids`);
    }
  }
  console.log(`${samples.length - failures}/${samples.length} samples identical to Hugging Face tokenizers`);
  process.exit(failures === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(`hf_tokenize.js: ${e.stack || e}`);
  process.exit(1);
});
