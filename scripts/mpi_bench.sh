#!/usr/bin/env bash
# The pipeline split by layers (docs/DISTRIBUTED.md) against its number of ranks: prefill and
# decode tok/s of `mla generate` (greedy, EOS ignored) with 1, 2 and 3 ranks on this machine, and
# the bytes the ranks send each other per token. The bytes are computed from the messages' sizes
# (src/dist/pipeline.cpp): hidden rows [T x hidden] f32 between neighbours, the last row's logits
# [vocab] f32 back to rank 0, and the step description (int64 values, 10 + T + 3 + 1 for one
# sequence with a one-block cache) broadcast to every other rank.
#
# Usage: scripts/mpi_bench.sh MODEL_DIR [PROMPT_TOKENS=128] [GEN_TOKENS=64] [THREADS_PER_RANK=1] [RANKS="1 2 3"]
# Environment: MLA_BIN (default build/mla), MPIRUN_ARGS (default: --oversubscribe --bind-to none).
set -euo pipefail
MODEL=${1:?usage: scripts/mpi_bench.sh MODEL_DIR [PROMPT_TOKENS] [GEN_TOKENS] [THREADS_PER_RANK] [RANKS]}
P=${2:-128}
G=${3:-64}
THREADS=${4:-1}
RANKS=${5:-1 2 3}
MLA_BIN=${MLA_BIN:-$(dirname "$0")/../build/mla}
read -r -a MPIRUN_ARGS <<< "${MPIRUN_ARGS:---oversubscribe --bind-to none}"
[ -f "$MODEL/config.json" ] || { echo "mpi_bench.sh: $MODEL/config.json not found (a Hugging Face directory)" >&2; exit 1; }
read -r HIDDEN VOCAB < <(python3 -c "import json,sys; c=json.load(open(sys.argv[1])); print(c['hidden_size'], c['vocab_size'])" "$MODEL/config.json")
TOKENS=$(seq -s, 1 "$P")

printf "%-5s %14s %14s %22s %22s\n" ranks "prefill tok/s" "decode tok/s" "prefill bytes/token" "decode bytes/token"
for n in $RANKS; do
  launch=()
  [ "$n" -gt 1 ] && launch=(mpirun "${MPIRUN_ARGS[@]}" -np "$n")
  out=$("${launch[@]}" "$MLA_BIN" generate -m "$MODEL" --tokens "$TOKENS" -n "$G" --ignore-eos --threads "$THREADS" 2>&1 > /dev/null)
  prefill=$(awk '$1 == "prefill:" { print $2 }' <<< "$out")
  decode=$(awk '$1 == "decode:" { print $2 }' <<< "$out")
  [ -n "$prefill" ] && [ -n "$decode" ] || { echo "mpi_bench.sh: mla generate on $n ranks failed:" >&2; echo "$out" >&2; exit 1; }
  # Per step of T tokens: (n - 1) hops of T x hidden floats, vocab floats back (when split), and
  # (10 + T + 4) int64 values to each of the n - 1 other ranks.
  bytes() { python3 -c "n, T, h, v = map(int, '$n $1 $HIDDEN $VOCAB'.split()); print(round(((n - 1) * (T * h * 4 + (10 + T + 4) * 8) + (v * 4 if n > 1 else 0)) / T))"; }
  printf "%-5s %14s %14s %22s %22s\n" "$n" "$prefill" "$decode" "$(bytes "$P")" "$(bytes 1)"
done
