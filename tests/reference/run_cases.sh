# Shared driver of the end-to-end reference suites (tests/e2e/*_reference.sh), sourced by them after
# they set:
#   SUITE       name of the suite (work files go to $MLA_WORK/$SUITE)
#   REF         the independent reference script (tests/reference/*_ref.py)
#   CASES       array of "name|gen_checkpoint.py arguments" (the arguments end with --seed N)
#   ATTN_MODES  array of --attn values to evaluate ("" evaluates without --attn)
#   N_TOKENS, N_GREEDY
#   optionally DOT_TOLERANCE: compare.py options for the dot-product kernels' rows (default below)
# and optionally a function after_cases. For each case: generate the checkpoint, run the reference,
# compare `mla eval` logits (prefill and --decode, each attention mode) and `mla generate` greedy ids.
set -u

: "${MLA_BIN:?MLA_BIN must point at the mla binary}"
MLA_SOURCE_DIR=${MLA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
MLA_WORK=${MLA_WORK:-${TMPDIR:-/tmp}/mla-e2e}
PYTHON=${PYTHON:-/usr/bin/python3}
[ -x "$PYTHON" ] || PYTHON=python3

GEN="$MLA_SOURCE_DIR/tools/gen_checkpoint.py"
CMP="$MLA_SOURCE_DIR/tests/reference/compare.py"
W="$MLA_WORK/$SUITE"
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

# Activation rounding on these tiny random checkpoints: their layers amplify a 2^-9 relative change
# of the activations many times, and can flip an expert choice at a position (whose changed keys
# later positions then see), so the dot rows bound the typical position (9 in 10 within 2% of
# max|ref|) tightly and every logit loosely (docs/QUANTIZATION.md states the measured errors).
[ -n "${DOT_TOLERANCE+x}" ] || DOT_TOLERANCE=(--rel-tol 0.6 --pos-tol 2e-2)

# MLA_REF_CACHE (optional): each case's checkpoint and reference outputs are kept there
# (ref_cache.bash), so a second build's run of the suite reuses the Python work.
source "$MLA_SOURCE_DIR/tests/reference/ref_cache.bash"

start=$(date +%s)
for entry in "${CASES[@]}"; do
  name=${entry%%|*}
  args=${entry#*|}
  selected "$name" || continue
  dir="$W/$name"
  key=$(ref_cache_key "$SUITE" "$entry" "$N_TOKENS" "$N_GREEDY")
  outputs=("$dir" "$W/$name.ref.f32" "$W/$name.ref.greedy.json" "$W/$name.tokens" "$W/$name.vocab")
  if ref_cache_get "$key" "${outputs[@]}"; then
    echo "=== $name: checkpoint and reference from $MLA_REF_CACHE/$key"
  else
    echo "=== $name: gen_checkpoint.py $args"
    # shellcheck disable=SC2086
    if ! run_logged "$name/generate-checkpoint" "$W/$name.gen.log" "$PYTHON" "$GEN" $args --out "$dir"; then
      continue
    fi
    "$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["vocab_size"])' "$dir/config.json" > "$W/$name.vocab"
    seed=${args##*--seed }
    "$PYTHON" -c '
import sys, numpy as np
rng = np.random.default_rng(int(sys.argv[1]))
print(",".join(str(int(t)) for t in rng.integers(0, int(sys.argv[2]), size=int(sys.argv[3]))))' \
      "$seed" "$(cat "$W/$name.vocab")" "$N_TOKENS" > "$W/$name.tokens"

    if ! run_logged "$name/reference" "$W/$name.ref.log" "$PYTHON" "$REF" --model "$dir" --tokens "$(cat "$W/$name.tokens")" \
        --out "$W/$name.ref.f32" --greedy "$N_GREEDY" --greedy-json "$W/$name.ref.greedy.json"; then
      continue
    fi
    ref_cache_put "$key" "${outputs[@]}"
  fi
  vocab=$(cat "$W/$name.vocab")
  tokens=$(cat "$W/$name.tokens")

  # Twice: with the f32 products (MLA_KERNELS=avx512-novnni: the model's arithmetic, to the tight
  # bound), and with the machine's dot-product kernels, which round activations to bf16 / int8
  # before the products (kernels/panel_gemm.h): the "/dot" rows, to DOT_TOLERANCE. Cases listed in
  # DOT_BF16_CACHE_CASES run their dot rows over the default bf16 cache, where absorbed attention
  # with 16+ heads per row rounds q and the softmax weights to bf16 too (kernels/simd_attn_dot.h).
  for kernels in f32 dot; do
    for mode in prefill decode; do
      for attn in "${ATTN_MODES[@]}"; do
        case_name="$name/$mode${attn:+/$attn}"
        out="$W/$name.$mode${attn:+.$attn}.$kernels.f32"
        extra=(--kv-type f32)  # the exact cache: the tolerance is for the arithmetic, not a rounded cache
        [ "$kernels" = dot ] && [[ " ${DOT_BF16_CACHE_CASES[*]:-} " == *" $name "* ]] && extra=(--kv-type bf16)
        [ "$mode" = decode ] && extra+=(--decode)
        [ -n "$attn" ] && extra+=(--attn "$attn")
        tolerance=()
        kernel_env=(MLA_KERNELS=avx512-novnni)
        if [ "$kernels" = dot ]; then
          case_name+=/dot
          tolerance=("${DOT_TOLERANCE[@]}")
          kernel_env=(MLA_KERNELS=auto)
        fi
        if run_logged "$case_name" "$out.log" env "${kernel_env[@]}" "$MLA_BIN" eval --model "$dir" --tokens "$tokens" --logits-out "$out" "${extra[@]}"; then
          "$PYTHON" "$CMP" logits --ref "$W/$name.ref.f32" --got "$out" --vocab "$vocab" \
            --case "$case_name" --summary "$SUMMARY" "${tolerance[@]}"
        fi
      done
    done
  done

  case_name="$name/greedy$N_GREEDY"
  # Exact ids need the f32 products: the dot rows above may move a logit by more than a near-tie gap.
  if run_logged "$case_name" "$W/$name.generate.log" env MLA_KERNELS=avx512-novnni "$MLA_BIN" generate --model "$dir" --tokens "$tokens" \
      --kv-type f32 -n "$N_GREEDY" --temperature 0 --ignore-eos --json-out "$W/$name.generate.json"; then
    "$PYTHON" "$CMP" ids --ref "$W/$name.ref.greedy.json" --got "$W/$name.generate.json" \
      --case "$case_name" --summary "$SUMMARY"
  fi
done

# Optional extra checks of the caller, run before the summary.
if declare -F after_cases >/dev/null; then after_cases; fi

"$PYTHON" "$CMP" table --summary "$SUMMARY"
status=$?
echo "$SUITE: $(( $(date +%s) - start ))s, work files in $W"
exit $status
