#!/usr/bin/env bash
# Chat templates vs Hugging Face: renders the real DeepSeek-V3 and DeepSeek-R1 chat templates with
# @huggingface/jinja (tests/js/render_chat.js) for every conversation in tests/chat/conversations.json,
# then runs the C++ test ChatTemplateHf.MatchesHuggingFaceJinja, which renders the same
# conversations with mla::ChatTemplate and compares byte for byte.
# Env (set by CTest): MLA_BIN (the mla binary; mla_tests sits beside it), MLA_SOURCE_DIR, MLA_WORK.
set -euo pipefail
: "${MLA_BIN:?MLA_BIN not set}" "${MLA_SOURCE_DIR:?MLA_SOURCE_DIR not set}" "${MLA_WORK:?MLA_WORK not set}"
mkdir -p "$MLA_WORK"

command -v node >/dev/null || { echo "chat_template_hf: node not found" >&2; exit 1; }
[ -d "$MLA_SOURCE_DIR/tests/js/node_modules/@huggingface/jinja" ] ||
  { echo "chat_template_hf: @huggingface/jinja missing under tests/js/node_modules" >&2; exit 1; }
tests_bin="$(dirname "$MLA_BIN")/mla_tests"
[ -x "$tests_bin" ] || { echo "chat_template_hf: $tests_bin not built" >&2; exit 1; }

expected="$MLA_WORK/chat_expected.json"
rm -f "$expected"
node "$MLA_SOURCE_DIR/tests/js/render_chat.js" "$MLA_SOURCE_DIR" "$expected"

log="$MLA_WORK/chat_template_hf.log"
MLA_CHAT_EXPECTED="$expected" "$tests_bin" --gtest_filter='ChatTemplateHf.MatchesHuggingFaceJinja' \
  --gtest_color=no 2>&1 | tee "$log"
# gtest exits 0 when a filter matches nothing or the test skips: insist that it ran and passed.
grep -q '^\[       OK \] ChatTemplateHf.MatchesHuggingFaceJinja' "$log" ||
  { echo "chat_template_hf: ChatTemplateHf.MatchesHuggingFaceJinja did not run and pass" >&2; exit 1; }
echo "chat_template_hf: OK"
