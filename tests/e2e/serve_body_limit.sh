#!/usr/bin/env bash
# End-to-end: an oversized request body is answered with a 413 the client can read (issue 14), not
# a connection reset: the server refuses while the client is still sending, so it half-closes after
# the 413 and drains what is still coming, bounded in bytes and seconds. Clients: Node's fetch
# (Content-Length and chunked bodies) and the official `openai` client posting 20 MB
# (serve/body_limit.js); Python's http.client, which sends the whole body before it reads; then the
# bounds: a client that stops sending, or sends forever, is cut off and the server keeps serving.
source "$(dirname "$0")/serve/lib.bash"
work_dir serve_body_limit
need_openai
M="$W/v2lite"
make_model "$M" --variant v2-lite --dtype bf16
start_server "$W/server.log" "$M"  # the default --max-body (4 MiB)
node "$SERVE_DIR/body_limit.js" "$BASE" v2lite || die "oversized bodies through fetch / openai"

"$PYTHON" - "${BASE##*:}" <<'PY' || die "oversized bodies through a raw client"
import http.client, json, socket, sys, time

port = int(sys.argv[1])
BIG = 20 * 1000 * 1000
DRAIN_SECONDS = 5  # HttpLimits::drain_seconds


def check_413(status, body, where):
    assert status == 413, f"{where}: status {status}"
    err = json.loads(body)["error"]
    assert err["code"] == "body_too_large" and err["type"] == "invalid_request_error", (where, err)


# http.client writes the whole body before it reads the answer.
for round in range(3):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", "/v1/chat/completions", body=b"z" * BIG, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    check_413(r.status, r.read(), f"http.client round {round}")
    assert r.getheader("Connection", "").lower() == "close", r.getheaders()
    c.close()


def read_reply(s):
    reply = b""
    while chunk := s.recv(65536):
        reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


# A client that announces 20 MB, sends a little and then stalls: it reads its 413 (the server
# half-closes), and the server closes its end once the drain time is up (a later send is reset).
s = socket.create_connection(("127.0.0.1", port), timeout=30)
s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n{" % BIG)
check_413(*read_reply(s), "stalled client")
time.sleep(DRAIN_SECONDS + 2)
try:
    for _ in range(20):
        s.sendall(b"x" * 1024)
        time.sleep(0.05)
    raise AssertionError("the server still holds a stalled client's connection after its drain time")
except (BrokenPipeError, ConnectionResetError):
    pass
s.close()

# A client that sends forever (1 GB announced): cut off after the drain's byte bound (64 MiB).
s = socket.create_connection(("127.0.0.1", port), timeout=30)
s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (1 << 30))
sent, start = 0, time.monotonic()
try:
    while sent < (1 << 30):
        s.sendall(b"w" * (1 << 20))
        sent += 1 << 20
    raise AssertionError("the server drained a whole 1 GB body")
except (BrokenPipeError, ConnectionResetError):
    pass
assert sent <= 96 << 20, f"the server drained {sent >> 20} MiB"
s.close()
print(f"http.client: 3 x 413 read; stalled client cut off; endless sender cut off after {sent >> 20} MiB")
PY

# Still serving.
status=$(curl -s -o "$W/ok.json" -w '%{http_code}' "$BASE/v1/completions" -d '{"model":"v2lite","prompt":"a","max_tokens":2}')
[ "$status" = 200 ] || die "a normal request after the oversized ones answered $status: $(cat "$W/ok.json")"
kill -0 "$SERVER_PID" || die "the server died"
echo "serve_body_limit: all checks passed"
