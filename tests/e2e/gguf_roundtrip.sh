#!/usr/bin/env bash
# End-to-end: GGUF interop. For tiny random checkpoints of every architecture variant:
#   1. `mla convert --to gguf` (types as stored) must give logits bitwise equal (cmp) to the Hugging
#      Face directory's, as one prefill and token by token (fp8 and llama3-RoPE checkpoints: within
#      1e-3 + 1e-4 max|ref|, see below);
#   2. a GGUF written by the independent tests/reference/gguf_ref_writer.py in llama.cpp's layout
#      (current MLA layout with attn_k_b / attn_v_b, the older attn_kv_b one, Llama's permuted q/k)
#      must give bitwise equal logits too;
#   3. quantized files (--type q8_0 / q4_0) of dense models must stay within the stated error of
#      the source logits: |got - ref| <= 0.05 max|ref| (Q8_0), 0.5 max|ref| (Q4_0). (MoE models are
#      left out: a quantization-sized change of a router score may pick another expert.)
#   4. the tokenizer in a GGUF's metadata must give the same ids as tokenizer.json, and `mla chat`
#      (chat template from tokenizer.chat_template) the same reply.
# Environment: MLA_BIN (the mla binary), MLA_SOURCE_DIR (source tree), MLA_WORK (scratch dir).
set -u
# The f32 products throughout: this suite checks the files, and a converter may store a tensor in
# another type (a router in F32), which the dot-product kernels would round differently
# (kernels/panel_gemm.h); those kernels are checked against the references in *_reference.sh.
export MLA_KERNELS=avx512-novnni
: "${MLA_BIN:?MLA_BIN must point at the mla binary}"
MLA_SOURCE_DIR=${MLA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
MLA_WORK=${MLA_WORK:-${TMPDIR:-/tmp}/mla-e2e}
PYTHON=${PYTHON:-/usr/bin/python3}
GEN="$MLA_SOURCE_DIR/tools/gen_checkpoint.py"
REFW="$MLA_SOURCE_DIR/tests/reference/gguf_ref_writer.py"
CMP="$MLA_SOURCE_DIR/tests/reference/compare.py"
W="$MLA_WORK/gguf_roundtrip"
rm -rf "$W"
mkdir -p "$W"
SUMMARY="$W/summary.tsv"
: > "$SUMMARY"
TOKENS=1,5,9,33,70,100,200,3,4,5,6,7,250,11,12,13,300,0,2,8
TEXT="Hello world! 12345 你好 <｜User｜>  tabs	and
newlines <|eot_id|> don't"

row() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$SUMMARY"; printf '%-8s %s: %s\n' "$2" "$1" "$3"; }

# Runs `mla eval` on MODEL in both modes and cmp's against the source's logits; with EXACT=0 checks
# them against the usual bound instead (files whose values differ in rounding: fp8 or llama3 factors).
EXACT=1
bitwise() {  # case model source
  local case=$1 model=$2 src=$3 mode
  for mode in prefill decode; do
    local extra=() out="$W/$case.$mode.f32"
    [ "$mode" = decode ] && extra=(--decode)
    if ! "$MLA_BIN" eval --kv-type f32 --model "$model" --tokens "$TOKENS" --logits-out "$out" "${extra[@]}" 2> "$out.log"; then
      row "$case/$mode" FAIL "eval: $(tail -n 1 "$out.log")"
    elif [ "$EXACT" = 0 ]; then
      "$PYTHON" "$CMP" logits --ref "$W/$src.$mode.f32" --got "$out" --vocab 512 --case "$case/$mode" --summary "$SUMMARY" >/dev/null
      tail -n 1 "$SUMMARY"
    elif cmp -s "$W/$src.$mode.f32" "$out"; then
      row "$case/$mode" PASS "logits bitwise equal to the Hugging Face directory's"
    else
      row "$case/$mode" FAIL "logits differ from the Hugging Face directory's: $(cmp "$W/$src.$mode.f32" "$out" 2>&1)"
    fi
  done
}

# name | generator arguments | reference-writer layouts
CASES=(
  "v3_f32|--variant v3 --dtype f32 --seed 1|mla"
  "v2_bf16|--variant v2 --dtype bf16 --seed 2|mla"
  "v2lite_f16|--variant v2-lite --dtype f16 --seed 3|mla kv_b"
  "v2lite_qlora_bf16|--variant v2-lite --dtype bf16 --q-lora 96 --seed 4|kv_b"
  "v2_fp8|--variant v2 --dtype fp8 --seed 5|"
  "llama_gqa_bf16|--variant llama-gqa --dtype bf16 --seed 6|mla"
  "llama_mha_f32_tied|--variant llama-mha --dtype f32 --tied --seed 7|mla"
  "llama_mqa_f16|--variant llama-mqa --dtype f16 --seed 8|mla"
  "llama_gqa_llama3_bf16|--variant llama-gqa --dtype bf16 --llama3-rope --seed 11|mla"
)
for entry in "${CASES[@]}"; do
  IFS='|' read -r name args layouts <<< "$entry"
  dir="$W/$name"
  # shellcheck disable=SC2086
  if ! "$PYTHON" "$GEN" $args --out "$dir" > "$W/$name.gen.log" 2>&1; then row "$name" FAIL "gen_checkpoint.py failed"; continue; fi
  for mode in prefill decode; do
    extra=()
    [ "$mode" = decode ] && extra=(--decode)
    "$MLA_BIN" eval --kv-type f32 --model "$dir" --tokens "$TOKENS" --logits-out "$W/$name.$mode.f32" "${extra[@]}" 2> "$W/$name.eval.log" ||
      row "$name/hf" FAIL "eval of the directory: $(tail -n 1 "$W/$name.eval.log")"
  done
  # fp8 has no GGUF type: dequantized to F32 (the values the engine's fp8 kernels compute with), so
  # within the usual bound (the sums may run in another order). llama3 RoPE is stored as f32
  # frequency divisors (rope_freqs.weight), so its angles round differently: within the bound too.
  type=()
  EXACT=1
  [ "$name" = v2_fp8 ] && type=(--type f32) EXACT=0
  [[ "$name" == *llama3* ]] && EXACT=0
  if "$MLA_BIN" convert --model "$dir" --to gguf --out "$W/$name.gguf" "${type[@]}" 2> "$W/$name.convert.log"; then
    bitwise "$name/convert" "$W/$name.gguf" "$name"
  else
    row "$name/convert" FAIL "$(tail -n 1 "$W/$name.convert.log")"
  fi
  for layout in $layouts; do
    if "$PYTHON" "$REFW" --model "$dir" --out "$W/$name.ref_$layout.gguf" --layout "$layout" 2> "$W/$name.refw.log"; then
      bitwise "$name/llama.cpp-layout-$layout" "$W/$name.ref_$layout.gguf" "$name"
    else
      row "$name/llama.cpp-layout-$layout" FAIL "reference writer: $(tail -n 1 "$W/$name.refw.log")"
    fi
  done
done

# Quantized, dense models only (see above).
for entry in "llama_gqa_q|--variant llama-gqa --dtype f32 --seed 9" "v2lite_dense_q|--variant v2-lite --dtype f32 --experts 0 --seed 10"; do
  IFS='|' read -r name args <<< "$entry"
  dir="$W/$name"
  # shellcheck disable=SC2086
  "$PYTHON" "$GEN" $args --out "$dir" > /dev/null 2>&1 || { row "$name" FAIL "gen_checkpoint.py failed"; continue; }
  "$MLA_BIN" eval --kv-type f32 --model "$dir" --tokens "$TOKENS" --logits-out "$W/$name.f32" 2>/dev/null
  for q in q8_0:0.05 q4_0:0.5; do
    type=${q%%:*} tol=${q##*:}
    if "$MLA_BIN" convert --model "$dir" --out "$W/$name.$type.gguf" --type "$type" 2> "$W/$name.$type.log" &&
       "$MLA_BIN" eval --kv-type f32 --model "$W/$name.$type.gguf" --tokens "$TOKENS" --logits-out "$W/$name.$type.f32" 2>> "$W/$name.$type.log"; then
      "$PYTHON" "$CMP" logits --ref "$W/$name.f32" --got "$W/$name.$type.f32" --vocab 512 --abs-tol 0 --rel-tol "$tol" \
        --case "$name/$type" --summary "$SUMMARY" >/dev/null
      tail -n 1 "$SUMMARY"
    else
      row "$name/$type" FAIL "$(tail -n 1 "$W/$name.$type.log")"
    fi
  done
done

# Tokenizer from GGUF metadata against tokenizer.json (DeepSeek-V3 and Llama-3 pre-tokenizers).
for name in v3_f32 llama_gqa_bf16; do
  for f in "$W/$name.gguf" "$W/$name.ref_mla.gguf"; do
    want=$("$MLA_BIN" tokenize --tokenizer "$W/$name/tokenizer.json" --text "$TEXT" 2>&1)
    got=$("$MLA_BIN" tokenize --tokenizer "$f" --text "$TEXT" 2>&1)
    if [ -n "$want" ] && [ "$want" = "$got" ]; then row "$name/tokenizer/$(basename "$f")" PASS "same ids as tokenizer.json"
    else row "$name/tokenizer/$(basename "$f")" FAIL "ids differ: '$got' vs '$want'"; fi
  done
done

# Chat from a GGUF (tokenizer and tokenizer.chat_template from its metadata) answers as the directory does.
chat() { printf 'hello there\n' | "$MLA_BIN" chat --model "$1" -n 8 --temperature 0 2>/dev/null | grep -v '^\[' ; }
want=$(chat "$W/v3_f32") got=$(chat "$W/v3_f32.gguf")
if [ -n "$want" ] && [ "$want" = "$got" ]; then row "v3_f32/chat" PASS "same reply as from the directory"
else row "v3_f32/chat" FAIL "reply differs: '$got' vs '$want'"; fi

"$PYTHON" "$CMP" table --summary "$SUMMARY"
