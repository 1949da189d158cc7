#!/usr/bin/env bash
# Builds the safetensors fuzz target with libFuzzer + ASan + UBSan and runs it.
#   fuzz/run.sh [SECONDS]        (default 60)
# Env: FUZZ_DIR (default <repo>/build-fuzz) holds the binary, the seed corpus and any crash files;
#      FUZZ_JOBS (default 1) parallel fuzzing processes (logs then go to FUZZ_DIR/fuzz-N.log);
#      CXX (default clang++).
# Not part of the CMake build: it needs clang with the libFuzzer runtime (libclang-rt-14-dev).
set -euo pipefail
secs=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${FUZZ_DIR:-$root/build-fuzz}
cxx=${CXX:-clang++}
mkdir -p "$dir/corpus" "$dir/artifacts"

flags=(-std=c++20 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -I"$root/src")
echo "building $dir/safetensors_fuzz with $cxx"
"$cxx" "${flags[@]}" -o "$dir/safetensors_fuzz" \
  "$root/fuzz/safetensors_fuzz.cpp" "$root/src/formats/safetensors.cpp" \
  "$root/src/core/mapped_file.cpp" "$root/src/tensor/dtype.cpp"

# Seed corpus: small valid files of each dtype plus a few near-misses, written by Python (stdlib only).
/usr/bin/python3 - "$dir/corpus" <<'PY'
import json, os, struct, sys
out = sys.argv[1]
def st(header, data=b"", n=None):
    h = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h) if n is None else n) + h + data
def tensors(specs, meta=None):
    h, data = {}, b""
    if meta is not None: h["__metadata__"] = meta
    for name, dt, shape, size in specs:
        h[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(data), len(data) + size]}
        data += bytes(range(size % 256)) + b"\x01" * (size - size % 256)
    return st(h, data)
seeds = {
    "empty_header": st({}),
    "one_f32": tensors([("w", "F32", [2, 2], 16)]),
    "mixed": tensors([("a", "BF16", [3], 6), ("b", "F16", [1, 2], 4), ("c", "F8_E4M3", [], 1),
                      ("z", "F32", [0, 5], 0)], {"format": "pt"}),
    "padded": st(b'{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}    ', b"\0" * 4),
    "reordered": st(b'{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 8),
    "gap": st({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8),
    "overlap": st(b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', b"\0" * 12),
    "unicode": tensors([("\u00e9\u4e2d\U0001f600", "F32", [1], 4)]),
    "escapes": st(b'{"a\\u0000\\"":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4),
    "huge_dims": st({"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}}),
    "long_len": st({}, b"", 1 << 40),
}
for name, data in seeds.items():
    with open(os.path.join(out, "seed_" + name), "wb") as f:
        f.write(data)
PY

# Tokens that matter to the parser, so mutations reach the interesting branches sooner.
cat > "$dir/safetensors.dict" <<'DICT'
"{"
"}"
"\"dtype\""
"\"shape\""
"\"data_offsets\""
"\"__metadata__\""
"\"F32\""
"\"F16\""
"\"BF16\""
"\"F8_E4M3\""
"\"I64\""
"[0,0]"
"18446744073709551615"
"4294967296"
"-1"
"1.5"
"\xff"
"\\u0000"
DICT

echo "fuzzing for ${secs}s (corpus $dir/corpus, crashes go to $dir/artifacts)"
cd "$dir"
jobs=()
# With -jobs, each process logs to fuzz-N.log in $dir instead of the terminal.
[ "${FUZZ_JOBS:-1}" -gt 1 ] && jobs=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS")
# -rss_limit_mb: a 100 MB header cap means big inputs are legitimate; keep well under the machine.
"$dir/safetensors_fuzz" -max_total_time="$secs" -dict="$dir/safetensors.dict" -max_len=4096 \
  -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$dir/artifacts/" "${jobs[@]}" "$dir/corpus"
