#!/usr/bin/env bash
# End-to-end: the engine's Llama (MHA / GQA / MQA) logits and greedy continuations against an
# independent float64 numpy reference (tests/reference/llama_ref.py) on tiny random LlamaForCausalLM
# checkpoints: every attention variant, weight dtype (BF16, F16, F32), tied and untied embeddings,
# llama3 rope_scaling on and off (positions past original_max_position_embeddings), sharded once.
#
# For each checkpoint `mla eval` runs as one prefill and token by token (--decode); every logit must
# satisfy |engine - ref| <= 1e-3 + 1e-4 * max|ref|. Then `mla generate --temperature 0` must
# reproduce the reference's 32 greedy ids.
#
# Environment: MLA_BIN (the mla binary), MLA_SOURCE_DIR (source tree), MLA_WORK (scratch dir).
# Optional: MLA_E2E_CASES (space-separated case names to run, default all), PYTHON.
SUITE=llama_reference
REF="${MLA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/reference/llama_ref.py"
ATTN_MODES=("")
N_TOKENS=48      # > original_max_position_embeddings (32) of the llama3-rope checkpoints
N_GREEDY=32

# name | generator arguments
CASES=(
  "mha_bf16|--variant llama-mha --dtype bf16 --seed 41"
  "mha_f32_llama3_tied|--variant llama-mha --dtype f32 --llama3-rope --tied --seed 42"
  "gqa_f16_llama3|--variant llama-gqa --dtype f16 --llama3-rope --seed 43"
  "gqa_bf16_tied_3shards|--variant llama-gqa --dtype bf16 --tied --shards 3 --seed 44"
  "mqa_f32|--variant llama-mqa --dtype f32 --seed 45"
  "mqa_bf16_llama3_tied|--variant llama-mqa --dtype bf16 --llama3-rope --tied --seed 46"
)

# The reference validates itself once (repeat_kv vs a per-head loop, RoPE as explicit rotations).
after_cases() {
  if selected gqa_f16_llama3 && [ -d "$W/gqa_f16_llama3" ]; then
    if run_logged "reference-self-check" "$W/self_check.log" "$PYTHON" "$REF" --model "$W/gqa_f16_llama3" --self-check; then
      printf 'reference-self-check\tPASS\t%s checks ok\n' "$(grep -c '^  ok' "$W/self_check.log")" >> "$SUMMARY"
    fi
  fi
}

source "$(dirname "$0")/../reference/run_cases.sh"
