#!/usr/bin/env bash
# End-to-end: a model split by layers across MPI ranks (docs/DISTRIBUTED.md) gives the logits of
# the single-process run. Tiny random checkpoints (tools/gen_checkpoint.py) with the V2-Lite
# layout (MLA, no q_lora, MoE), the V3 layout (q_lora, sigmoid noaux_tc routing) and Llama GQA, 3
# layers each; `mla eval` over the same tokens as one process and under `mpirun -np 2` and `-np 3`
# (oversubscribed), prefill and --decode, --attn naive and absorbed. Every logit must agree within
# 1e-5 x max|logit| (the stages run the same kernels on the same rows: in practice bit for bit).
# Also: --split-layers, a GGUF file, greedy `mla generate` ids, a two-turn `mla chat`, a prompt of
# three prefill chunks (in flight down the pipeline at once), `mla inspect --ranks`, commands that
# do not run split refusing, --micro-batches refused where it cannot apply, and that a rank's error
# ends every rank instead of a hang. (--micro-batches splits the serving engine's batched decode
# steps: tests/e2e/mpi_serve.sh checks them.)
#
# Exits 77 (CTest: skipped) when mpirun is missing or mla was built without MPI.
# Environment: MLA_BIN (the mla binary), MLA_SOURCE_DIR (source tree), MLA_WORK (scratch dir).
set -u
: "${MLA_BIN:?MLA_BIN must point at the mla binary}"
MLA_SOURCE_DIR=${MLA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
MLA_WORK=${MLA_WORK:-${TMPDIR:-/tmp}/mla-e2e}
PYTHON=${PYTHON:-/usr/bin/python3}
[ -x "$PYTHON" ] || PYTHON=python3
W="$MLA_WORK/mpi_pipeline"
rm -rf "$W"
mkdir -p "$W"

source "$(dirname "$0")/mpi_env.bash"
MPIRUN=(timeout 120 mpirun --oversubscribe)

failed=0
fail() {
  echo "FAIL: $*" >&2
  failed=1
}

N_TOKENS=24
TOKENS=$("$PYTHON" -c "print(','.join(str((i * 37 + 11) % 200) for i in range($N_TOKENS)))")

# name | attention paths | generator arguments
for spec in "v2lite|naive absorbed|--variant v2-lite --dtype bf16 --seed 3" \
            "v3|naive absorbed|--variant v3 --dtype bf16 --seed 4" \
            "llama_gqa|auto|--variant llama-gqa --dtype bf16 --layers 3 --seed 5 --max-pos 4096"; do
  name=${spec%%|*}
  rest=${spec#*|}
  attns=${rest%%|*}
  args=${rest#*|}
  CK="$W/$name"
  # shellcheck disable=SC2086
  if ! "$PYTHON" "$MLA_SOURCE_DIR/tools/gen_checkpoint.py" $args --out "$CK" > "$W/$name.gen.log" 2>&1; then
    fail "$name: gen_checkpoint.py: $(cat "$W/$name.gen.log")"
    continue
  fi
  for attn in $attns; do
    for mode in prefill decode; do split_vs_one_process "$name" "$CK" "$attn" "$mode"; done
  done
done

CK="$W/v3"
# An explicit split; the plan is printed.
"${MPIRUN[@]}" -np 2 "$MLA_BIN" eval --model "$CK" --threads 1 --attn absorbed --tokens "$TOKENS" \
  --split-layers 0-1,2 --logits-out "$W/split.bin" > "$W/split.log" 2>&1 || fail "--split-layers 0-1,2: $(tail -5 "$W/split.log")"
grep -Eq "^1 +2-2 " "$W/split.log" || fail "--split-layers 0-1,2: plan not printed as asked: $(cat "$W/split.log")"
out=$(compare_logits "$W/v3.absorbed.prefill.np1.bin" "$W/split.bin" 2>&1) || fail "--split-layers 0-1,2: $out"

# Greedy generation: the same ids as one process.
"$MLA_BIN" generate --model "$CK" --threads 1 --tokens 5,6,7 -n 8 --temperature 0 --ignore-eos \
  --json-out "$W/gen1.json" > /dev/null 2> "$W/gen1.err" || fail "generate: $(cat "$W/gen1.err")"
"${MPIRUN[@]}" -np 3 "$MLA_BIN" generate --model "$CK" --threads 1 --tokens 5,6,7 -n 8 --temperature 0 --ignore-eos \
  --json-out "$W/gen3.json" > "$W/gen3.log" 2>&1 || fail "generate -np 3: $(tail -5 "$W/gen3.log")"
"$PYTHON" -c "import json,sys; a,b=(json.load(open(p))['ids'] for p in sys.argv[1:]); print('generate ids', a); sys.exit(a!=b or len(a)!=8)" \
  "$W/gen1.json" "$W/gen3.json" || fail "generate -np 3: ids differ from one process"

# Chat, two turns (the second reuses the first's cache prefix): the same text as one process.
printf 'Hi there\nHow are you\n' | "$MLA_BIN" chat --model "$CK" --threads 1 -n 8 --temperature 0 > "$W/chat1.txt" 2> "$W/chat1.err" ||
  fail "chat: $(cat "$W/chat1.err")"
printf 'Hi there\nHow are you\n' | "${MPIRUN[@]}" -np 3 "$MLA_BIN" chat --model "$CK" --threads 1 -n 8 --temperature 0 \
  > "$W/chat3.txt" 2> "$W/chat3.err" || fail "chat -np 3: $(tail -5 "$W/chat3.err")"
[ -s "$W/chat1.txt" ] && cmp -s "$W/chat1.txt" "$W/chat3.txt" || fail "chat -np 3: output differs from one process"

# A GGUF file splits the same way (blk.N.* tensors).
"$MLA_BIN" convert --model "$CK" --to gguf -o "$W/v3.gguf" > "$W/convert.log" 2>&1 || fail "convert: $(cat "$W/convert.log")"
"$MLA_BIN" eval --model "$W/v3.gguf" --threads 1 --decode --tokens "$TOKENS" --logits-out "$W/gguf1.bin" 2> "$W/gguf1.err" ||
  fail "gguf eval: $(cat "$W/gguf1.err")"
"${MPIRUN[@]}" -np 2 "$MLA_BIN" eval --model "$W/v3.gguf" --threads 1 --decode --tokens "$TOKENS" \
  --logits-out "$W/gguf2.bin" > "$W/gguf2.log" 2>&1 || fail "gguf -np 2: $(tail -5 "$W/gguf2.log")"
if out=$(compare_logits "$W/gguf1.bin" "$W/gguf2.bin" 2>&1); then echo "ok   v3 GGUF decode -np 2: $out"; else fail "gguf -np 2: $out"; fi

# A prompt of three prefill chunks (model/row_batches.h: 1024 rows): each stage sends a chunk's rows
# on without waiting for the next stage to take them, so several are in flight.
LONG=$("$PYTHON" -c "print(','.join(str((i * 37 + 11) % 200) for i in range(2100)))")
"$MLA_BIN" eval --model "$W/llama_gqa" --threads 1 --tokens "$LONG" --logits-out "$W/long1.bin" 2> "$W/long1.err" ||
  fail "long prompt: $(cat "$W/long1.err")"
"${MPIRUN[@]}" -np 2 "$MLA_BIN" eval --model "$W/llama_gqa" --threads 1 --tokens "$LONG" --micro-batches 3 \
  --logits-out "$W/long2.bin" > "$W/long2.log" 2>&1 || fail "long prompt -np 2: $(tail -5 "$W/long2.log")"
if out=$(compare_logits "$W/long1.bin" "$W/long2.bin" 2>&1); then echo "ok   llama_gqa 2100-token prompt -np 2: $out"; else fail "long prompt -np 2: $out"; fi

# mla inspect --ranks: one row per rank, layers covering 0-2, without MPI.
"$MLA_BIN" inspect --model "$CK" --ranks 3 > "$W/inspect.txt" 2>&1 || fail "inspect --ranks 3: $(cat "$W/inspect.txt")"
cat "$W/inspect.txt"
[ "$(grep -Ec '^[0-2] +[0-9]+-[0-9]+ ' "$W/inspect.txt")" = 3 ] || fail "inspect --ranks 3: expected 3 plan rows"

# Errors: a bad split is refused by every rank; exits non-zero with one message, no hang.
"${MPIRUN[@]}" -np 2 "$MLA_BIN" eval --model "$CK" --threads 1 --tokens "$TOKENS" --split-layers 0-1,3 \
  --logits-out "$W/bad.bin" > "$W/bad.log" 2>&1
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "bad --split-layers: exit $rc (124: hung)"
# Rank 0 plans, so the plan's error is one message from one rank.
[ "$(grep -c "mla: error (rank 0 of 2): --split-layers" "$W/bad.log")" = 1 ] && [ "$(grep -c "mla: error" "$W/bad.log")" = 1 ] ||
  fail "bad --split-layers: not one message: $(cat "$W/bad.log")"
# Commands that do not run split refuse to start under more than one rank; `bench --model` runs.
"${MPIRUN[@]}" -np 2 "$MLA_BIN" bench > "$W/bench.log" 2>&1
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "'bench' without --model does not run across MPI ranks" "$W/bench.log" ||
  fail "bench under mpirun -np 2: exit $rc: $(cat "$W/bench.log")"
"${MPIRUN[@]}" -np 2 "$MLA_BIN" bench --model "$CK" -p 16 -n 4 -r 1 -t 1 > "$W/bench_model.log" 2>&1 &&
  grep -Eq "^\| tg4 +\| +0 \|" "$W/bench_model.log" && grep -q "2 ranks, split by layers" "$W/bench_model.log" ||
  fail "bench --model under mpirun -np 2: $(tail -5 "$W/bench_model.log")"
# --micro-batches: at least 1, and only for a split model.
"${MPIRUN[@]}" -np 2 "$MLA_BIN" eval --model "$CK" --threads 1 --tokens "$TOKENS" --micro-batches 0 \
  --logits-out "$W/mb0.bin" > "$W/mb0.log" 2>&1
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q -- "--micro-batches" "$W/mb0.log" || fail "--micro-batches 0: exit $rc: $(cat "$W/mb0.log")"
"$MLA_BIN" eval --model "$CK" --threads 1 --tokens "$TOKENS" --micro-batches 2 --logits-out "$W/mb1.bin" > "$W/mb1.log" 2>&1 &&
  fail "--micro-batches without mpirun: exit 0"
grep -q "^mla: error: --micro-batches 2: mla runs as one process" "$W/mb1.log" ||
  fail "--micro-batches without mpirun: $(cat "$W/mb1.log")"
# A rank that cannot map its weights (a truncated shard is found by every rank; the first to see
# it ends all).
cp -r "$CK" "$W/broken"
f=$(ls "$W/broken"/*.safetensors | head -1)
truncate -s 4000 "$f"
"${MPIRUN[@]}" -np 2 "$MLA_BIN" eval --model "$W/broken" --threads 1 --tokens "$TOKENS" \
  --logits-out "$W/broken.bin" > "$W/broken.log" 2>&1
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "truncated checkpoint: exit $rc (124: hung)"
grep -q "mla: error" "$W/broken.log" || fail "truncated checkpoint: no message: $(cat "$W/broken.log")"

if [ $failed = 0 ]; then echo "mpi_pipeline: all passed"; fi
exit $failed
