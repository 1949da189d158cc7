#!/usr/bin/env bash
# End-to-end: the engine's logits and greedy continuations against an independent float64 numpy
# reference (tests/reference/deepseek_ref.py) on tiny random checkpoints covering every variant
# (V2-Lite, V2, V3), weight dtype (BF16, F16, F32, FP8 with block scales), sharded and single-file
# weights, and YaRN on and off (with positions past original_max_position_embeddings).
#
# For each checkpoint, `mla eval` runs in all four modes {prefill, --decode} x {--attn naive,
# --attn absorbed}; every logit must satisfy |engine - ref| <= 1e-3 + 1e-4 * max|ref|. Then
# `mla generate --temperature 0` must reproduce the reference's 32 greedy ids.
#
# Environment: MLA_BIN (the mla binary), MLA_SOURCE_DIR (source tree), MLA_WORK (scratch dir).
# Optional: MLA_E2E_CASES (space-separated case names to run, default all), PYTHON.
SUITE=deepseek_reference
REF="${MLA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/reference/deepseek_ref.py"
ATTN_MODES=(naive absorbed)
N_TOKENS=48      # > original_max_position_embeddings (32) of the YaRN checkpoints
N_GREEDY=32

# name | generator arguments
CASES=(
  "v2lite_bf16|--variant v2-lite --dtype bf16 --no-yarn --seed 31"
  "v2lite_f32_yarn|--variant v2-lite --dtype f32 --yarn --seed 12"
  "v2_f16_yarn_3shards|--variant v2 --dtype f16 --yarn --shards 3 --seed 13"
  "v3_fp8_yarn_2shards|--variant v3 --dtype fp8 --yarn --shards 2 --seed 24"
  "v3_f32|--variant v3 --dtype f32 --no-yarn --seed 15"
  "v3_bf16_mla_only|--variant v3 --dtype bf16 --yarn --layers 2 --first-dense 2 --hidden 96 --seed 17"
  # 16 heads share each cache row: absorbed decode attention on the heads-in-lanes kernels; its /dot
  # rows read a bf16 cache, on vdpbf16ps where the CPU has AVX512_BF16 (the others' keep f32 caches).
  "v2lite_bf16_16heads|--variant v2-lite --dtype bf16 --no-yarn --heads 16 --seed 43"
)
DOT_BF16_CACHE_CASES=(v2lite_bf16_16heads)

source "$(dirname "$0")/../reference/run_cases.sh"
