#!/usr/bin/env bash
# End-to-end: a corpus of malformed requests (tests/e2e/serve/bad_requests.json: bad JSON, wrong
# types, out-of-range numbers, invalid UTF-8, unknown model, oversized bodies and headers), each
# answered with its 4xx status and an OpenAI error object while the server keeps serving.
source "$(dirname "$0")/serve/lib.bash"
work_dir serve_bad_requests
M="$W/v2lite"
make_model "$M" --variant v2-lite --dtype bf16
start_server "$W/server.log" "$M" --max-body 1MiB
"$PYTHON" "$SERVE_DIR/bad_requests.py" "$SERVE_DIR/bad_requests.json" "${BASE##*:}" v2lite > "$W/cases.log" 2>&1 ||
  { cat "$W/cases.log" >&2; die "malformed requests were not all refused cleanly"; }
tail -1 "$W/cases.log"
kill -0 "$SERVER_PID" || die "the server died"
