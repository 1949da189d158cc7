#!/usr/bin/env bash
# End-to-end: `mpirun -np 2 mla serve` (docs/DISTRIBUTED.md): rank 0 serves HTTP and runs the
# engine over the first layers, rank 1 the rest. On a tiny V2-Lite-like checkpoint (3 layers:
# 0-1 | 2):
#   - a set of requests (greedy and seeded sampling, a prompt prefilled in two chunks, logprobs,
#     n = 2, chat) answers exactly what the single-process server answers, with decode steps split
#     into up to 3 micro-batches in flight at once (--micro-batches 3) and without (1);
#   - the official openai client's checks (serve/openai_client.js) and 64 concurrent streams each
#     equal to its sequential text (serve/concurrency.js) pass against the split server (3
#     micro-batches);
#   - SIGTERM to rank 0 stops every rank cleanly (mpirun exits 0); SIGTERM to mpirun ends every
#     rank; an error while starting (a bad --split-layers) ends every rank with one message;
#   - split by experts instead (--split experts): the same answers within 1e-4 (the experts'
#     outputs are summed in another order), the openai client's checks, 64 concurrent streams, a
#     clean stop.
#
# Exits 77 (CTest: skipped) when mpirun is missing or mla was built without MPI.
source "$(dirname "$0")/serve/lib.bash"
work_dir mpi_serve
source "$(dirname "$0")/mpi_env.bash"
# Open MPI pins each of two ranks to one core by default: unpinned, they share the cores with the
# clients and the rest of the test (docs/DISTRIBUTED.md).
MPIRUN=(mpirun --oversubscribe --bind-to none -np 2)
if "${MPIRUN[@]}" "$MLA_BIN" serve --help > "$W/probe.log" 2>&1; then :; else
  grep -q "built without MPI" "$W/probe.log" && { echo "SKIP: $MLA_BIN was built without MPI"; exit 77; }
  die "mpirun -np 2 mla serve --help: $(cat "$W/probe.log")"
fi
need_openai
M="$W/v2lite"
make_model "$M" --variant v2-lite --dtype bf16 --max-pos 4096
# As in serve_concurrency.sh: f32 products, so that a row's result does not depend on its batch.
export MLA_KERNELS=avx512-novnni
KEY=mpi-key
SERVE_ARGS=(--threads 1 --api-key "$KEY")

