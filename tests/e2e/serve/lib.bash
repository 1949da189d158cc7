# Shared by tests/e2e/serve_*.sh (sourced): environment, a tiny model, and `mla serve` started on a
# free port (--port 0; the port is read from its "listening on" line) and always killed on exit.
#
# Environment: MLA_BIN, MLA_SOURCE_DIR, MLA_WORK as for every e2e test; NODE_PATH may add a
# directory holding the `openai` npm package (default: tests/js/node_modules).
set -euo pipefail
: "${MLA_BIN:?MLA_BIN must point at the mla binary}"
MLA_SOURCE_DIR=${MLA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
MLA_WORK=${MLA_WORK:-${TMPDIR:-/tmp}/mla-e2e}
PYTHON=${PYTHON:-/usr/bin/python3}
[ -x "$PYTHON" ] || PYTHON=python3
SERVE_DIR="$MLA_SOURCE_DIR/tests/e2e/serve"
export NODE_PATH="$MLA_SOURCE_DIR/tests/js/node_modules${NODE_PATH:+:$NODE_PATH}"

die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

# work_dir NAME: a fresh scratch directory $W.
work_dir() {
  W="$MLA_WORK/$1"
  rm -rf "$W"
  mkdir -p "$W"
}

# make_model DIR ARGS...: tools/gen_checkpoint.py --out DIR ARGS...
make_model() {
  local out=$1
  shift
  "$PYTHON" "$MLA_SOURCE_DIR/tools/gen_checkpoint.py" --out "$out" "$@" > "$out.gen.log" 2>&1 ||
    { cat "$out.gen.log" >&2; die "gen_checkpoint.py failed"; }
}

need_openai() {
  node -e "require.resolve('openai')" 2>/dev/null ||
    die "the openai npm package is missing (npm ci in tests/js, or NODE_PATH=DIR/node_modules)"
}

SERVER_PIDS=()
stop_servers() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${SERVER_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  SERVER_PIDS=()
}
trap stop_servers EXIT

# Words put before `mla serve` by start_server: mpi_serve.sh sets (mpirun -np 2); SERVER_PID is
# then the launcher's.
SERVE_LAUNCHER=()

# start_server LOG MODEL_DIR ARGS...: starts `mla serve`, waits until /health answers 200 and sets
# BASE (http://127.0.0.1:PORT) and SERVER_PID.
start_server() {
  local log=$1 model=$2
  shift 2
  : > "$log"  # exists before the server's own redirect opens it: the loop below reads it at once
  "${SERVE_LAUNCHER[@]}" "$MLA_BIN" serve -m "$model" --port 0 "$@" > "$log" 2>&1 &
  SERVER_PID=$!
  SERVER_PIDS+=("$SERVER_PID")
  local port="" i
  for i in $(seq 1 300); do
    port=$(sed -n 's/^mla serve: listening on http:\/\/[^ ]*:\([0-9][0-9]*\)$/\1/p' "$log")
    [ -n "$port" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log" >&2; die "mla serve exited"; }
    sleep 0.1
  done
  [ -n "$port" ] || die "mla serve printed no port"
  BASE="http://127.0.0.1:$port"
  for i in $(seq 1 600); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/health")" = 200 ] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log" >&2; die "mla serve exited"; }
    sleep 0.1
  done
  die "mla serve did not become ready"
}

# metric NAME: the value of one Prometheus metric (needs $AUTH when the server has a key).
metric() {
  curl -sf ${AUTH:+-H "$AUTH"} "$BASE/metrics" | awk -v n="mla_$1" '$1 == n { print $2 }'
}
