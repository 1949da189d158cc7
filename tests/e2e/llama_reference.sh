#!/usr/bin/env bash
# End-to-end: the engine's Llama (MHA / GQA / MQA) logits and greedy continuations against an
# independent float64 numpy reference (tests/reference/llama_ref.py) on tiny random LlamaForCausalLM
# checkpoints: every attention variant, weight dtype (BF16, F16, F32), tied and untied embeddings,
# llama3 rope_scaling on and off (positions past original_max_position_embeddings), sharded once.
#
# For each checkpoint `mla eval` runs as one prefill and token by token (--decode); every logit must
# satisfy |engine - ref| <= 1e-3 + 1e-4 * max|ref|. Then `mla generate --temperature 0` must
# reproduce the reference's 32 greedy ids.
#
# Environment: MLA_BIN (the mla binary), MLA_SOURCE_DIR (source tree), MLA_WORK (scratch dir).
# Optional: MLA_E2E_CASES (space-separated case names to run, default all), PYTHON.
set -u

: "${MLA_BIN:?MLA_BIN must point at the mla binary}"
MLA_SOURCE_DIR=${MLA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
MLA_WORK=${MLA_WORK:-${TMPDIR:-/tmp}/mla-e2e}
PYTHON=${PYTHON:-/usr/bin/python3}
[ -x "$PYTHON" ] || PYTHON=python3

GEN="$MLA_SOURCE_DIR/tools/gen_checkpoint.py"
REF="$MLA_SOURCE_DIR/tests/reference/llama_ref.py"
CMP="$MLA_SOURCE_DIR/tests/reference/compare.py"
W="$MLA_WORK/llama_reference"
rm -rf "$W"
mkdir -p "$W"
SUMMARY="$W/summary.tsv"
: > "$SUMMARY"

if [ ! -x "$MLA_BIN" ]; then
  echo "MLA_BIN=$MLA_BIN is not an executable" >&2
  exit 1
fi
if ! "$PYTHON" -c 'import numpy' 2>/dev/null; then
  echo "$PYTHON cannot import numpy" >&2
  exit 1
fi

N_TOKENS=48      # > original_max_position_embeddings (32) of the llama3-rope checkpoints
N_GREEDY=32

# name | generator arguments
CASES=(
  "mha_bf16|--variant llama-mha --dtype bf16 --seed 41"
  "mha_f32_llama3_tied|--variant llama-mha --dtype f32 --llama3-rope --tied --seed 42"
  "gqa_f16_llama3|--variant llama-gqa --dtype f16 --llama3-rope --seed 43"
  "gqa_bf16_tied_3shards|--variant llama-gqa --dtype bf16 --tied --shards 3 --seed 44"
  "mqa_f32|--variant llama-mqa --dtype f32 --seed 45"
  "mqa_bf16_llama3_tied|--variant llama-mqa --dtype bf16 --llama3-rope --tied --seed 46"
)

selected() {
  [ -z "${MLA_E2E_CASES:-}" ] && return 0
  local c
  for c in $MLA_E2E_CASES; do [ "$c" = "$1" ] && return 0; done
  return 1
}

# Runs a command, logging its output; on failure records the case and shows the log's tail.
run_logged() {  # case log cmd...
  local case=$1 log=$2
  shift 2
  local rc=0
  "$@" >"$log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "--- $case failed (exit status $rc): $*" >&2
    tail -n 20 "$log" >&2
    "$PYTHON" "$CMP" fail --case "$case" --summary "$SUMMARY" \
      --what "exit status $rc: $(tail -n 1 "$log" | cut -c1-200)" >/dev/null
    return 1
  fi
  return 0
}

start=$(date +%s)
for entry in "${CASES[@]}"; do
  name=${entry%%|*}
  args=${entry#*|}
  selected "$name" || continue
  dir="$W/$name"
  echo "=== $name: gen_checkpoint.py $args"
  # shellcheck disable=SC2086
  if ! run_logged "$name/generate-checkpoint" "$W/$name.gen.log" "$PYTHON" "$GEN" $args --out "$dir"; then
    continue
  fi
  vocab=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["vocab_size"])' "$dir/config.json")
  seed=${args##*--seed }
  tokens=$("$PYTHON" -c '
import sys, numpy as np
rng = np.random.default_rng(int(sys.argv[1]))
print(",".join(str(int(t)) for t in rng.integers(0, int(sys.argv[2]), size=int(sys.argv[3]))))' \
    "$seed" "$vocab" "$N_TOKENS")

  if ! run_logged "$name/reference" "$W/$name.ref.log" "$PYTHON" "$REF" --model "$dir" --tokens "$tokens" \
      --out "$W/$name.ref.f32" --greedy "$N_GREEDY" --greedy-json "$W/$name.ref.greedy.json"; then
    continue
  fi

  for mode in prefill decode; do
    case_name="$name/$mode"
    out="$W/$name.$mode.f32"
    extra=()
    [ "$mode" = decode ] && extra+=(--decode)
    if run_logged "$case_name" "$W/$name.$mode.log" "$MLA_BIN" eval --model "$dir" --tokens "$tokens" \
        --logits-out "$out" "${extra[@]}"; then
      "$PYTHON" "$CMP" logits --ref "$W/$name.ref.f32" --got "$out" --vocab "$vocab" \
        --case "$case_name" --summary "$SUMMARY"
    fi
  done

  case_name="$name/greedy$N_GREEDY"
  if run_logged "$case_name" "$W/$name.generate.log" "$MLA_BIN" generate --model "$dir" --tokens "$tokens" \
      -n "$N_GREEDY" --temperature 0 --ignore-eos --json-out "$W/$name.generate.json"; then
    "$PYTHON" "$CMP" ids --ref "$W/$name.ref.greedy.json" --got "$W/$name.generate.json" \
      --case "$case_name" --summary "$SUMMARY"
  fi
done

# The reference validates itself once (repeat_kv vs a per-head loop, RoPE as explicit rotations).
if selected gqa_f16_llama3 && [ -d "$W/gqa_f16_llama3" ]; then
  if run_logged "reference-self-check" "$W/self_check.log" "$PYTHON" "$REF" --model "$W/gqa_f16_llama3" --self-check; then
    printf 'reference-self-check\tPASS\t%s checks ok\n' "$(grep -c '^  ok' "$W/self_check.log")" >> "$SUMMARY"
  fi
fi

"$PYTHON" "$CMP" table --summary "$SUMMARY"
status=$?
echo "llama_reference: $(( $(date +%s) - start ))s, work files in $W"
exit $status
