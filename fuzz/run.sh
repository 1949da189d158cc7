#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer + ASan + UBSan and runs each in turn: the file readers
# (safetensors, gguf) and the parsers of other untrusted text: tokenizer.json loading + encoding
# (tokenizer), chat-template rendering of arbitrary conversations (chat_template) and OpenAI request
# bodies (openai_request).
#   fuzz/run.sh [SECONDS] [TARGET...]     (default 60 seconds each; default targets: all five,
#                                          safetensors gguf tokenizer chat_template openai_request)
# Env: FUZZ_DIR (default <repo>/build-fuzz) holds the binaries, each target's seed corpus
#      (corpus-<target>), any crash files (artifacts-<target>) and each run's log (<target>.log);
#      FUZZ_JOBS (default 1) parallel fuzzing processes per target (logs then go to FUZZ_DIR/fuzz-N.log);
#      with FUZZ_JOBS=1, nproc targets fuzz at once, each for SECONDS;
#      CXX (default clang++).
# Not part of the CMake build: it needs clang with the libFuzzer runtime (libclang-rt-14-dev).
set -euo pipefail
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(safetensors gguf tokenizer chat_template openai_request)
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${FUZZ_DIR:-$root/build-fuzz}
cxx=${CXX:-clang++}
flags=(-std=c++20 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -I"$root/src" -I"$root/tests")
common=("$root/src/core/mapped_file.cpp" "$root/src/tensor/dtype.cpp")
tokenizer_sources=("$root/src/tokenizer/tokenizer.cpp" "$root/src/tokenizer/added_tokens.cpp"
                   "$root/src/tokenizer/bpe.cpp" "$root/src/tokenizer/byte_level.cpp"
                   "$root/src/tokenizer/pre_tokenizer.cpp" "$root/src/tokenizer/regex.cpp"
                   "$root/src/tokenizer/unicode_categories.cpp" "$root/src/tokenizer/utf8.cpp"
                   "$root/src/tokenizer/stream_decoder.cpp")

# Objects of this run (fresh each run, so never stale), shared by the targets that use the same
# source; compiled nproc at a time.
objdir="$dir/obj"
rm -rf "$objdir"
mkdir -p "$objdir"
# build_target OUT LIBS... -- SOURCES...: compiles what this run has not compiled yet, then links.
build_target() {
  local out=$1 libs=() objs=() src obj
  shift
  while [ "$1" != -- ]; do libs+=("$1"); shift; done
  shift
  for src in "$@"; do
    obj="$objdir/$(tr / _ <<< "${src#"$root"/}").o"
    objs+=("$obj")
    [ -e "$obj" ] && continue
    while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do wait -n || true; done
    ("$cxx" "${flags[@]}" -c "$src" -o "$obj.tmp" && mv "$obj.tmp" "$obj" || touch "$objdir/FAILED") &
  done
  wait
  [ ! -e "$objdir/FAILED" ] || { echo "fuzz/run.sh: compiling for $out failed" >&2; exit 1; }
  "$cxx" "${flags[@]}" -o "$out" "${objs[@]}" "${libs[@]}"
}

# fuzz_target TARGET MAX_LEN: one run of SECONDS, its output in $dir/TARGET.log.
fuzz_target() {
  local target=$1 max_len=$2 jobs=()
  # With -jobs, each process logs to fuzz-N.log in $dir instead of the log.
  [ "${FUZZ_JOBS:-1}" -gt 1 ] && jobs=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS")
  # -rss_limit_mb: the readers' caps (100 MB safetensors header, GGUF metadata limits) make big
  # allocations legitimate; keep well under the machine.
  (cd "$dir" && "$dir/${target}_fuzz" -max_total_time="$secs" -dict="$dir/$target.dict" -max_len="$max_len" \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/artifacts-$target/" "${jobs[@]}" \
    "$dir/corpus-$target") > "$dir/$target.log" 2>&1
}

max_lens=()
for target in "${targets[@]}"; do
  corpus="$dir/corpus-$target" artifacts="$dir/artifacts-$target"
  mkdir -p "$corpus" "$artifacts"
  libs=()
  case $target in
    safetensors) sources=("$root/src/formats/safetensors.cpp"); max_len=4096 ;;
    gguf) sources=("$root/src/formats/gguf.cpp" "$root/src/formats/gguf_writer.cpp" "$root/src/model/gguf_config.cpp"
                   "$root/src/model/gguf_names.cpp" "$root/src/formats/safetensors.cpp"
                   "$root/src/quants/dequantize.cpp" "$root/src/quants/dequantize_iq.cpp"
                   "$root/src/quants/iq_tables.cpp" "$root/src/quants/int8_unpack.cpp"); max_len=8192 ;;
    # A whole (small) tokenizer.json fits: 256 byte tokens, some merges, a text to encode.
    tokenizer) sources=("${tokenizer_sources[@]}"); libs=(-lpcre2-8); max_len=16384 ;;
    chat_template) sources=("$root/src/tokenizer/chat_template.cpp"); max_len=8192 ;;
    openai_request) sources=("$root/src/server/openai_request.cpp" "$root/src/tokenizer/chat_template.cpp"
                             "${tokenizer_sources[@]}"); libs=(-lpcre2-8); max_len=8192 ;;
    *) echo "unknown fuzz target $target (safetensors, gguf, tokenizer, chat_template, openai_request)" >&2; exit 2 ;;
  esac
  max_lens+=("$max_len")
  echo "building $dir/${target}_fuzz with $cxx"
  build_target "$dir/${target}_fuzz" "${libs[@]}" -- "$root/fuzz/${target}_fuzz.cpp" "${sources[@]}" "${common[@]}"
  # Seed corpus and dictionary (written by Python, stdlib only) so mutations reach the interesting
  # branches sooner.
  /usr/bin/python3 "$root/fuzz/seeds.py" "$target" "$corpus" "$dir/$target.dict"
done

# The targets fuzz side by side (one process each, nproc at a time; one at a time with FUZZ_JOBS > 1).
at_once=$(nproc)
[ "${FUZZ_JOBS:-1}" -gt 1 ] && at_once=1
declare -A pid_target=()
failed=()
# reap: waits for one run to end and reports it (its log's last lines; the whole tail on a failure).
reap() {
  local pid rc=0
  wait -n -p pid "${!pid_target[@]}" || rc=$?
  local target=${pid_target[$pid]}
  unset "pid_target[$pid]"
  if [ "$rc" -ne 0 ]; then
    echo "fuzzing $target FAILED (exit status $rc; log $dir/$target.log, crashes in $dir/artifacts-$target):" >&2
    tail -n 40 "$dir/$target.log" >&2
    failed+=("$target")
  else
    echo "fuzzing $target: done ($(grep -m1 -o 'stat::number_of_executed_units: [0-9]*' "$dir/$target.log" || echo 'no stats'))"
  fi
}
for i in "${!targets[@]}"; do
  target=${targets[$i]}
  while [ "${#pid_target[@]}" -ge "$at_once" ]; do reap; done
  echo "fuzzing $target for ${secs}s (corpus $dir/corpus-$target, crashes go to $dir/artifacts-$target)"
  fuzz_target "$target" "${max_lens[$i]}" &
  pid_target[$!]=$target
done
while [ "${#pid_target[@]}" -gt 0 ]; do reap; done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz/run.sh: ${failed[*]} failed" >&2; exit 1; }
