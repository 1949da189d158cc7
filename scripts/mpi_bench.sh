#!/usr/bin/env bash
# A model split across MPI ranks (docs/DISTRIBUTED.md) against its number of ranks: prefill and
# decode tok/s of `mla generate` (greedy, EOS ignored) on 1, 2 and 3 ranks on this machine, split by
# layers (a pipeline) and, for MoE models, by routed experts, and the bytes all ranks send each other
# per token. One process runs with THREADS_PER_RANK threads and, as the reference for 2 ranks on the
# same cores, with twice as many. The configurations run in turn REPS times (the machine is shared
# and noisy); the table gives each one's median.
# The bytes are measured: each rank counts what it sends (mla prints the total at exit,
# "mpi: N ranks sent B bytes"); a run with one generated token (the prompt only) gives the
# prefill's bytes, the difference to the full run the decode steps'. The last column is each rank's
# peak resident memory (mapped weight pages included) as mla measures it.
#
# Usage: scripts/mpi_bench.sh MODEL [PROMPT_TOKENS=128] [GEN_TOKENS=64] [THREADS_PER_RANK=1] [RANKS="1 2 3"] [SPLITS="layers experts"]
# MODEL: a Hugging Face directory or a GGUF file. Environment: MLA_BIN (default build/mla), REPS
# (default 3), MPIRUN_ARGS (default: --oversubscribe --bind-to none).
set -euo pipefail
MODEL=${1:?usage: scripts/mpi_bench.sh MODEL [PROMPT_TOKENS] [GEN_TOKENS] [THREADS_PER_RANK] [RANKS] [SPLITS]}
P=${2:-128}
G=${3:-64}
THREADS=${4:-1}
RANKS=${5:-1 2 3}
SPLITS=${6:-layers experts}
REPS=${REPS:-3}
MLA_BIN=${MLA_BIN:-$(dirname "$0")/../build/mla}
read -r -a MPIRUN_ARGS <<< "${MPIRUN_ARGS:---oversubscribe --bind-to none}"
[ "$G" -ge 2 ] || { echo "mpi_bench.sh: GEN_TOKENS must be 2 or more" >&2; exit 1; }
TOKENS=$(seq -s, 1 "$P")
"$MLA_BIN" inspect -m "$MODEL" 2> /dev/null | grep -q "routed" || SPLITS=${SPLITS//experts/}

# Configurations "ranks split threads".
CONFIGS=()
for n in $RANKS; do
  if [ "$n" = 1 ]; then
    CONFIGS+=("1 - $THREADS" "1 - $((2 * THREADS))")
  else
    for split in $SPLITS; do CONFIGS+=("$n $split $THREADS"); done
  fi
done

# run RANKS SPLIT THREADS GEN: mla generate's stderr (its timing lines, and the bytes sent).
run() {
  local launch=() split=()
  [ "$1" -gt 1 ] && launch=(mpirun "${MPIRUN_ARGS[@]}" -np "$1") && split=(--split "$2")
  "${launch[@]}" "$MLA_BIN" generate -m "$MODEL" --tokens "$TOKENS" -n "$4" --ignore-eos --threads "$3" \
    "${split[@]}" 2>&1 > /dev/null
}
sent() { awk '$1 == "mpi:" { print $5 }' <<< "$1"; }

declare -A PREFILL DECODE PBYTES DBYTES RESIDENT
for rep in $(seq 1 "$REPS"); do
  for c in "${CONFIGS[@]}"; do
    read -r n split threads <<< "$c"
    out=$(run "$n" "$split" "$threads" "$G") || { echo "mpi_bench.sh: $c failed:" >&2; echo "$out" >&2; exit 1; }
    prefill=$(awk '$1 == "prefill:" { print $2 }' <<< "$out")
    decode=$(awk '$1 == "decode:" { print $2 }' <<< "$out")
    [ -n "$prefill" ] && [ -n "$decode" ] || { echo "mpi_bench.sh: $c: no timing:" >&2; echo "$out" >&2; exit 1; }
    PREFILL[$c]="${PREFILL[$c]:-} $prefill"
    DECODE[$c]="${DECODE[$c]:-} $decode"
    [ "$rep" = 1 ] && [ "$n" = 1 ] && RESIDENT[$c]=$(awk '$1 == "peak" && $2 == "memory:" { print $3, $4 }' <<< "$out")
    if [ "$rep" = 1 ] && [ "$n" -gt 1 ]; then
      all=$(sent "$out")
      one=$(sent "$(run "$n" "$split" "$threads" 1)")
      PBYTES[$c]=$((one / P))
      DBYTES[$c]=$(((all - one) / (G - 1)))
      RESIDENT[$c]=$(sed -n 's/^mpi:.*peak resident memory by rank: //p' <<< "$out")
    fi
  done
  echo "mpi_bench.sh: round $rep of $REPS done" >&2
done

median() { tr ' ' '\n' <<< "$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf "%-5s %-8s %7s %14s %14s %20s %20s  %s\n" ranks split threads "prefill tok/s" "decode tok/s" \
  "prefill bytes/token" "decode bytes/token" "peak resident by rank"
for c in "${CONFIGS[@]}"; do
  read -r n split threads <<< "$c"
  printf "%-5s %-8s %7s %14s %14s %20s %20s  %s\n" "$n" "$split" "$threads" "$(median "${PREFILL[$c]}")" \
    "$(median "${DECODE[$c]}")" "${PBYTES[$c]:-0}" "${DBYTES[$c]:-0}" "${RESIDENT[$c]:--}"
done
