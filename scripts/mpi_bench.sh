#!/usr/bin/env bash
# The pipeline split by layers (docs/DISTRIBUTED.md) against its number of ranks: prefill and
# decode tok/s of `mla generate` (greedy, EOS ignored) with 1, 2 and 3 ranks on this machine, and
# the bytes the ranks send each other per token. The bytes are computed from the messages' sizes
# (src/dist/pipeline.cpp): hidden rows [T x hidden] f32 between neighbours, the last row's logits
# [vocab] f32 back to rank 0, and the step description (int64 values, 10 + T + 3 + 1 for one
# sequence with a one-block cache) broadcast to every other rank.
#
# With SERVE_LEVELS (e.g. "1,8,32"), then `mla serve` under that many concurrent streams
# (tools/serve_bench.js: greedy, PROMPT_TOKENS-token prompts, GEN_TOKENS tokens each, 2 requests per
# stream, output tok/s): one process, and each rank count of RANKS above 1 with micro-batching off
# (--micro-batches 1) and on (each of MICRO_BATCHES, default: the rank count).
#
# Usage: scripts/mpi_bench.sh MODEL_DIR [PROMPT_TOKENS=128] [GEN_TOKENS=64] [THREADS_PER_RANK=1] [RANKS="1 2 3"]
# Environment: MLA_BIN (default build/mla), MPIRUN_ARGS (default: --oversubscribe --bind-to none),
# SERVE_LEVELS, MICRO_BATCHES.
set -euo pipefail
MODEL=${1:?usage: scripts/mpi_bench.sh MODEL_DIR [PROMPT_TOKENS] [GEN_TOKENS] [THREADS_PER_RANK] [RANKS]}
P=${2:-128}
G=${3:-64}
THREADS=${4:-1}
RANKS=${5:-1 2 3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MLA_BIN=${MLA_BIN:-$ROOT/build/mla}
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
