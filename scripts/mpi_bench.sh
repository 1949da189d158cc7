#!/usr/bin/env bash
# A model split across MPI ranks (docs/DISTRIBUTED.md) against its number of ranks: prefill and
# decode tok/s of `mla generate` (greedy, EOS ignored) on 1, 2 and 3 ranks on this machine, split by
# layers (a pipeline) and, for MoE models, by routed experts, and the bytes all ranks send each other
# per token. The bytes are measured: each rank counts what it sends (mla prints the total at exit,
# "mpi: N ranks sent B bytes"); a run with one generated token (the prompt only) gives the
# prefill's bytes, the difference to the full run the decode steps'.
#
# Usage: scripts/mpi_bench.sh MODEL [PROMPT_TOKENS=128] [GEN_TOKENS=64] [THREADS_PER_RANK=1] [RANKS="1 2 3"] [SPLITS="layers experts"]
# MODEL: a Hugging Face directory or a GGUF file. Environment: MLA_BIN (default build/mla),
# MPIRUN_ARGS (default: --oversubscribe --bind-to none).
set -euo pipefail
MODEL=${1:?usage: scripts/mpi_bench.sh MODEL [PROMPT_TOKENS] [GEN_TOKENS] [THREADS_PER_RANK] [RANKS] [SPLITS]}
P=${2:-128}
G=${3:-64}
THREADS=${4:-1}
RANKS=${5:-1 2 3}
SPLITS=${6:-layers experts}
MLA_BIN=${MLA_BIN:-$(dirname "$0")/../build/mla}
read -r -a MPIRUN_ARGS <<< "${MPIRUN_ARGS:---oversubscribe --bind-to none}"
[ "$G" -ge 2 ] || { echo "mpi_bench.sh: GEN_TOKENS must be 2 or more" >&2; exit 1; }
TOKENS=$(seq -s, 1 "$P")
"$MLA_BIN" inspect -m "$MODEL" 2> /dev/null | grep -q "routed" || SPLITS=${SPLITS//experts/}

# run N SPLIT GEN: mla generate's stderr (its timing lines, and the bytes sent when N > 1).
run() {
  local launch=()
  [ "$1" -gt 1 ] && launch=(mpirun "${MPIRUN_ARGS[@]}" -np "$1")
  "${launch[@]}" "$MLA_BIN" generate -m "$MODEL" --tokens "$TOKENS" -n "$3" --ignore-eos --threads "$THREADS" \
    --split "$2" 2>&1 > /dev/null
}
sent() { awk '$1 == "mpi:" { print $5 }' <<< "$1"; }

printf "%-5s %-8s %14s %14s %20s %20s\n" ranks split "prefill tok/s" "decode tok/s" "prefill bytes/token" "decode bytes/token"
for n in $RANKS; do
  for split in $SPLITS; do
    [ "$n" = 1 ] && [ "$split" != "${SPLITS%% *}" ] && continue  # one process: no split
    out=$(run "$n" "$split" "$G") || { echo "mpi_bench.sh: $n ranks, split by $split failed:" >&2; echo "$out" >&2; exit 1; }
    prefill=$(awk '$1 == "prefill:" { print $2 }' <<< "$out")
    decode=$(awk '$1 == "decode:" { print $2 }' <<< "$out")
    pb=0 db=0
    if [ "$n" -gt 1 ]; then
      all=$(sent "$out")
      one=$(sent "$(run "$n" "$split" 1)")
      pb=$((one / P))
      db=$(((all - one) / (G - 1)))
    fi
    printf "%-5s %-8s %14s %14s %20s %20s\n" "$n" "$([ "$n" = 1 ] && echo - || echo "$split")" "$prefill" "$decode" "$pb" "$db"
  done
done
