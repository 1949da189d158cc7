#!/usr/bin/env bash
# End-to-end: GGUF files of every block format load, run and compute what their weights say.
# For each type (one file per type, every matrix in it; llama.cpp's own quantizer makes the files,
# tests/reference/ggml_requantize.py) and for mla's own mixes (`mla convert --to gguf --type`):
#   1. the independent numpy dequantizer (tests/reference/ggml_dequant.py) must equal llama.cpp's
#      dequantize_row_* on random blocks (tests/reference/check_dequant_peer.py), once;
#   2. tests/reference/gguf_dequantize.py writes "the same model with every weight dequantized by
#      numpy" as F32; `mla eval` logits of the quantized file, prefill and --decode, all positions,
#      are compared with those of the F32 file (f32 products, MLA_KERNELS=avx512-novnni):
#      (a) "/f32" rows, f32 products on both: |got - ref| <= 1e-4 max|ref| (the weights are the same
#          numbers; only the order of the f32 sums may differ: measured 0 for the formats decoded to
#          f32 rows, up to 8e-7 max|ref| for Q8_0 / Q4_0, whose kernels sum d * (q . x) per block);
#      (b) "/dot" rows, the machine's default kernels on the quantized file, which round activations
#          to int8 blocks before the products (kernels/panel_gemm.h): DOT_TOLERANCE of
#          tests/reference/run_cases.sh (every logit within 0.6 max|ref|) with its typical-position
#          bound widened from 2e-2 to 5e-2 max|ref| (9 positions in 10): on this model the int8
#          rounding of the Q8_0 kernels alone moves every position by 1.3e-2 .. 2.5e-2 max|ref|
#          (measured on three seeds; no expert flips, the error is the same at every position);
#   3. `mla generate` greedy ids on the quantized file (f32 products) equal those on the F32 file, and
#      generation with the default kernels runs;
#   4. for the K-quant and IQ4_XS files and every mix mla writes: llama.cpp (bench/peer/greedy.mjs)
#      gives the same greedy continuation as mla with its default kernels, up to near-ties: where the
#      two first differ, llama.cpp's token must be within TIE of mla's best logit at that step (mla's
#      logits of the prompt + llama.cpp's tokens so far). TIE = 2 x 5e-2 max|logit|: if each engine's
#      logits are within e = 5e-2 max|logit| of the exact ones (the typical-position bound of (b); both
#      engines round activations to int8, per 32 values here, per 256 in llama.cpp), they can rank
#      two tokens differently only where the tokens are within 2e in either engine's logits, and
#      this random model's top logits often are. A wrong decoder on either side picks tokens about
#      0.3 max|logit| down. The row says how many ids were equal.
# The model: a DeepSeek-V2-style checkpoint whose matrix rows are whole 256-value super-blocks (hidden,
# q/kv LoRA ranks, heads x v_head_dim, intermediate sizes 256), one dense layer and one MoE layer. Its
# attn_k_b rows (qk_nope 128) are whole 32-value blocks only: quantized for the 32-value formats, F32
# for the super-block ones, as llama.cpp leaves such tensors unquantized.
# Needs llama.cpp's prebuilt libggml-base.so (bench/peer, installed by scripts/setup.sh); exits 0 with
# "skipped" when it is absent. Environment: MLA_BIN, MLA_SOURCE_DIR, MLA_WORK; MLA_PEER_LIB_DIR;
# MLA_E2E_PEER_CHECKS=0 leaves out checks 1 and 4, which test other programs against mla's numbers
# (scripts/test.sh: in the sanitizer pass, after the release pass ran them).
set -u
: "${MLA_BIN:?MLA_BIN must point at the mla binary}"
MLA_SOURCE_DIR=${MLA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
MLA_WORK=${MLA_WORK:-${TMPDIR:-/tmp}/mla-e2e}
PYTHON=${PYTHON:-/usr/bin/python3}
[ -x "$PYTHON" ] || PYTHON=python3
REF="$MLA_SOURCE_DIR/tests/reference"
CMP="$REF/compare.py"
PEER_DIR=${MLA_PEER_LIB_DIR:-$MLA_SOURCE_DIR/bench/peer/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64}
export MLA_PEER_LIB_DIR=$PEER_DIR
if [ ! -f "$PEER_DIR/libggml-base.so" ]; then
  echo "gguf_quant_types: skipped: peer not installed ($PEER_DIR/libggml-base.so; scripts/setup.sh installs bench/peer)"
  exit 0
fi
W="$MLA_WORK/gguf_quant_types"
rm -rf "$W"
mkdir -p "$W"
SUMMARY="$W/summary.tsv"
: > "$SUMMARY"
start=$(date +%s)
TOKENS=1,5,9,33,70,100,200,3,4,5,6,7,250,11,12,13,30,0,2,8
VOCAB=320
N_GREEDY=8
F32_TOLERANCE=(--abs-tol 0 --rel-tol 1e-4)
DOT_TOLERANCE=(--rel-tol 0.6 --pos-tol 5e-2)  # run_cases.sh's, typical positions widened (above)
F32_KERNELS=avx512-novnni

# MLA_REF_CACHE (optional): the llama.cpp-quantized files and their numpy-dequantized twins are kept
# there for a second build's run (ref_cache.bash).
source "$REF/ref_cache.bash"

row() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$SUMMARY"; printf '%-8s %s: %s\n' "$2" "$1" "$3"; }
fail_log() { row "$1" FAIL "$(tail -n 1 "$2" | cut -c1-200)"; }

PEER_CHECKS=${MLA_E2E_PEER_CHECKS:-1}
if [ "$PEER_CHECKS" = 0 ]; then
  echo "checks 1 and 4 (llama.cpp against the numpy dequantizer and mla) left out: MLA_E2E_PEER_CHECKS=0"
elif "$PYTHON" "$REF/check_dequant_peer.py" --blocks 500 > "$W/dequant_peer.log" 2>&1; then
  row "numpy-dequantizer/peer" PASS "ggml_dequant.py equals libggml's dequantize_row_* on random blocks of every format"
else
  row "numpy-dequantizer/peer" FAIL "$(grep -c FAIL "$W/dequant_peer.log") types differ: see $W/dequant_peer.log"
fi
[ "$PEER_CHECKS" = 0 ] || cat "$W/dequant_peer.log"

MODEL="$W/model"
if ! "$PYTHON" "$MLA_SOURCE_DIR/tools/gen_checkpoint.py" --variant v2 --dtype f32 --seed 31 --layers 2 --first-dense 1 \
     --hidden 256 --heads 2 --q-lora 256 --kv-lora 256 --nope 128 --rope 64 --vdim 128 --intermediate 256 \
     --moe-intermediate 256 --experts 4 --shared 1 --topk 2 --groups 1 --topk-group 1 --vocab $VOCAB \
     --out "$MODEL" > "$W/gen.log" 2>&1 ||
   ! "$MLA_BIN" convert --model "$MODEL" --to gguf --out "$W/f32.gguf" > "$W/convert.log" 2>&1; then
  row "model" FAIL "$(tail -q -n 1 "$W/gen.log" "$W/convert.log" 2>/dev/null | tail -n 1)"
  "$PYTHON" "$CMP" table --summary "$SUMMARY"
  exit 1
fi

ids() { "$PYTHON" -c 'import json,sys; print(",".join(map(str, json.load(open(sys.argv[1]))["ids"])))' "$1" 2>/dev/null; }

# Checks 2 and 3 on the quantized file $W/$1.gguf (what made it in $W/$1.make.log).
check() {  # name
  local name=$1 q="$W/$1.gguf" d="$W/$1.f32.gguf" mode key
  key=$(ref_cache_key gguf_quant_types dequantize "$(sha256sum < "$q")")
  if ! ref_cache_get "$key" "$d" "$W/$name.deq.log"; then
    if ! "$PYTHON" "$REF/gguf_dequantize.py" "$q" "$d" > "$W/$name.deq.log" 2>&1; then
      fail_log "$name/numpy-dequantize" "$W/$name.deq.log"; return
    fi
    ref_cache_put "$key" "$d" "$W/$name.deq.log"
  fi
  row "$name/file" PASS "$(stat -c %s "$q") bytes; $(paste -sd ';' "$W/$name.deq.log" | sed 's/ -> F32//g')"
  for mode in prefill decode; do
    local extra=() base="$W/$name.$mode"
    [ "$mode" = decode ] && extra=(--decode)
    if ! MLA_KERNELS=$F32_KERNELS "$MLA_BIN" eval --kv-type f32 --model "$d" --tokens "$TOKENS" --logits-out "$base.ref" "${extra[@]}" \
         > "$base.ref.log" 2>&1; then
      fail_log "$name/$mode/numpy-f32-file" "$base.ref.log"; continue
    fi
    if MLA_KERNELS=$F32_KERNELS "$MLA_BIN" eval --kv-type f32 --model "$q" --tokens "$TOKENS" --logits-out "$base.f32" "${extra[@]}" \
       > "$base.f32.log" 2>&1; then
      "$PYTHON" "$CMP" logits --ref "$base.ref" --got "$base.f32" --vocab $VOCAB "${F32_TOLERANCE[@]}" \
        --case "$name/$mode/f32" --summary "$SUMMARY"
    else
      fail_log "$name/$mode/f32" "$base.f32.log"
    fi
    if "$MLA_BIN" eval --kv-type f32 --model "$q" --tokens "$TOKENS" --logits-out "$base.dot" "${extra[@]}" > "$base.dot.log" 2>&1; then
      "$PYTHON" "$CMP" logits --ref "$base.ref" --got "$base.dot" --vocab $VOCAB "${DOT_TOLERANCE[@]}" \
        --case "$name/$mode/dot" --summary "$SUMMARY"
    else
      fail_log "$name/$mode/dot" "$base.dot.log"
    fi
  done
  local g=(generate --kv-type f32 --tokens "$TOKENS" -n "$N_GREEDY" --temperature 0 --ignore-eos)
  if ! MLA_KERNELS=$F32_KERNELS "$MLA_BIN" "${g[@]}" --model "$d" --json-out "$W/$name.greedy.ref.json" > "$W/$name.greedy.log" 2>&1 ||
     ! MLA_KERNELS=$F32_KERNELS "$MLA_BIN" "${g[@]}" --model "$q" --json-out "$W/$name.greedy.f32.json" >> "$W/$name.greedy.log" 2>&1 ||
     ! "$MLA_BIN" "${g[@]}" --model "$q" --json-out "$W/$name.greedy.dot.json" >> "$W/$name.greedy.log" 2>&1; then
    fail_log "$name/greedy" "$W/$name.greedy.log"; return
  fi
  local want got dot
  want=$(ids "$W/$name.greedy.ref.json") got=$(ids "$W/$name.greedy.f32.json") dot=$(ids "$W/$name.greedy.dot.json")
  if [ -n "$want" ] && [ "$want" = "$got" ] && [ "$(tr ',' '\n' <<< "$dot" | wc -l)" = $N_GREEDY ]; then
    row "$name/greedy" PASS "ids equal to the F32 file's: $got; default kernels: $dot"
  else
    row "$name/greedy" FAIL "f32 products: '$got', F32 file: '$want'; default kernels: '$dot'"
  fi
}

# Check 4: llama.cpp's greedy ids against mla's (default kernels) on $W/$1.gguf.
TIE=1e-1
peer_greedy() {  # name
  local name=$1 q="$W/$1.gguf"
  local peer mla
  if ! peer=$(node "$MLA_SOURCE_DIR/bench/peer/greedy.mjs" --model "$q" --tokens "$TOKENS" -n "$N_GREEDY" 2> "$W/$name.peer.log"); then
    fail_log "$name/llama.cpp-greedy" "$W/$name.peer.log"; return
  fi
  peer=$(tr -d '[] ' <<< "$peer") mla=$(ids "$W/$name.greedy.dot.json")
  if [ "$peer" = "$mla" ]; then
    row "$name/llama.cpp-greedy" PASS "same $N_GREEDY ids as llama.cpp: $peer"; return
  fi
  # The first step where they differ, and mla's logits there given llama.cpp's tokens before it.
  local k
  k=$("$PYTHON" -c 'import sys; a, b = sys.argv[1].split(","), sys.argv[2].split(","); print(next(i for i in range(len(a)) if i >= len(b) or a[i] != b[i]))' "$peer" "$mla")
  local forced="$TOKENS"
  [ "$k" -gt 0 ] && forced="$TOKENS,$(cut -d, -f1-"$k" <<< "$peer")"
  if ! "$MLA_BIN" eval --kv-type f32 --model "$q" --tokens "$forced" --logits-out "$W/$name.forced.f32" > "$W/$name.forced.log" 2>&1; then
    fail_log "$name/llama.cpp-greedy" "$W/$name.forced.log"; return
  fi
  local verdict
  verdict=$("$PYTHON" -c '
import sys, numpy as np
logits = np.fromfile(sys.argv[1], dtype=np.float32).reshape(-1, int(sys.argv[2]))[-1]
peer_tok, k, tie = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
gap = float(logits.max() - logits[peer_tok]) / float(np.abs(logits).max())
print(("PASS" if gap <= tie else "FAIL") + f"	equal for {k} of the ids, then llama.cpp picks {peer_tok} within {gap:.2e} max|logit| of mla'"'"'s best (tie bound {tie:g}): llama.cpp {sys.argv[6]}, mla {sys.argv[7]}")
' "$W/$name.forced.f32" $VOCAB "$(cut -d, -f$((k + 1)) <<< "$peer")" "$k" "$TIE" "$peer" "$mla")
  row "$name/llama.cpp-greedy" "${verdict%%$'	'*}" "${verdict#*$'	'}"
}

# One case: a file of one type (llama.cpp's quantizer) or of one of mla's own mixes (`mla convert`,
# when this mla writes it). Its rows go to $W/NAME.summary.tsv, its output to $W/NAME.out.
one_case() {  # name
  local name=$1
  SUMMARY="$W/$name.summary.tsv"
  : > "$SUMMARY"
  if [[ $name == mla-* ]]; then
    "$MLA_BIN" convert --model "$MODEL" --to gguf --out "$W/$name.gguf" --type "${name#mla-}" > "$W/$name.make.log" 2>&1 ||
      { fail_log "$name/convert" "$W/$name.make.log"; return; }
  else
    local key
    key=$(ref_cache_key gguf_quant_types requantize "$name" "$(sha256sum < "$W/f32.gguf")")
    if ! ref_cache_get "$key" "$W/$name.gguf" "$W/$name.make.log"; then
      "$PYTHON" "$REF/ggml_requantize.py" "$W/f32.gguf" "$W/$name.gguf" --type "$name" > "$W/$name.make.log" 2>&1 ||
        { fail_log "$name/llama.cpp-quantize" "$W/$name.make.log"; return; }
      ref_cache_put "$key" "$W/$name.gguf" "$W/$name.make.log"
    fi
  fi
  check "$name"
  [ "$PEER_CHECKS" = 0 ] || case $name in q[2-6]_k | iq4_xs | mla-*) peer_greedy "$name" ;; esac
}

CASES=(q8_0 q4_0 q4_1 q5_0 q5_1 iq4_nl q2_k q3_k q4_k q5_k q6_k iq4_xs iq3_xxs iq3_s iq2_xxs iq2_xs iq2_s iq1_s iq1_m)
for mix in q4_k_m q5_k_m q6_k q3_k_m q2_k iq4_xs; do CASES+=("mla-$mix"); done
# The cases run JOBS at a time (mostly single-threaded Python and tiny evals), the slowest to
# quantize (the i-quants' lattice searches) first; the summary keeps the order above.
JOBS=${MLA_E2E_JOBS:-$(nproc)}
for ((k = ${#CASES[@]} - 1; k >= 0; k--)); do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
  one_case "${CASES[k]}" > "$W/${CASES[k]}.out" 2>&1 &
done
wait
for name in "${CASES[@]}"; do
  cat "$W/$name.out"
  cat "$W/$name.summary.tsv" >> "$SUMMARY"
done

"$PYTHON" "$CMP" table --summary "$SUMMARY"
status=$?
echo "gguf_quant_types: $(( $(date +%s) - start ))s, work files in $W"
exit $status
