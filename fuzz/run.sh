#!/usr/bin/env bash
# Builds the file-format fuzz targets with libFuzzer + ASan + UBSan and runs each in turn.
#   fuzz/run.sh [SECONDS] [TARGET...]     (default 60 seconds each; targets: safetensors gguf)
# Env: FUZZ_DIR (default <repo>/build-fuzz) holds the binaries, each target's seed corpus
#      (corpus-<target>) and any crash files (artifacts-<target>);
#      FUZZ_JOBS (default 1) parallel fuzzing processes (logs then go to FUZZ_DIR/fuzz-N.log);
#      CXX (default clang++).
# Not part of the CMake build: it needs clang with the libFuzzer runtime (libclang-rt-14-dev).
set -euo pipefail
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(safetensors gguf)
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${FUZZ_DIR:-$root/build-fuzz}
cxx=${CXX:-clang++}
flags=(-std=c++20 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -I"$root/src")
common=("$root/src/core/mapped_file.cpp" "$root/src/tensor/dtype.cpp")

for target in "${targets[@]}"; do
  corpus="$dir/corpus-$target" artifacts="$dir/artifacts-$target"
  mkdir -p "$corpus" "$artifacts"
  case $target in
    safetensors) sources=("$root/src/formats/safetensors.cpp"); max_len=4096 ;;
    gguf) sources=("$root/src/formats/gguf.cpp" "$root/src/formats/gguf_writer.cpp" "$root/src/model/gguf_config.cpp"
                   "$root/src/model/gguf_names.cpp" "$root/src/formats/safetensors.cpp"
                   "$root/src/quants/dequantize.cpp" "$root/src/quants/dequantize_iq.cpp"
                   "$root/src/quants/iq_tables.cpp" "$root/src/quants/int8_unpack.cpp"); max_len=8192 ;;
    *) echo "unknown fuzz target $target (safetensors, gguf)" >&2; exit 2 ;;
  esac
  echo "building $dir/${target}_fuzz with $cxx"
  "$cxx" "${flags[@]}" -o "$dir/${target}_fuzz" "$root/fuzz/${target}_fuzz.cpp" "${sources[@]}" "${common[@]}"
  # Seed corpus and dictionary (written by Python, stdlib only) so mutations reach the interesting
  # branches sooner.
  /usr/bin/python3 "$root/fuzz/seeds.py" "$target" "$corpus" "$dir/$target.dict"

  echo "fuzzing $target for ${secs}s (corpus $corpus, crashes go to $artifacts)"
  jobs=()
  # With -jobs, each process logs to fuzz-N.log in $dir instead of the terminal.
  [ "${FUZZ_JOBS:-1}" -gt 1 ] && jobs=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS")
  # -rss_limit_mb: the readers' caps (100 MB safetensors header, GGUF metadata limits) make big
  # allocations legitimate; keep well under the machine.
  (cd "$dir" && "$dir/${target}_fuzz" -max_total_time="$secs" -dict="$dir/$target.dict" -max_len="$max_len" \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" "${jobs[@]}" "$corpus")
done
