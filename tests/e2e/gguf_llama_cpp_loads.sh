#!/usr/bin/env bash
# End-to-end: GGUF files `mla convert` writes load in llama.cpp (node-llama-cpp's prebuilt CPU build,
# bench/peer) and continue a prompt as mla does: for a V2-Lite-like model with 4 layers and no
# q_lora_rank (llama.cpp reads deepseek2.attention.q_lora_rank without a default), a V3-like model
# and a Llama GQA model, each converted to F16, llama.cpp's 16 greedy ids (bench/peer/greedy.mjs)
# must equal `mla generate`'s, and their BF16, Q8_0 and Q4_0 files must load and run in llama.cpp. And a directory without tokenizer.json is refused (llama.cpp cannot
# load a GGUF without tokenizer.ggml.model) unless --no-tokenizer is given, which warns.
# Exits 0 with "skipped" when the peer is not installed (scripts/setup.sh installs it).
# Environment: MLA_BIN, MLA_SOURCE_DIR, MLA_WORK.
set -u
: "${MLA_BIN:?MLA_BIN must point at the mla binary}"
MLA_SOURCE_DIR=${MLA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
MLA_WORK=${MLA_WORK:-${TMPDIR:-/tmp}/mla-e2e}
PYTHON=${PYTHON:-/usr/bin/python3}
if [ ! -d "$MLA_SOURCE_DIR/bench/peer/node_modules/@node-llama-cpp/linux-x64" ]; then
  echo "gguf_llama_cpp_loads: skipped: peer not installed (scripts/setup.sh installs bench/peer)"
  exit 0
fi
W="$MLA_WORK/gguf_llama_cpp_loads"
rm -rf "$W"
mkdir -p "$W"
TOKENS=1,5,9,33,70,100,200,3
N=16
failed=0
report() { printf '%-6s %s: %s\n' "$1" "$2" "$3"; [ "$1" = PASS ] || failed=$((failed + 1)); }

# name | gen_checkpoint.py arguments
CASES=(
  "v2-lite-4-layers-no-q-lora|--variant v2-lite --layers 4 --seed 5"
  "v3|--variant v3 --seed 6"
  "llama-gqa|--variant llama-gqa --seed 7"
)
for entry in "${CASES[@]}"; do
  name=${entry%%|*} args=${entry#*|}
  dir="$W/$name" gguf="$W/$name.gguf"
  # shellcheck disable=SC2086
  if ! "$PYTHON" "$MLA_SOURCE_DIR/tools/gen_checkpoint.py" $args --dtype bf16 --out "$dir" > "$W/$name.log" 2>&1 ||
     ! "$MLA_BIN" convert --model "$dir" --to gguf --type f16 --out "$gguf" >> "$W/$name.log" 2>&1; then
    report FAIL "$name" "$(tail -n 1 "$W/$name.log")"; continue
  fi
  if ! peer=$(node "$MLA_SOURCE_DIR/bench/peer/greedy.mjs" --model "$gguf" --tokens "$TOKENS" -n $N 2>> "$W/$name.log"); then
    report FAIL "$name" "llama.cpp did not load or run the file: $(tail -n 1 "$W/$name.log")"; continue
  fi
  if ! "$MLA_BIN" generate --model "$gguf" --tokens "$TOKENS" -n $N --temperature 0 --ignore-eos --kv-type f32 \
       --json-out "$W/$name.json" >> "$W/$name.log" 2>&1; then
    report FAIL "$name" "mla generate: $(tail -n 1 "$W/$name.log")"; continue
  fi
  mla=$("$PYTHON" -c 'import json,sys; print(",".join(map(str, json.load(open(sys.argv[1]))["ids"])))' "$W/$name.json")
  peer=$(tr -d '[] ' <<< "$peer")
  if [ "$peer" = "$mla" ]; then
    report PASS "$name" "llama.cpp loads the F16 file; the same $N greedy ids: $mla"
  else
    report FAIL "$name" "greedy ids differ: llama.cpp $peer, mla $mla"
  fi
  # The other types mla convert writes load and run in llama.cpp too.
  for type in bf16 q8_0 q4_0; do
    if "$MLA_BIN" convert --model "$dir" --to gguf --type $type --out "$W/$name.$type.gguf" >> "$W/$name.log" 2>&1 &&
       node "$MLA_SOURCE_DIR/bench/peer/greedy.mjs" --model "$W/$name.$type.gguf" --tokens "$TOKENS" -n 2 >> "$W/$name.log" 2>&1; then
      report PASS "$name/$type" "llama.cpp loads and runs the file"
    else
      report FAIL "$name/$type" "$(tail -n 1 "$W/$name.log")"
    fi
  done
done

# No tokenizer.json: refused with one line, or written with a warning under --no-tokenizer.
mkdir -p "$W/no-tokenizer"
cp "$W/llama-gqa/config.json" "$W/llama-gqa/"*.safetensors "$W/no-tokenizer/" 2>/dev/null
rc=0
"$MLA_BIN" convert --model "$W/no-tokenizer" --out "$W/no-tok.gguf" > /dev/null 2> "$W/no-tok.err" || rc=$?
if [ "$rc" -eq 1 ] && [ "$(wc -l < "$W/no-tok.err")" -eq 1 ] && grep -q "no tokenizer.json.*--no-tokenizer" "$W/no-tok.err"; then
  report PASS no-tokenizer "refused: $(cat "$W/no-tok.err")"
else
  report FAIL no-tokenizer "exit $rc: $(head -n 2 "$W/no-tok.err")"
fi
if "$MLA_BIN" convert --model "$W/no-tokenizer" --out "$W/no-tok.gguf" --no-tokenizer > /dev/null 2> "$W/no-tok.err" &&
   grep -q "will not load in llama.cpp" "$W/no-tok.err"; then
  report PASS no-tokenizer-flag "written, with: $(cat "$W/no-tok.err")"
else
  report FAIL no-tokenizer-flag "$(head -n 2 "$W/no-tok.err")"
fi

echo "gguf_llama_cpp_loads: $failed failed"
[ "$failed" -eq 0 ]
