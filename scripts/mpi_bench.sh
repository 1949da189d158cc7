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
# With SERVE_LEVELS (e.g. "1,8,32"), then `mla serve` under that many concurrent streams
# (tools/serve_bench.js: greedy, PROMPT_TOKENS-token prompts, GEN_TOKENS tokens each, 2 requests per
# stream, output tok/s): one process, and each rank count of RANKS above 1 split by layers with
# micro-batching off (--micro-batches 1) and on (each of MICRO_BATCHES, default: the rank count).
#
# Usage: scripts/mpi_bench.sh MODEL [PROMPT_TOKENS=128] [GEN_TOKENS=64] [THREADS_PER_RANK=1] [RANKS="1 2 3"] [SPLITS="layers experts"]
# MODEL: a Hugging Face directory or a GGUF file. Environment: MLA_BIN (default build/mla), REPS
# (default 3), MPIRUN_ARGS (default: --oversubscribe --bind-to none), SERVE_LEVELS, MICRO_BATCHES.
set -euo pipefail
MODEL=${1:?usage: scripts/mpi_bench.sh MODEL [PROMPT_TOKENS] [GEN_TOKENS] [THREADS_PER_RANK] [RANKS] [SPLITS]}
P=${2:-128}
G=${3:-64}
THREADS=${4:-1}
RANKS=${5:-1 2 3}
SPLITS=${6:-layers experts}
REPS=${REPS:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MLA_BIN=${MLA_BIN:-$ROOT/build/mla}
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

[ -n "${SERVE_LEVELS:-}" ] || exit 0
# serve_tok_s MICRO_BATCHES LAUNCHER...: starts `mla serve` under the launcher (with --micro-batches
# unless "-"), prints the output tok/s of each level of SERVE_LEVELS, stops it.
serve_tok_s() {
  local log json pid port="" i flags=()
  [ "$1" = - ] || flags=(--micro-batches "$1")
  shift
  log=$(mktemp)
  json=$(mktemp)
  "$@" "$MLA_BIN" serve -m "$MODEL" --served-model-name bench --port 0 --threads "$THREADS" --kv-mem 1GiB \
    "${flags[@]}" > "$log" 2>&1 &
  pid=$!
  for i in $(seq 1 600); do
    port=$(sed -n 's/^mla serve: listening on http:\/\/[^ ]*:\([0-9][0-9]*\)$/\1/p' "$log")
    [ -n "$port" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health")" = 200 ] && break
    kill -0 "$pid" 2> /dev/null || { echo "mpi_bench.sh: mla serve exited:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  node "$ROOT/tools/serve_bench.js" --url "http://127.0.0.1:$port" --model bench --levels "$SERVE_LEVELS" \
    --prompt-tokens "$P" --max-tokens "$G" --requests-per-client 2 --json "$json" > /dev/null
  kill -TERM "$pid"
  wait "$pid" || true  # mpirun exits 1 when signalled
  python3 -c "import json,sys; print(' '.join(f\"{l['throughput_tok_s']:12.0f}\" for l in json.load(open(sys.argv[1]))['levels']))" "$json"
  rm -f "$log" "$json"
}

echo
echo "mla serve, output tok/s at $SERVE_LEVELS concurrent streams (prompt $P tokens, $G generated):"
printf "%-5s %-14s %s\n" ranks micro-batches "$(tr , '\n' <<< "$SERVE_LEVELS" | xargs printf '%12s ')"
for n in $RANKS; do
  if [ "$n" = 1 ]; then
    printf "%-5s %-14s %s\n" 1 - "$(serve_tok_s -)"
    continue
  fi
  for m in 1 ${MICRO_BATCHES:-$n}; do
    printf "%-5s %-14s %s\n" "$n" "$m" "$(serve_tok_s "$m" mpirun "${MPIRUN_ARGS[@]}" -np "$n")"
  done
done
