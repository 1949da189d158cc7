#!/usr/bin/env bash
# Serving benchmark: an MLA model and an MHA model of the same shape (hidden size, layers, heads,
# MLP, vocabulary; only the attention differs), each served by `mla serve` under the same --kv-mem,
# driven by tools/serve_bench.js at concurrency 1, 4, 16, 64. Prints both tables and the ratio of
# their maximum generation throughputs.
#   scripts/serve_bench.sh [BUILD_DIR] [KV_MEM] [WORK_DIR]
# Environment: LEVELS (1,4,16,64), PROMPT_TOKENS (64), MAX_TOKENS (64), REQUESTS_PER_CLIENT (2),
# THREADS (mla serve --threads, default: physical cores).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
kv_mem=${2:-8MiB}
work=${3:-${TMPDIR:-/tmp}/mla-serve-bench}
python=/usr/bin/python3
mkdir -p "$work"
# DeepSeek-V2-Lite's attention shape (hidden 2048, 16 heads; MLA kv_lora 512 + rope 64, nope 128,
# v 128; MHA 16 x 128) with 2 dense layers: ~200 MB of bf16 weights, several times the last-level
# cache, so a decode step streams the weights once for the whole batch as on a real model.
shape=(--layers 2 --hidden 2048 --heads 16 --intermediate 5632 --vocab 512 --max-pos 4096 --dtype bf16)
[ -d "$work/mla" ] || "$python" tools/gen_checkpoint.py --variant v2-lite "${shape[@]}" --experts 0 \
  --kv-lora 512 --nope 128 --rope 64 --vdim 128 --out "$work/mla" > /dev/null
[ -d "$work/mha" ] || "$python" tools/gen_checkpoint.py --variant llama-mha "${shape[@]}" --head-dim 128 \
  --kv-heads 16 --out "$work/mha" > /dev/null

pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; true' EXIT
for name in mla mha; do
  log="$work/$name.log"
  : > "$log"  # exists before the server's redirect opens it: the loop below reads it at once
  "$build/mla" serve -m "$work/$name" --port 0 --kv-mem "$kv_mem" --max-running 64 ${THREADS:+--threads "$THREADS"} \
    > "$log" 2>&1 &
  pid=$!
  port=""
  for _ in $(seq 1 600); do
    port=$(sed -n 's/^mla serve: listening on http:\/\/[^ ]*:\([0-9][0-9]*\)$/\1/p' "$log")
    [ -n "$port" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health")" = 200 ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  echo "== $name ($(grep -o 'KV budget.*' "$log" | tr -d ')'); $(curl -s "http://127.0.0.1:$port/metrics" |
    awk '$1 == "mla_kv_blocks_total" { print $2 }') blocks of 16 tokens)"
  node tools/serve_bench.js --url "http://127.0.0.1:$port" --model "$name" --levels "${LEVELS:-1,4,16,64}" \
    --prompt-tokens "${PROMPT_TOKENS:-64}" --max-tokens "${MAX_TOKENS:-64}" \
    --requests-per-client "${REQUESTS_PER_CLIENT:-2}" --json "$work/$name.json"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=""
done
"$python" - "$work/mla.json" "$work/mha.json" <<'PY'
import json, sys
mla, mha = (max(l["throughput_tok_s"] for l in json.load(open(p))["levels"]) for p in sys.argv[1:3])
print(f"max generation throughput: MLA {mla:.1f} tok/s, MHA {mha:.1f} tok/s, MLA / MHA = {mla / mha:.2f}x")
PY
