#!/usr/bin/env bash
# End-to-end: `mla serve` under concurrency and disconnects. 64 concurrent streaming clients
# (official openai client, greedy) each get exactly their sequential text; a client that hangs up
# (streaming or not) has its request cancelled and its cache freed, visible in /metrics.
source "$(dirname "$0")/serve/lib.bash"
work_dir serve_concurrency
need_openai
M="$W/v2lite"
make_model "$M" --variant v2-lite --dtype bf16 --max-pos 4096
# Exact equality needs the f32 products: the dot-product kernels round activations to bf16 / int8,
# and a last-bit difference between a batched and a lone product's f32 sums can round an activation
# the other way (docs/SERVING.md). Scheduling (chunks, batches, shared prefixes) is what this checks.
export MLA_KERNELS=avx512-novnni
start_server "$W/server.log" "$M" --max-running 64
node "$SERVE_DIR/concurrency.js" "$BASE" v2lite 64 || die "concurrent streams differ from sequential runs"

# wait_metric NAME VALUE: polls /metrics until NAME == VALUE (10 s at most).
wait_metric() {
  local i v
  for i in $(seq 1 100); do
    v=$(metric "$1")
    [ "$v" = "$2" ] && return 0
    sleep 0.1
  done
  die "metric $1 is $v, expected $2"
}

# hang_up STREAM: starts a long generation with curl, waits until it runs, kills curl.
hang_up() {
  local body="{\"model\":\"v2lite\",\"prompt\":\"a long one\",\"max_tokens\":4000,\"temperature\":0,\"ignore_eos\":true,\"stream\":$1}"
  curl -sN "$BASE/v1/completions" -d "$body" > "$W/hangup.out" 2>&1 &
  local pid=$! i
  for i in $(seq 1 100); do
    [ "$(metric running_sequences)" = 1 ] && [ "$(metric kv_blocks_used)" -gt 0 ] && break
    sleep 0.05
  done
  [ "$(metric kv_blocks_used)" -gt 0 ] || die "the long request never held cache blocks"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}

cancelled=$(metric requests_cancelled_total)
hang_up true
wait_metric running_sequences 0
wait_metric kv_blocks_used 0
wait_metric kv_bytes_used 0
wait_metric requests_cancelled_total $((cancelled + 1))
hang_up false
wait_metric running_sequences 0
wait_metric kv_blocks_used 0
wait_metric requests_cancelled_total $((cancelled + 2))
[ "$(metric http_disconnects_total)" = 2 ] || die "http_disconnects_total: $(metric http_disconnects_total)"
# And the server still serves.
[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/v1/completions" -d '{"model":"v2lite","prompt":"ok","max_tokens":3}')" = 200 ] ||
  die "the server stopped serving after the disconnects"
echo "serve_concurrency: all checks passed"