# ask OUT: the requests below, one normalized JSON answer a line (ids and times left out).
ask() {
  "$PYTHON" - "$BASE" "$KEY" "$1" <<'PY'
import json, sys, urllib.request
base, key, out = sys.argv[1:4]
long_prompt = " ".join(f"latent{i % 17}" for i in range(200))  # > 256 tokens: two prefill chunks
reqs = [
    ("completions", {"prompt": "Multi-head latent attention", "max_tokens": 20, "temperature": 0, "ignore_eos": True}),
    ("completions", {"prompt": long_prompt, "max_tokens": 8, "temperature": 0, "ignore_eos": True}),
    ("completions", {"prompt": "KV cache", "max_tokens": 6, "temperature": 0, "logprobs": 3, "ignore_eos": True}),
    ("completions", {"prompt": "Sampled", "max_tokens": 10, "temperature": 0.9, "top_p": 0.9, "seed": 7, "n": 2,
                     "ignore_eos": True}),
    ("chat/completions", {"messages": [{"role": "user", "content": "Why MLA?"}], "max_tokens": 12, "temperature": 0}),
]
with open(out, "w") as f:
    for path, body in reqs:
        body["model"] = "v2lite"
        req = urllib.request.Request(f"{base}/v1/{path}", json.dumps(body).encode(),
                                     {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        ans = json.load(urllib.request.urlopen(req, timeout=120))
        f.write(json.dumps({"choices": ans["choices"], "usage": ans["usage"]}, sort_keys=True) + "\n")
PY
}

# The single-process server's answers.
start_server "$W/one.log" "$M" "${SERVE_ARGS[@]}"
ask "$W/one.jsonl" || die "requests to the single-process server failed"
stop_servers

SERVE_LAUNCHER=("${MPIRUN[@]}")
start_server "$W/mpi.log" "$M" "${SERVE_ARGS[@]}" --micro-batches 3
grep -Eq "^1 +2-2 " "$W/mpi.log" || die "no two-rank plan in the log: $(cat "$W/mpi.log")"
ask "$W/mpi.jsonl" || die "requests to the split server failed"
cmp -s "$W/one.jsonl" "$W/mpi.jsonl" || die "the split server answers differently: $(diff "$W/one.jsonl" "$W/mpi.jsonl")"
echo "ok   $(wc -l < "$W/mpi.jsonl") requests: the same answers as one process (3 micro-batches)"
node "$SERVE_DIR/openai_client.js" "$BASE" "$KEY" v2lite || die "openai client checks failed against the split server"
node "$SERVE_DIR/concurrency.js" "$BASE" v2lite 64 "$KEY" || die "concurrent streams differ from sequential runs (split server)"

# descendants PID: every process below PID.
descendants() {
  local p
  for p in $(pgrep -P "$1"); do
    echo "$p"
    descendants "$p"
  done
}
# The server's ranks (mla processes under mpirun); RANK0: rank 0's pid.
find_ranks() {
  RANKS=()
  RANK0=""
  local p
  for p in $(descendants "$SERVER_PID"); do
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = mla ] || continue
    RANKS+=("$p")
    tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=0 && RANK0=$p
  done
  [ ${#RANKS[@]} = 2 ] && [ -n "$RANK0" ] || die "expected 2 mla ranks under mpirun, found: ${RANKS[*]}"
}
# wait_gone SECONDS PID...: polls until none of the processes exists.
wait_gone() {
  local limit=$1 i p alive
  shift
  for i in $(seq 1 $((limit * 10))); do
    alive=0
    for p in "$@"; do kill -0 "$p" 2> /dev/null && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.1
  done
  return 1
}

# SIGTERM to rank 0 (a server stopped by its own signal): rank 1 leaves its loop, both finalize,
# mpirun exits 0.
find_ranks
kill -TERM "$RANK0"
wait_gone 10 "$SERVER_PID" "${RANKS[@]}" || die "the ranks did not stop within 10 s of SIGTERM to rank 0"
rc=0
wait "$SERVER_PID" || rc=$?
SERVER_PIDS=()
[ $rc = 0 ] || die "mpirun exited $rc after SIGTERM to rank 0: $(tail -5 "$W/mpi.log")"
grep -q "mla serve: SIGTERM, stopping" "$W/mpi.log" || die "rank 0 did not say it stopped: $(tail -5 "$W/mpi.log")"
! grep -q "mla: error" "$W/mpi.log" || die "errors while stopping: $(cat "$W/mpi.log")"
echo "ok   SIGTERM to rank 0: every rank stopped, mpirun exited 0"

# SIGTERM to mpirun (Ctrl-C or a service manager): mpirun signals every rank; rank 0 stops the
# others, which ignore the signal themselves. mpirun itself reports the signal (non-zero). This
# server runs without micro-batches and answers as one process too.
start_server "$W/mpi2.log" "$M" "${SERVE_ARGS[@]}" --micro-batches 1
ask "$W/mpi2.jsonl" || die "requests to the split server (--micro-batches 1) failed"
cmp -s "$W/one.jsonl" "$W/mpi2.jsonl" ||
  die "the split server (--micro-batches 1) answers differently: $(diff "$W/one.jsonl" "$W/mpi2.jsonl")"
echo "ok   $(wc -l < "$W/mpi2.jsonl") requests: the same answers as one process (no micro-batches)"
find_ranks
kill -TERM "$SERVER_PID"
wait_gone 15 "$SERVER_PID" "${RANKS[@]}" || die "the ranks did not end within 15 s of SIGTERM to mpirun"
SERVER_PIDS=()
! grep -q "mla: error" "$W/mpi2.log" || die "errors while stopping: $(cat "$W/mpi2.log")"
echo "ok   SIGTERM to mpirun: every rank ended"

# An error while starting ends every rank with one message (rank 0 plans the split).
"${MPIRUN[@]}" "$MLA_BIN" serve -m "$M" --port 0 --threads 1 --split-layers 0-5 > "$W/bad.log" 2>&1 &
pid=$!
wait_gone 30 "$pid" || { kill "$pid"; die "a bad --split-layers hung"; }
wait "$pid" && die "a bad --split-layers exited 0"
[ "$(grep -c "mla: error" "$W/bad.log")" = 1 ] && grep -q "mla: error (rank 0 of 2): --split-layers" "$W/bad.log" ||
  die "a bad --split-layers: not one message: $(cat "$W/bad.log")"

# The expert split (--split experts): rank 0 serves and runs the model with a share of the routed
# experts, rank 1 holds the rest. The experts' outputs are added in another order than in one
# process, so logits move by ~1e-7 relative: the answers must match to their text, tokens and
# logprobs within 1e-4.
start_server "$W/experts.log" "$M" "${SERVE_ARGS[@]}" --split experts
grep -q "expert split over 2 ranks" "$W/experts.log" || die "no expert plan in the log: $(cat "$W/experts.log")"
ask "$W/experts.jsonl" || die "requests to the expert-split server failed"
"$PYTHON" - "$W/one.jsonl" "$W/experts.jsonl" <<'PY' || die "the expert-split server answers differently"
import json, math, sys
def same(a, b, path="answer"):
    if isinstance(a, float) or isinstance(b, float):
        if not math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-4):
            sys.exit(f"{path}: {a} vs {b}")
    elif isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            sys.exit(f"{path}: keys {sorted(a)} vs {sorted(b)}")
        for k in a:
            same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            sys.exit(f"{path}: {len(a)} vs {len(b)} items")
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{path}[{i}]")
    elif a != b:
        sys.exit(f"{path}: {a!r} vs {b!r}")
one, split = (open(p).read().splitlines() for p in sys.argv[1:3])
if len(one) != len(split):
    sys.exit(f"{len(one)} vs {len(split)} answers")
for i, (a, b) in enumerate(zip(one, split)):
    same(json.loads(a), json.loads(b), f"request {i}")
PY
echo "ok   $(wc -l < "$W/experts.jsonl") requests: the same answers as one process (expert split)"
node "$SERVE_DIR/openai_client.js" "$BASE" "$KEY" v2lite || die "openai client checks failed against the expert-split server"
node "$SERVE_DIR/concurrency.js" "$BASE" v2lite 64 "$KEY" || die "concurrent streams differ from sequential runs (expert split)"
find_ranks
kill -TERM "$RANK0"
wait_gone 10 "$SERVER_PID" "${RANKS[@]}" || die "the expert-split ranks did not stop within 10 s of SIGTERM to rank 0"
rc=0
wait "$SERVER_PID" || rc=$?
SERVER_PIDS=()
[ $rc = 0 ] || die "mpirun exited $rc after SIGTERM to rank 0 (expert split): $(tail -5 "$W/experts.log")"
! grep -q "mla: error" "$W/experts.log" || die "errors while stopping (expert split): $(cat "$W/experts.log")"
echo "ok   expert split: openai client, 64 concurrent streams, SIGTERM to rank 0 stopped every rank"
echo "mpi_serve: all checks passed"
