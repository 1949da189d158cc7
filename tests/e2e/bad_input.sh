#!/usr/bin/env bash
# End-to-end: bad inputs at the command line. Each case breaks one thing in a copy of a valid tiny
# checkpoint (or in the arguments) and runs `mla eval` (or `mla generate` for prompt cases). The
# command must exit with status 1 (not a signal, not an abort) and print exactly one line on stderr,
# starting "mla: error:" and naming the file, tensor or argument at fault. Under ASan/UBSan any
# report would add lines to stderr and fail the case.
#
# Environment: MLA_BIN (the mla binary), MLA_SOURCE_DIR (source tree), MLA_WORK (scratch dir).
# Optional: PYTHON (default /usr/bin/python3), MLA_BAD_CASES (space-separated case names to run).
set -u

: "${MLA_BIN:?MLA_BIN must point at the mla binary}"
MLA_SOURCE_DIR=${MLA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
MLA_WORK=${MLA_WORK:-${TMPDIR:-/tmp}/mla-e2e}
PYTHON=${PYTHON:-/usr/bin/python3}
[ -x "$PYTHON" ] || PYTHON=python3
CORRUPT="$MLA_SOURCE_DIR/tests/e2e/corrupt.py"
W="$MLA_WORK/bad_input"
rm -rf "$W"
mkdir -p "$W"

if [ ! -x "$MLA_BIN" ]; then
  echo "MLA_BIN=$MLA_BIN is not an executable" >&2
  exit 1
fi

BASE="$W/base"
if ! "$PYTHON" "$MLA_SOURCE_DIR/tools/gen_checkpoint.py" --variant v2-lite --dtype bf16 --out "$BASE" \
    > "$W/gen.log" 2>&1; then
  echo "gen_checkpoint.py failed:" >&2
  cat "$W/gen.log" >&2
  exit 1
fi
ST="model.safetensors"
# A 2-D tensor every DeepSeek-V2 checkpoint has, with rows != cols: [kv_lora_rank + qk_rope_head_dim, hidden].
KVA="model.layers.0.self_attn.kv_a_proj_with_mqa.weight"

pass=0
failed=()

# run_case NAME PATTERN CMD...: CMD must exit 1 with one stderr line "mla: error: ..." matching the
# extended regex PATTERN (case-insensitive). NAME "ok" cases expect success instead.
run_case() {
  local name=$1 pattern=$2
  shift 2
  if [ -n "${MLA_BAD_CASES:-}" ] && [[ " $MLA_BAD_CASES " != *" $name "* ]]; then return; fi
  local err="$W/$name.stderr" out="$W/$name.stdout"
  "$@" > "$out" 2> "$err" < /dev/null
  local rc=$?
  local lines
  lines=$(wc -l < "$err")
  local why=""
  if [ "$pattern" = "SUCCESS" ]; then
    [ $rc -eq 0 ] || why="exit status $rc, expected 0"
  elif [ $rc -ne 1 ]; then
    why="exit status $rc, expected 1$( [ $rc -gt 128 ] && echo " (killed by signal $((rc - 128)))")"
  elif [ "$lines" -ne 1 ]; then
    why="$lines lines on stderr, expected exactly 1"
  elif ! head -c 12 "$err" | grep -q '^mla: error: '; then
    why="stderr does not start with 'mla: error: '"
  elif ! grep -Eqi -- "$pattern" "$err"; then
    why="stderr does not match /$pattern/"
  fi
  if [ -z "$why" ]; then
    pass=$((pass + 1))
    printf 'ok    %-22s %s\n' "$name" "$(head -c 300 "$err" | head -n 1)"
  else
    failed+=("$name")
    printf 'FAIL  %-22s %s\n' "$name" "$why"
    printf '      command: %s\n' "$*"
    sed 's/^/      stderr: /' "$err" | head -n 20
  fi
}

# fresh NAME: a private copy of the base checkpoint; prints its path.
fresh() {
  local d="$W/$1"
  rm -rf "$d"
  cp -r "$BASE" "$d"
  echo "$d"
}

corrupt() {
  "$PYTHON" "$CORRUPT" "$@" || { echo "corrupt.py $* failed" >&2; exit 1; }
}

# run_eval NAME PATTERN DIR [TOKENS]: run_case on `mla eval` over model DIR.
run_eval() { run_case "$1" "$2" "$MLA_BIN" eval --model "$3" --tokens "${4:-1,2}" --logits-out /dev/null; }

# The base checkpoint itself must work, or every case below proves nothing.
run_eval base_ok SUCCESS "$BASE"

run_eval missing_dir "nonexistent" "$W/nonexistent"

d=$(fresh missing_config); rm "$d/config.json"
run_eval missing_config "config\.json" "$d"

d=$(fresh malformed_config); printf '{"architectures": ["DeepseekV2ForCausalLM"], "hidden_size": ' > "$d/config.json"
run_eval malformed_config "config\.json" "$d"

d=$(fresh bad_arch); corrupt config "$d/config.json" architectures '["MistralForCausalLM"]'
run_eval bad_arch "config\.json.*MistralForCausalLM" "$d"

# A DeepSeek checkpoint labelled Llama: the config parses, the first Llama tensor does not fit.
d=$(fresh deepseek_as_llama); corrupt config "$d/config.json" architectures '["LlamaForCausalLM"]'
run_eval deepseek_as_llama "self_attn\.q_proj\.weight" "$d"

d=$(fresh bad_config_key); corrupt config "$d/config.json" kv_lora_rank '"abc"'
run_eval bad_config_key "config\.json.*kv_lora_rank" "$d"

d=$(fresh missing_safetensors); rm "$d/$ST"
run_eval missing_safetensors "model\.safetensors" "$d"

d=$(fresh truncated); corrupt truncate "$d/$ST" 100
run_eval truncated "model\.safetensors.*truncated" "$d"

d=$(fresh header_past_end); corrupt header-len "$d/$ST"
run_eval header_past_end "model\.safetensors.*header length" "$d"

d=$(fresh overlap); corrupt overlap "$d/$ST"
run_eval overlap "model\.safetensors.*overlap" "$d"

d=$(fresh gap); corrupt gap "$d/$ST"
run_eval gap "model\.safetensors.*gap" "$d"

d=$(fresh size_mismatch); corrupt size-mismatch "$d/$ST" "$KVA"
run_eval size_mismatch "model\.safetensors.*$KVA.*bytes" "$d"

d=$(fresh unknown_dtype); corrupt dtype "$d/$ST" "$KVA" Q4_0
run_eval unknown_dtype "model\.safetensors.*Q4_0.*$KVA" "$d"

d=$(fresh missing_tensor); corrupt rename "$d/$ST" model.norm.weight model.norm.weigth
run_eval missing_tensor "missing tensor model\.norm\.weight" "$d"

d=$(fresh wrong_shape); corrupt transpose "$d/$ST" "$KVA"
run_eval wrong_shape "$KVA.*shape" "$d"

run_eval token_out_of_range "999999" "$BASE" 999999

bad_prompt=$'\xff\xfe'
run_case invalid_utf8_prompt "prompt.*utf-?8|utf-?8.*prompt" "$MLA_BIN" generate --model "$BASE" -p "$bad_prompt" -n 1

echo "bad_input: $pass passed, ${#failed[@]} failed${failed:+: ${failed[*]}}"
[ ${#failed[@]} -eq 0 ]
