#!/usr/bin/env bash
# The main job: set up, build, and compare MLA with MHA, GQA and MQA on this machine with
# `mla bench` (synthetic models, no download). Results: a table on stdout, and out/bench.{json,csv},
# out/bench.svg (decode tok/s against context) and out/bench-kv.svg (KV memory against context).
#   scripts/bench.sh [extra mla bench flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
mkdir -p out
# The README's tables were measured with an f32 cache (every command's default is bf16 now): kept
# here so they can be reproduced; a --kv-type among the arguments overrides it.
kv=(--kv-type f32)
for a in "$@"; do case $a in --kv-type | --kv-type=*) kv=() ;; esac; done
./build/mla bench "${kv[@]}" --json out/bench.json --csv out/bench.csv --plot out/bench.svg "$@"
