// KV cache byte accounting: exactly how many bytes a model's KV cache takes per token, per layer and
// for a whole context, in each cache dtype, next to the multi-head-attention cache of the same shape.
// Integer arithmetic throughout; every product is overflow-checked (mla::Error, never a wrap-around).
//
// What one token caches in one layer (docs/KV_CACHE.md has the derivations and a table per model):
//   MHA / GQA / MQA:  a K row and a V row, each n_head_kv x head_dim values
//   MLA:              one row [c_kv (kv_lora_rank) ; k_pe (qk_rope_head_dim)]   (DeepSeek-V2 paper,
//                     sec. 2.1.2-2.1.3: only c_t^KV and k_t^R are cached)
// The MHA equivalent of an MLA model is the one the DeepSeek-V2 paper compares against (Table 1,
// 2 n_h d_h l elements): K and V rows of n_head x qk_nope_head_dim and n_head x v_head_dim values.
// The MHA equivalent of a GQA/MQA model is the same model with n_head_kv = n_head.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/config.h"

namespace mla::kv {

// ---- cache element formats

enum class CacheDtype { F32, BF16, F16, FP8, Q8_0 };

// All formats, in the order tables print them.
const std::vector<CacheDtype>& all_cache_dtypes();
const char* cache_dtype_name(CacheDtype d);  // "f32", "bf16", "f16", "fp8", "q8_0"
// Accepts the names above and the aliases fp32, fp16, f8_e4m3; anything else -> mla::Error naming
// `flag`, the value and the accepted names.
CacheDtype parse_cache_dtype(std::string_view s, std::string_view flag = "--kv-type");

// GGUF q8_0: blocks of 32 values, each stored as one f16 scale + 32 int8 = 34 bytes.
inline constexpr uint64_t kQ8_0BlockValues = 32;
inline constexpr uint64_t kQ8_0BlockBytes = 34;

// fp8 (e4m3): one f32 scale per 128 values (DeepSeek-V3's 1 x 128 activation tiles), stored before
// the block's codes (kernels/cache_rows.h).
inline constexpr uint64_t kFp8ScaleValues = 128;

// Bytes one cached row of `n` values takes. Plain formats: n x element size. q8_0: blocks never span
// rows (each row is quantised on its own, as ggml quantises each K/V row), so a row takes
// ceil(n / 32) x 34 bytes and a partial last block is padded to a whole one: 576 values = 18 blocks =
// 612 B; 100 values = 4 blocks = 136 B. fp8: n + 4 x ceil(n / 128) (a partial last block keeps only
// its own codes): 576 values = 576 + 5 x 4 = 596 B.
uint64_t row_bytes(uint64_t n, CacheDtype d);

// ---- cache shapes

enum class AttentionKind { MHA, GQA, MQA, MLA };
const char* attention_kind_name(AttentionKind k);  // "MHA", "GQA", "MQA", "MLA"

struct KvShape {
  std::string name;              // preset name or config architecture
  AttentionKind kind = AttentionKind::MHA;
  int64_t n_layer = 0;           // num_hidden_layers
  int64_t n_head = 0;            // num_attention_heads
  int64_t n_head_kv = 0;         // num_key_value_heads (MLA: n_head, informational)
  int64_t head_dim = 0;          // MHA/GQA/MQA: width of one K (and one V) head
  int64_t kv_lora_rank = 0;      // MLA only
  int64_t qk_rope_head_dim = 0;  // MLA only
  int64_t qk_nope_head_dim = 0;  // MLA only
  int64_t v_head_dim = 0;        // MLA only
  int64_t max_context = 0;       // max_position_embeddings (GPT-2: n_positions)

  // Widths (in values) of the rows one token caches in one layer: MLA {kv_lora_rank + rope},
  // else {K, V} = {n_head_kv x head_dim, n_head_kv x head_dim}.
  std::vector<uint64_t> cached_rows() const;
  // The same for the MHA equivalent (see the top of this file).
  std::vector<uint64_t> mha_rows() const;
};

// Checks that every size is positive and the kind matches the head counts; mla::Error otherwise.
void validate(const KvShape& s);

// Built-in shapes of published models (values from their Hugging Face config.json).
const std::vector<std::string>& preset_names();
// Unknown name -> mla::Error "unknown preset 'x' (known: gpt2, llama-3-8b, ...)".
KvShape preset(std::string_view name);

// The cache shape of a parsed config.json: MLA for DeepSeek architectures (Deepseek*ForCausalLM),
// else MHA/GQA/MQA with num_key_value_heads heads of head_dim (hidden_size / num_attention_heads when
// the config has no head_dim).
KvShape shape_from_config(const ModelConfig& c);

// ---- accounting

struct KvBytes {
  uint64_t per_token_per_layer = 0;
  uint64_t per_token = 0;  // all layers
};
KvBytes kv_bytes(const KvShape& s, CacheDtype d);   // what the model caches
KvBytes mha_bytes(const KvShape& s, CacheDtype d);  // its MHA equivalent
// MHA bytes / cached bytes for the same dtype.
double reduction(const KvShape& s, CacheDtype d);

// Bytes that `tokens` tokens need; mla::Error when that exceeds 2^64 - 1 bytes.
uint64_t context_bytes(uint64_t bytes_per_token, uint64_t tokens);
// Whole tokens a budget of `budget_bytes` holds (floor).
uint64_t tokens_in_budget(uint64_t bytes_per_token, uint64_t budget_bytes);

// ---- argument parsing (errors name the flag and the value)

// A positive integer token count ("163840"); negative, zero, fractional, non-numeric or above
// 2^63 - 1 -> mla::Error.
uint64_t parse_context(std::string_view s);
// A positive memory size: a number (integer or decimal) with an optional unit B, KB, MB, GB, TB
// (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), case-insensitive, optional space between:
// "24GiB", "1.5 GB", "4096". Fractional bytes round down. Sizes of 2^64 bytes or more, negative,
// zero, an unknown unit -> mla::Error.
uint64_t parse_mem(std::string_view s);

}  // namespace mla::kv
