"""Sends every case of bad_requests.json to a running `mla serve` over a raw socket (so bodies can
be invalid UTF-8, chunked or oversized) and checks each answer: the expected 4xx status and an
OpenAI error object {"error": {"message": str, "type": str, "param", "code"}}. After each case the
server must still answer /health, and after all of them a good completion must still work.

Usage: bad_requests.py CORPUS PORT MODEL
"""
import json
import socket
import sys


def build(case, model):
    if "raw" in case:
        return case["raw"].encode()
    if "body_hex" in case:
        body = bytes.fromhex(case["body_hex"])
    elif "body_repeat" in case:
        parts = case["body_repeat"]
        body = "".join(parts[i] * parts[i + 1] for i in range(0, len(parts), 2)).encode()
    else:
        body = case["body"].encode()
    body = body.replace(b"%%MODEL%%", model.encode())
    head = [f"{case.get('method', 'POST')} {case['path']} HTTP/1.1", "Host: localhost", "Connection: close",
            "Content-Type: application/json"]
    if "extra_header" in case:
        name, value = case["extra_header"]
        head.append(f"{name}: {'y' * 20000 if value == '%%BIG_HEADER%%' else value}")
    if case.get("chunked"):
        head.append("Transfer-Encoding: chunked")
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 65536]), body[i:i + 65536])
                          for i in range(0, len(body), 65536))
        return ("\r\n".join(head) + "\r\n\r\n").encode() + chunks + b"0\r\n\r\n"
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def exchange(port, data):
    """Sends data (the server may answer and close before all of it is sent) and reads the reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = b""
        try:
            while chunk := s.recv(65536):
                reply += chunk
        except ConnectionResetError:
            pass
    head, _, body = reply.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.1 ") else 0
    if b"transfer-encoding: chunked" in head.lower():
        raise ValueError("unexpected chunked reply")
    return status, body


def request(port, method, path, body=b""):
    data = (f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    return exchange(port, data)


def main():
    corpus, port, model = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    cases = json.load(open(corpus))["cases"]
    failures = []
    for case in cases:
        status, body = exchange(port, build(case, model))
        why = None
        if status != case["status"]:
            why = f"status {status}, expected {case['status']}"
        else:
            try:
                err = json.loads(body)["error"]
                if not (isinstance(err["message"], str) and err["message"] and isinstance(err["type"], str)
                        and "param" in err and "code" in err):
                    why = f"not an OpenAI error object: {body[:200]!r}"
            except (ValueError, KeyError, TypeError):
                why = f"not an OpenAI error object: {body[:200]!r}"
        if why is None and request(port, "GET", "/health")[0] != 200:
            why = "the server stopped answering /health"
        print(f"{'ok  ' if why is None else 'FAIL'} {case['name']}: {status} "
              f"{body[:120].decode('utf-8', 'replace') if why is None else why}")
        if why:
            failures.append(case["name"])
    good = json.dumps({"model": model, "prompt": "still here", "max_tokens": 4}).encode()
    status, body = request(port, "POST", "/v1/completions", good)
    if status != 200 or json.loads(body)["usage"]["completion_tokens"] != 4:
        failures.append(f"good request after the corpus: {status} {body[:200]!r}")
    print(f"{len(cases) - len(failures)} / {len(cases)} malformed requests answered as expected")
    if failures:
        print("failed: " + ", ".join(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
