#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite twice: a release build, then an ASan + UBSan build.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

scripts/setup.sh build
# The reference suites' checkpoints and Python reference outputs, computed by the release pass and
# reused by the sanitizer pass (tests/reference/run_cases.sh).
export MLA_REF_CACHE="$PWD/build/e2e-ref-cache"
rm -rf "$MLA_REF_CACHE"
(cd build && ctest --output-on-failure -j"$jobs")

MLA_TARGETS="mla mla_tests" scripts/setup.sh build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMLA_SANITIZE=ON
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Every mla command runs again under the sanitizers; the checks of other programs against mla's
# numbers (llama.cpp's greedy ids, its dequantizer against the numpy one) ran in the release pass.
(cd build-asan && MLA_E2E_PEER_CHECKS=0 ctest --output-on-failure -j"$jobs")
# A short fuzz run of each parser of untrusted input (libFuzzer + ASan + UBSan): safetensors, GGUF,
# tokenizer.json, chat templates, OpenAI request bodies; any crash fails.
fuzz/run.sh "${MLA_FUZZ_SECONDS:-20}"
echo "all tests passed (release, ASan+UBSan, fuzzing)"
