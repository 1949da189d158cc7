// The one attention core every variant runs on: n_head queries attend over cache rows through
// n_head_kv key/value heads (query head h reads kv head h / (n_head / n_head_kv)), parameterised by
// (n_head, n_head_kv, d_k, d_v):
//   MHA   n_head_kv = n_head            GQA  1 < n_head_kv < n_head        MQA  n_head_kv = 1
//   MLA absorbed: MQA with d_k = kv_lora_rank + rope and d_v = kv_lora_rank, V a prefix view of K.
// Keys are folded in blocks into a running softmax (max, sum, weighted values) per (query, head), so
// a caller can stream keys it produces block by block (naive MLA expands them from the latent).
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "kv/kv_accounting.h"

namespace mla {

struct AttnShape {
  int64_t n_head, n_head_kv, d_k, d_v;
  float scale;  // multiplies q·k before the softmax
};

// Where token j's key and value for kv head g live. Rows are stored in `dtype` (kernels/cache_rows.h),
// `row_width` values = `row_bytes` bytes each, in blocks of `block_tokens` rows: row j is row
// j % block_tokens of block block_table[j / block_tokens], and block b starts at base + b * block_bytes
// (a paged cache: DESIGN.md, nano-vllm's block manager). Without a table the rows are contiguous.
//   K = row j, values [k_offset + g * k_head_stride, + d_k)
//   V = row j, values [v_offset + g * v_head_stride, + d_v)
// f32 rows are read in place; other formats are decoded a tile of rows at a time into f32 scratch
// that stays in L1/L2 before the micro-kernels run on it.
struct KvLayout {
  const uint8_t* base = nullptr;
  kv::CacheDtype dtype = kv::CacheDtype::F32;
  int64_t row_width = 0, row_bytes = 0;
  int64_t block_tokens = 0, block_bytes = 0;  // block_tokens = 0: one block (contiguous rows)
  const int32_t* block_table = nullptr;
  int64_t k_offset = 0, k_head_stride = 0;
  int64_t v_offset = 0, v_head_stride = 0;

  const uint8_t* row(int64_t j) const {
    if (!block_table) return base + j * row_bytes;
    return base + block_table[j / block_tokens] * block_bytes + (j % block_tokens) * row_bytes;
  }
  // End of the run of rows stored contiguously from row j on, capped at `limit`.
  int64_t run_end(int64_t j, int64_t limit) const {
    return block_table ? std::min(limit, (j / block_tokens + 1) * block_tokens) : limit;
  }
};

// Contiguous f32 rows of `row_width` floats (attention over scratch, e.g. naive MLA's expanded K/V).
KvLayout f32_rows(const float* base, int64_t row_width, int64_t k_offset, int64_t k_head_stride, int64_t v_offset,
                  int64_t v_head_stride);

// Running softmax of T x n_head queries.
struct AttnState {
  std::vector<float> max, sum, acc;  // [T*H], [T*H], [T*H x d_v]
  std::vector<float> part_max, part_sum, part_acc;  // per work item, merged into the above
  void reset(int64_t T, const AttnShape& s);
  // out[T x H x d_v] = acc / sum
  void finish(int64_t T, const AttnShape& s, float* out) const;
};

// Folds the keys of tokens [j0, j1) (rows j - j0 of `kv`) into `st`. Causal: query t (at position
// p0 + t) sees tokens j <= p0 + t. q: [T x H x d_k].
void attend_block(ThreadPool& pool, const AttnShape& s, const float* q, int64_t T, int64_t p0, const KvLayout& kv,
                  int64_t j0, int64_t j1, AttnState& st);

// Whether attend / attend_block multiply on AVX512_BF16 `vdpbf16ps` for this shape over these rows
// (kernels/simd_attn_dot.h: q and the softmax weights rounded to bf16, fp8 / q8_0 rows decoded and
// rounded to bf16): 16+ query heads per kv row, a bf16, fp8 or q8_0 cache, on the Auto kernel path.
bool attention_uses_bf16_dot(const AttnShape& s, const KvLayout& kv);

// All tokens [0, p0 + T) in one call: out[T x H x d_v].
void attend(ThreadPool& pool, const AttnShape& s, const float* q, int64_t T, int64_t p0, const KvLayout& kv,
            AttnState& st, float* out);

}  // namespace mla
