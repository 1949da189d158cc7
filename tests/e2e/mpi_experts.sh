#!/usr/bin/env bash
# End-to-end: a MoE model split by routed experts across MPI ranks (`--split experts`,
# docs/DISTRIBUTED.md) gives the logits of the single-process run. Tiny random checkpoints
# (tools/gen_checkpoint.py) with the V2-Lite layout (softmax routing, 64 experts) and the V3 layout
# (sigmoid noaux_tc routing with groups); `mla eval` over the same tokens as one process and under
# `mpirun -np 2` and `-np 3` (oversubscribed), prefill and --decode, --attn naive and absorbed.
# Every logit must agree within 1e-5 x max|logit|. The ranks add the experts' outputs in another
# order than one process, so the products run in f32 here (MLA_KERNELS=avx512-novnni): with bf16
# or int8 products a last-bit difference in a row can round its bf16 / int8 copy differently,
# which moves the logits by up to ~1e-2 relative (docs/DISTRIBUTED.md).
# Also: a GGUF file (stacked ffn_*_exps), greedy `mla generate` ids, the plan printed and
# `mla inspect --ranks N --split experts`, and the errors (a model without experts, no mpirun,
# --split-layers with --split experts) each as one message, no hang.
#
# Exits 77 (CTest: skipped) when mpirun is missing or mla was built without MPI.
# Environment: MLA_BIN (the mla binary), MLA_SOURCE_DIR (source tree), MLA_WORK (scratch dir).
set -u
: "${MLA_BIN:?MLA_BIN must point at the mla binary}"
MLA_SOURCE_DIR=${MLA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
MLA_WORK=${MLA_WORK:-${TMPDIR:-/tmp}/mla-e2e}
PYTHON=${PYTHON:-/usr/bin/python3}
[ -x "$PYTHON" ] || PYTHON=python3
W="$MLA_WORK/mpi_experts"
rm -rf "$W"
mkdir -p "$W"

source "$(dirname "$0")/mpi_env.bash"
MPIRUN=(timeout 120 mpirun --oversubscribe)
export MLA_KERNELS=avx512-novnni

failed=0
fail() {
  echo "FAIL: $*" >&2
  failed=1
}

N_TOKENS=24
TOKENS=$("$PYTHON" -c "print(','.join(str((i * 37 + 11) % 200) for i in range($N_TOKENS)))")

# name | generator arguments
for spec in "v2lite|--variant v2-lite --dtype bf16 --seed 3" "v3|--variant v3 --dtype bf16 --seed 4"; do
  name=${spec%%|*}
  args=${spec#*|}
  CK="$W/$name"
  # shellcheck disable=SC2086
  if ! "$PYTHON" "$MLA_SOURCE_DIR/tools/gen_checkpoint.py" $args --out "$CK" > "$W/$name.gen.log" 2>&1; then
    fail "$name: gen_checkpoint.py: $(cat "$W/$name.gen.log")"
    continue
  fi
  for attn in naive absorbed; do
    for mode in prefill decode; do split_vs_one_process "$name" "$CK" "$attn" "$mode" --split experts; done
  done
done

CK="$W/v3"
# The plan: rank 0 holds the rest of the model, the other ranks experts only, all 16 covered.
grep -Eq "^2 +[0-9]+-15 " "$W/v3.absorbed.decode.np3.log" || fail "-np 3: no plan ending at expert 15: $(cat "$W/v3.absorbed.decode.np3.log")"
"$MLA_BIN" inspect --model "$CK" --ranks 3 --split experts > "$W/inspect.txt" 2>&1 || fail "inspect: $(cat "$W/inspect.txt")"
cat "$W/inspect.txt"
[ "$(grep -Ec '^[0-2] +[0-9none]' "$W/inspect.txt")" = 3 ] || fail "inspect --ranks 3 --split experts: expected 3 plan rows"

# Greedy generation: the same ids as one process.
"$MLA_BIN" generate --model "$CK" --threads 1 --tokens 5,6,7 -n 8 --temperature 0 --ignore-eos \
  --json-out "$W/gen1.json" > /dev/null 2> "$W/gen1.err" || fail "generate: $(cat "$W/gen1.err")"
"${MPIRUN[@]}" -np 3 "$MLA_BIN" generate --model "$CK" --threads 1 --tokens 5,6,7 -n 8 --temperature 0 --ignore-eos \
  --split experts --json-out "$W/gen3.json" > "$W/gen3.log" 2>&1 || fail "generate -np 3: $(tail -5 "$W/gen3.log")"
"$PYTHON" -c "import json,sys; a,b=(json.load(open(p))['ids'] for p in sys.argv[1:]); print('generate ids', a); sys.exit(a!=b or len(a)!=8)" \
  "$W/gen1.json" "$W/gen3.json" || fail "generate -np 3: ids differ from one process"

# A GGUF file: the experts are slices of stacked ffn_*_exps tensors.
"$MLA_BIN" convert --model "$CK" --to gguf -o "$W/v3.gguf" > "$W/convert.log" 2>&1 || fail "convert: $(cat "$W/convert.log")"
"$MLA_BIN" eval --model "$W/v3.gguf" --threads 1 --decode --tokens "$TOKENS" --logits-out "$W/gguf1.bin" 2> "$W/gguf1.err" ||
  fail "gguf eval: $(cat "$W/gguf1.err")"
"${MPIRUN[@]}" -np 2 "$MLA_BIN" eval --model "$W/v3.gguf" --threads 1 --decode --tokens "$TOKENS" --split experts \
  --logits-out "$W/gguf2.bin" > "$W/gguf2.log" 2>&1 || fail "gguf -np 2: $(tail -5 "$W/gguf2.log")"
if out=$(compare_logits "$W/gguf1.bin" "$W/gguf2.bin" 2>&1); then echo "ok   v3 GGUF decode -np 2: $out"; else fail "gguf -np 2: $out"; fi

# Errors, each one message and no hang: a model without routed experts (rank 0 plans, so one rank
# speaks), --split experts without mpirun, --split-layers with --split experts.
"$PYTHON" "$MLA_SOURCE_DIR/tools/gen_checkpoint.py" --variant llama-gqa --dtype bf16 --layers 2 --seed 5 --out "$W/llama" \
  > /dev/null 2>&1 || fail "llama: gen_checkpoint.py"
"${MPIRUN[@]}" -np 2 "$MLA_BIN" eval --model "$W/llama" --threads 1 --tokens "$TOKENS" --split experts \
  --logits-out "$W/bad.bin" > "$W/llama.log" 2>&1
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] && [ "$(grep -c "mla: error" "$W/llama.log")" = 1 ] &&
  grep -q "mla: error (rank 0 of 2): --split experts: the model has no routed experts" "$W/llama.log" ||
  fail "--split experts on a dense model: exit $rc: $(cat "$W/llama.log")"
"$MLA_BIN" eval --model "$CK" --threads 1 --tokens "$TOKENS" --split experts --logits-out "$W/bad.bin" \
  > "$W/one.log" 2>&1 &&
  fail "--split experts without mpirun exited 0"
grep -q "mpirun -np N" "$W/one.log" || fail "--split experts without mpirun: $(cat "$W/one.log")"
"${MPIRUN[@]}" -np 2 "$MLA_BIN" eval --model "$CK" --threads 1 --tokens "$TOKENS" --split experts --split-layers 0-1,2 \
  --logits-out "$W/bad.bin" > "$W/both.log" 2>&1
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q -- "--split-layers goes with --split layers" "$W/both.log" ||
  fail "--split experts with --split-layers: exit $rc: $(cat "$W/both.log")"

if [ $failed = 0 ]; then echo "mpi_experts: all passed"; fi
exit $failed
