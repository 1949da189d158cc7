#!/usr/bin/env bash
# mla against llama.cpp on the same GGUF file, measured the way llama-bench measures: pp<P> prefills
# P random tokens after `depth` cached tokens, tg<N> decodes N tokens one at a time after `depth`.
# llama.cpp is node-llama-cpp's prebuilt CPU build (bench/peer, installed here with `npm ci` when
# missing; never built from source, nothing downloaded at run time), timed by bench/peer/llama_bench.mjs
# with flash attention off and on (the faster one counts).
#
#   scripts/peer_bench.sh FILE.gguf [-p 512,4096] [-n 64] [-d 0,4096] [-r 3] [-t 2] [--md OUT.md]
#
# Defaults, each also settable by environment: PEER_P=512,4096 PEER_N=64 PEER_D=0,4096 PEER_R=3
# PEER_T=2; MLA=build/mla (the binary); OUT_DIR=out/peer (both JSON files, kept).
# MLA_JSON / LLAMA_JSON: use that existing result file instead of running mla / llama.cpp.
# Prints a table per (test, depth): mla t/s, llama.cpp t/s (fa on/off), mla / llama.cpp; --md also
# writes it as markdown. -n takes one value (mla bench's -n does); -p and -d take lists.
# On machines with few cores also run with -t 1: node-llama-cpp's llama.cpp starts fresh threads
# for every decode step when t > 1 (see bench/peer/llama_bench.mjs), which slows its decode there.
set -euo pipefail

usage() { sed -n '8p' "$0" | sed 's/^# *//'; exit 2; }
[ $# -ge 1 ] || usage
model=$1; shift
p=${PEER_P:-512,4096} n=${PEER_N:-64} d=${PEER_D:-0,4096} r=${PEER_R:-3} t=${PEER_T:-2} md=""
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || usage
  case $1 in
    -p) p=$2 ;; -n) n=$2 ;; -d) d=$2 ;; -r) r=$2 ;; -t) t=$2 ;; --md) md=$2 ;;
    *) echo "peer_bench: unknown argument $1" >&2; usage ;;
  esac
  shift 2
done
[ -f "$model" ] || { echo "peer_bench: no such file: $model" >&2; exit 1; }
# Arguments are paths from the caller's directory; the environment's are from the repository root.
model=$(realpath "$model")
[ -z "$md" ] || md=$(realpath -m "$md")
cd "$(dirname "$0")/.."
mla=${MLA:-build/mla}
out=${OUT_DIR:-out/peer}
mkdir -p "$out"
settings=(-p "$p" -n "$n" -d "$d" -r "$r" -t "$t")

# The peer: exactly the versions in bench/peer/package-lock.json. --ignore-scripts: node-llama-cpp's
# postinstall would try to build llama.cpp from source when its prebuilt binary does not load;
# llama_bench.mjs fails with the loader's error instead.
if [ -z "${LLAMA_JSON:-}" ] && { [ ! -d bench/peer/node_modules/node-llama-cpp ] ||
                                 [ ! -d bench/peer/node_modules/@node-llama-cpp/linux-x64 ]; }; then
  command -v npm >/dev/null || { echo "peer_bench: needs node and npm (scripts/setup.sh installs them)" >&2; exit 1; }
  (cd bench/peer && npm ci --omit=optional --ignore-scripts --no-audit --no-fund --loglevel=error)
fi

mla_json=${MLA_JSON:-$out/mla.json}
if [ -z "${MLA_JSON:-}" ]; then
  echo "== mla: $mla bench --model $model ${settings[*]}"
  "$mla" bench --model "$model" "${settings[@]}" --json "$mla_json"
fi
llama_json=${LLAMA_JSON:-$out/llama.cpp.json}
if [ -z "${LLAMA_JSON:-}" ]; then
  echo "== llama.cpp: bench/peer/llama_bench.mjs --model $model ${settings[*]}"
  node bench/peer/llama_bench.mjs --model "$model" "${settings[@]}" --json "$llama_json"
fi

echo "== mla vs llama.cpp"
node bench/peer/compare.mjs "$mla_json" "$llama_json" ${md:+--md "$md"}
