#!/usr/bin/env bash
# End-to-end: a corpus of malformed requests (tests/e2e/serve/bad_requests.json: bad JSON, wrong
# types, out-of-range numbers, invalid UTF-8, unknown model, oversized bodies and headers), each
# answered with its 4xx status and an OpenAI error object while the server keeps serving; then the
# limits: a full queue (429) and the per-request timeout.
source "$(dirname "$0")/serve/lib.bash"
work_dir serve_bad_requests
M="$W/v2lite"
make_model "$M" --variant v2-lite --dtype bf16
start_server "$W/server.log" "$M" --max-body 1MiB
"$PYTHON" "$SERVE_DIR/bad_requests.py" "$SERVE_DIR/bad_requests.json" "${BASE##*:}" v2lite > "$W/cases.log" 2>&1 ||
  { cat "$W/cases.log" >&2; die "malformed requests were not all refused cleanly"; }
tail -1 "$W/cases.log"
kill -0 "$SERVER_PID" || die "the server died"

# Limits: a full queue is 429, a request past --timeout ends with finish_reason "timeout".
stop_servers
start_server "$W/queue.log" "$M" --max-queue 0
status=$(curl -s -o "$W/queue.json" -w '%{http_code}' "$BASE/v1/completions" -d '{"model":"v2lite","prompt":"a","max_tokens":2}')
[ "$status" = 429 ] || die "a full queue answered $status, expected 429"
"$PYTHON" -c "import json,sys; e=json.load(open(sys.argv[1]))['error']; assert e['code']=='queue_full', e" "$W/queue.json" ||
  die "429 body: $(cat "$W/queue.json")"
stop_servers
start_server "$W/timeout.log" "$M" --timeout 0.000001
curl -s "$BASE/v1/completions" -d '{"model":"v2lite","prompt":"a","max_tokens":100,"ignore_eos":true}' > "$W/timeout.json"
"$PYTHON" -c "import json,sys; c=json.load(open(sys.argv[1]))['choices'][0]; assert c['finish_reason']=='timeout', c" \
  "$W/timeout.json" || die "timeout: $(cat "$W/timeout.json")"
echo "serve_bad_requests: all checks passed"
