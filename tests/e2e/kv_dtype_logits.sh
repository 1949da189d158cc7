#!/usr/bin/env bash
# End-to-end: what each KV cache dtype costs in logits. Generates tiny random checkpoints
# (tools/gen_checkpoint.py: DeepSeek-V2-Lite layout, MLA; Llama GQA), runs `mla eval --decode` over
# the same tokens with the cache in f32, bf16, f16, fp8 and q8_0, and prints for each dtype the
# largest logit difference against the f32 and the bf16 cache, relative to the largest |logit|, and
# how often the top-1 token agrees with f32's. Checks: a run without --kv-type equals the bf16 one bit
# for bit (bf16 is every command's default), and each dtype stays within a loose bound of its
# format's precision.
# docs/KV_CACHE.md quotes the table this prints.
#
# Environment: MLA_BIN (the mla binary), MLA_SOURCE_DIR (source tree), MLA_WORK (scratch dir).
set -u
# The f32 products: this suite isolates the cache dtype's error from the dot-product kernels'
# activation rounding (kernels/panel_gemm.h, checked in *_reference.sh).
export MLA_KERNELS=avx512-novnni

: "${MLA_BIN:?MLA_BIN must point at the mla binary}"
MLA_SOURCE_DIR=${MLA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
MLA_WORK=${MLA_WORK:-${TMPDIR:-/tmp}/mla-e2e}
PYTHON=${PYTHON:-/usr/bin/python3}
[ -x "$PYTHON" ] || PYTHON=python3
W="$MLA_WORK/kv_dtype_logits"
rm -rf "$W"
mkdir -p "$W"
N_TOKENS=96
TOKENS=$("$PYTHON" -c "print(','.join(str((i * 37 + 11) % 200) for i in range($N_TOKENS)))")

failed=0
fail() {
  echo "FAIL: $*" >&2
  failed=1
}

# name | bound factor | generator arguments. MoE models get a loose bound: a small change in the
# hidden state can flip a router's top-k choice, and a different expert is a jump in the output.
for spec in "v2lite_dense|1|--variant v2-lite --dtype bf16 --layers 2 --first-dense 2 --seed 5" \
            "v2lite_moe|8|--variant v2-lite --dtype bf16 --seed 5" \
            "llama_gqa|1|--variant llama-gqa --dtype bf16 --seed 6"; do
  name=${spec%%|*}
  rest=${spec#*|}
  factor=${rest%%|*}
  args=${rest#*|}
  CK="$W/$name"
  # shellcheck disable=SC2086
  if ! "$PYTHON" "$MLA_SOURCE_DIR/tools/gen_checkpoint.py" $args --out "$CK" > "$W/$name.gen.log" 2>&1; then
    fail "$name: gen_checkpoint.py: $(cat "$W/$name.gen.log")"
    continue
  fi
  "$MLA_BIN" eval --model "$CK" --tokens "$TOKENS" --decode --logits-out "$W/$name.plain.bin" 2> "$W/$name.err" ||
    fail "$name: mla eval: $(cat "$W/$name.err")"
  for d in f32 bf16 f16 fp8 q8_0; do
    "$MLA_BIN" eval --model "$CK" --tokens "$TOKENS" --decode --kv-type "$d" --logits-out "$W/$name.$d.bin" \
      2> "$W/$name.err" || fail "$name $d: mla eval: $(cat "$W/$name.err")"
  done
  "$PYTHON" - "$W" "$name" "$CK/config.json" "$factor" <<'PY' || fail "$name: logit error bounds"
import json, sys
import numpy as np
w, name, cfg = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
V = cfg["vocab_size"]
load = lambda d: np.fromfile(f"{w}/{name}.{d}.bin", dtype=np.float32).reshape(-1, V).astype(np.float64)
f32, bf16 = load("f32"), load("bf16")
assert np.array_equal(load("plain"), bf16), "the default cache is not bf16: a run without --kv-type differs from it"
scale = np.abs(f32).max()
# Loose bounds, well above what each format's rounding gives on these models.
factor = float(sys.argv[4])
bound = {"f32": 0.0, "bf16": 2e-2 * factor, "f16": 3e-3 * factor, "fp8": 1.5e-1 * factor, "q8_0": 3e-2 * factor}
ok = True
print(f"{name}: {f32.shape[0]} positions x {V} logits, max |logit| (f32 cache) {scale:.3f}")
print(f"  {'dtype':6} {'max|d| vs f32':>14} {'rel':>9} {'max|d| vs bf16':>15} {'rel':>9} {'top-1 = f32':>12}")
for d in ["f32", "bf16", "f16", "fp8", "q8_0"]:
    x = load(d)
    e32, e16 = np.abs(x - f32).max(), np.abs(x - bf16).max()
    top1 = (x.argmax(1) == f32.argmax(1)).mean()
    print(f"  {d:6} {e32:14.3e} {e32 / scale:9.2e} {e16:15.3e} {e16 / scale:9.2e} {100 * top1:11.1f}%")
    if e32 / scale > bound[d]:
        print(f"  {d}: relative error {e32 / scale:.3e} above {bound[d]}", file=sys.stderr)
        ok = False
sys.exit(0 if ok else 1)
PY
done

if [ $failed -ne 0 ]; then
  echo "kv_dtype_logits: FAILED" >&2
  exit 1
fi
echo "kv_dtype_logits: all checks passed"
