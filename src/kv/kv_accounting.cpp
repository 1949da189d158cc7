// KV cache byte accounting; see kv_accounting.h for what is counted and docs/KV_CACHE.md for tables.
#include "kv/kv_accounting.h"

#include <cctype>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "core/error.h"

namespace mla::kv {

namespace {

using u128 = unsigned __int128;
constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();

uint64_t mul(uint64_t a, uint64_t b, const char* what) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) fail(what, ": ", a, " x ", b, " exceeds 2^64 - 1");
  return r;
}
uint64_t add(uint64_t a, uint64_t b, const char* what) {
  uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) fail(what, ": ", a, " + ", b, " exceeds 2^64 - 1");
  return r;
}

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

KvBytes bytes_of_rows(const std::vector<uint64_t>& rows, int64_t n_layer, CacheDtype d) {
  KvBytes b;
  for (uint64_t w : rows) b.per_token_per_layer = add(b.per_token_per_layer, row_bytes(w, d), "KV bytes per layer");
  b.per_token = mul(b.per_token_per_layer, static_cast<uint64_t>(n_layer), "KV bytes per token");
  return b;
}

// head_dim of a GQA/MHA config: the config's own `head_dim` when ModelConfig carries one (as an
// integer, 0 = absent, or as an optional), else hidden_size / num_attention_heads as in HF Llama.
template <class C>
int64_t config_head_dim(const C& c) {
  if constexpr (requires { c.head_dim.has_value(); }) {
    if (c.head_dim && *c.head_dim > 0) return static_cast<int64_t>(*c.head_dim);
  } else if constexpr (requires { c.head_dim + 0; }) {
    if (c.head_dim > 0) return static_cast<int64_t>(c.head_dim);
  }
  if (c.num_attention_heads <= 0 || c.hidden_size <= 0)
    fail(c.architecture, ": hidden_size ", c.hidden_size, " / num_attention_heads ", c.num_attention_heads,
         ": expected positive sizes");
  if (c.hidden_size % c.num_attention_heads != 0)
    fail(c.architecture, ": no head_dim and hidden_size ", c.hidden_size, " is not divisible by num_attention_heads ",
         c.num_attention_heads);
  return c.hidden_size / c.num_attention_heads;
}

KvShape mla_preset(const char* name, int64_t layers, int64_t heads, int64_t max_ctx) {
  KvShape s;
  s.name = name;
  s.kind = AttentionKind::MLA;
  s.n_layer = layers;
  s.n_head = heads;
  s.n_head_kv = heads;
  s.kv_lora_rank = 512;
  s.qk_rope_head_dim = 64;
  s.qk_nope_head_dim = 128;
  s.v_head_dim = 128;
  s.max_context = max_ctx;
  return s;
}

KvShape gqa_preset(const char* name, int64_t layers, int64_t heads, int64_t kv_heads, int64_t head_dim,
                   int64_t max_ctx) {
  KvShape s;
  s.name = name;
  s.kind = kv_heads == heads ? AttentionKind::MHA : kv_heads == 1 ? AttentionKind::MQA : AttentionKind::GQA;
  s.n_layer = layers;
  s.n_head = heads;
  s.n_head_kv = kv_heads;
  s.head_dim = head_dim;
  s.max_context = max_ctx;
  return s;
}

struct Preset {
  const char* name;
  KvShape (*make)();
};

// Values from each model's published config.json (GPT-2: n_layer, n_head, n_embd / n_head, n_positions).
const Preset kPresets[] = {
    {"gpt2", [] { return gqa_preset("gpt2", 12, 12, 12, 64, 1024); }},
    {"llama-3-8b", [] { return gqa_preset("llama-3-8b", 32, 32, 8, 128, 8192); }},
    {"llama-3-70b", [] { return gqa_preset("llama-3-70b", 80, 64, 8, 128, 8192); }},
    {"deepseek-v2-lite", [] { return mla_preset("deepseek-v2-lite", 27, 16, 163840); }},
    {"deepseek-v2", [] { return mla_preset("deepseek-v2", 60, 128, 163840); }},
    {"deepseek-v3", [] { return mla_preset("deepseek-v3", 61, 128, 163840); }},
    {"deepseek-r1", [] { return mla_preset("deepseek-r1", 61, 128, 163840); }},
};

std::string joined_preset_names() {
  std::string r;
  for (const auto& p : kPresets) r += (r.empty() ? "" : ", ") + std::string(p.name);
  return r;
}

}  // namespace

// ---- dtypes

const std::vector<CacheDtype>& all_cache_dtypes() {
  static const std::vector<CacheDtype> all = {CacheDtype::F32, CacheDtype::BF16, CacheDtype::F16, CacheDtype::FP8,
                                              CacheDtype::Q8_0};
  return all;
}

const char* cache_dtype_name(CacheDtype d) {
  switch (d) {
    case CacheDtype::F32: return "f32";
    case CacheDtype::BF16: return "bf16";
    case CacheDtype::F16: return "f16";
    case CacheDtype::FP8: return "fp8";
    case CacheDtype::Q8_0: return "q8_0";
  }
  return "?";
}

CacheDtype parse_cache_dtype(std::string_view s, std::string_view flag) {
  const std::string l = lower(s);
  if (l == "f32" || l == "fp32") return CacheDtype::F32;
  if (l == "bf16") return CacheDtype::BF16;
  if (l == "f16" || l == "fp16") return CacheDtype::F16;
  if (l == "fp8" || l == "f8_e4m3") return CacheDtype::FP8;
  if (l == "q8_0") return CacheDtype::Q8_0;
  fail(flag, " '", s, "': unknown cache dtype (use f32, bf16, f16, fp8 or q8_0)");
}

uint64_t row_bytes(uint64_t n, CacheDtype d) {
  switch (d) {
    case CacheDtype::F32: return mul(n, 4, "KV row bytes");
    case CacheDtype::BF16:
    case CacheDtype::F16: return mul(n, 2, "KV row bytes");
    case CacheDtype::FP8:
      return add(n, mul(n / kFp8ScaleValues + (n % kFp8ScaleValues != 0), 4, "KV row bytes"), "KV row bytes");
    case CacheDtype::Q8_0: return mul(n / kQ8_0BlockValues + (n % kQ8_0BlockValues != 0), kQ8_0BlockBytes, "KV row bytes");
  }
  fail("row_bytes: unknown dtype");
}

// ---- shapes

const char* attention_kind_name(AttentionKind k) {
  switch (k) {
    case AttentionKind::MHA: return "MHA";
    case AttentionKind::GQA: return "GQA";
    case AttentionKind::MQA: return "MQA";
    case AttentionKind::MLA: return "MLA";
  }
  return "?";
}

std::vector<uint64_t> KvShape::cached_rows() const {
  validate(*this);
  if (kind == AttentionKind::MLA)
    return {add(static_cast<uint64_t>(kv_lora_rank), static_cast<uint64_t>(qk_rope_head_dim), "MLA row width")};
  const uint64_t w = mul(static_cast<uint64_t>(n_head_kv), static_cast<uint64_t>(head_dim), "KV row width");
  return {w, w};  // K, V
}

std::vector<uint64_t> KvShape::mha_rows() const {
  validate(*this);
  const auto h = static_cast<uint64_t>(n_head);
  if (kind == AttentionKind::MLA)
    return {mul(h, static_cast<uint64_t>(qk_nope_head_dim), "MHA K row width"),
            mul(h, static_cast<uint64_t>(v_head_dim), "MHA V row width")};
  const uint64_t w = mul(h, static_cast<uint64_t>(head_dim), "MHA row width");
  return {w, w};
}

void validate(const KvShape& s) {
  auto positive = [&](const char* key, int64_t v) {
    if (v <= 0) fail(s.name, ": ", key, " ", v, ": expected a positive integer");
  };
  positive("num_hidden_layers", s.n_layer);
  positive("num_attention_heads", s.n_head);
  positive("max_position_embeddings", s.max_context);
  if (s.kind == AttentionKind::MLA) {
    positive("kv_lora_rank", s.kv_lora_rank);
    positive("qk_rope_head_dim", s.qk_rope_head_dim);
    positive("qk_nope_head_dim", s.qk_nope_head_dim);
    positive("v_head_dim", s.v_head_dim);
    return;
  }
  positive("num_key_value_heads", s.n_head_kv);
  positive("head_dim", s.head_dim);
  if (s.n_head % s.n_head_kv != 0)
    fail(s.name, ": num_key_value_heads ", s.n_head_kv, " does not divide num_attention_heads ", s.n_head);
  const AttentionKind want = s.n_head_kv == s.n_head ? AttentionKind::MHA
                             : s.n_head_kv == 1      ? AttentionKind::MQA
                                                     : AttentionKind::GQA;
  if (s.kind != want)
    fail(s.name, ": ", s.n_head_kv, " KV heads for ", s.n_head, " heads is ", attention_kind_name(want), ", not ",
         attention_kind_name(s.kind));
}

const std::vector<std::string>& preset_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> r;
    for (const auto& p : kPresets) r.emplace_back(p.name);
    return r;
  }();
  return names;
}

KvShape preset(std::string_view name) {
  for (const auto& p : kPresets)
    if (name == p.name) return p.make();
  fail("--preset '", name, "': unknown preset (known: ", joined_preset_names(), ")");
}

KvShape shape_from_config(const ModelConfig& c) {
  KvShape s;
  s.name = c.architecture;
  s.n_layer = c.num_hidden_layers;
  s.n_head = c.num_attention_heads;
  s.max_context = c.max_position_embeddings;
  if (c.architecture.rfind("Deepseek", 0) == 0) {
    // DeepseekV2ForCausalLM / DeepseekV3ForCausalLM: the cache holds the MLA latent only.
    s.kind = AttentionKind::MLA;
    s.n_head_kv = c.num_attention_heads;
    s.kv_lora_rank = c.kv_lora_rank;
    s.qk_rope_head_dim = c.qk_rope_head_dim;
    s.qk_nope_head_dim = c.qk_nope_head_dim;
    s.v_head_dim = c.v_head_dim;
  } else {
    // Llama-style: K and V for every KV head (num_key_value_heads defaults to num_attention_heads).
    s.n_head_kv = c.num_key_value_heads > 0 ? c.num_key_value_heads : c.num_attention_heads;
    s.head_dim = config_head_dim(c);
    s.kind = s.n_head_kv == s.n_head ? AttentionKind::MHA
             : s.n_head_kv == 1      ? AttentionKind::MQA
                                     : AttentionKind::GQA;
  }
  validate(s);
  return s;
}

// ---- accounting

KvBytes kv_bytes(const KvShape& s, CacheDtype d) { return bytes_of_rows(s.cached_rows(), s.n_layer, d); }
KvBytes mha_bytes(const KvShape& s, CacheDtype d) { return bytes_of_rows(s.mha_rows(), s.n_layer, d); }

double reduction(const KvShape& s, CacheDtype d) {
  return static_cast<double>(mha_bytes(s, d).per_token) / static_cast<double>(kv_bytes(s, d).per_token);
}

uint64_t context_bytes(uint64_t bytes_per_token, uint64_t tokens) {
  uint64_t r;
  if (__builtin_mul_overflow(bytes_per_token, tokens, &r))
    fail("context of ", tokens, " tokens x ", bytes_per_token, " B per token exceeds 2^64 - 1 bytes");
  return r;
}

uint64_t tokens_in_budget(uint64_t bytes_per_token, uint64_t budget_bytes) {
  if (bytes_per_token == 0) fail("tokens_in_budget: zero bytes per token");
  return budget_bytes / bytes_per_token;
}

// ---- argument parsing

uint64_t parse_context(std::string_view s) {
  auto bad = [&](const char* why) -> uint64_t { fail("--context '", s, "': ", why); };
  if (s.empty()) return bad("expected a positive integer (a token count)");
  if (s[0] == '-') return bad("expected a positive integer (a token count), got a negative value");
  uint64_t v = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return bad("expected a positive integer (a token count)");
    if (v > (static_cast<uint64_t>(INT64_MAX) - (ch - '0')) / 10) return bad("too large (at most 2^63 - 1 tokens)");
    v = v * 10 + static_cast<uint64_t>(ch - '0');
  }
  if (v == 0) return bad("expected a positive integer (a token count), got zero");
  return v;
}

uint64_t parse_mem(std::string_view s) {
  auto bad = [&](const auto&... why) -> uint64_t { fail("--mem '", s, "': ", why...); };
  const char* expect = "expected a size such as 24GiB, 1.5GB or 4096 (bytes)";
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  if (i < s.size() && s[i] == '-') return bad("negative size (", expect, ")");
  // Whole part, exact in 128 bits (capped well before it could overflow).
  u128 whole = 0;
  size_t digits = 0;
  for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i, ++digits) {
    whole = whole * 10 + static_cast<unsigned>(s[i] - '0');
    if (whole > kU64Max) return bad("too large (at most 2^64 - 1 bytes)");
  }
  // Fraction: up to 18 digits kept exactly as frac / 10^frac_digits; further digits are below a byte
  // for every unit here (<= 2^40) and only ever round down, so they are checked and dropped.
  uint64_t frac = 0, frac_scale = 1;
  size_t frac_digits_seen = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i, ++frac_digits_seen) {
      if (frac_digits_seen < 18) {
        frac = frac * 10 + static_cast<uint64_t>(s[i] - '0');
        frac_scale *= 10;
      }
    }
  }
  if (digits == 0 && frac_digits_seen == 0) return bad(expect);
  while (i < s.size() && s[i] == ' ') ++i;
  size_t end = s.size();
  while (end > i && s[end - 1] == ' ') --end;
  const std::string unit = lower(s.substr(i, end - i));
  uint64_t mult;
  if (unit.empty() || unit == "b") mult = 1;
  else if (unit == "kb") mult = 1000ull;
  else if (unit == "mb") mult = 1000ull * 1000;
  else if (unit == "gb") mult = 1000ull * 1000 * 1000;
  else if (unit == "tb") mult = 1000ull * 1000 * 1000 * 1000;
  else if (unit == "kib") mult = 1ull << 10;
  else if (unit == "mib") mult = 1ull << 20;
  else if (unit == "gib") mult = 1ull << 30;
  else if (unit == "tib") mult = 1ull << 40;
  else return bad("unknown unit '", s.substr(i, end - i), "' (use B, KB, MB, GB, TB, KiB, MiB, GiB, TiB or none for bytes)");
  // whole <= 2^64 and mult <= 2^40: the product fits in 128 bits; frac < 10^18, so frac x mult does too.
  const u128 total = whole * mult + static_cast<u128>(frac) * mult / frac_scale;
  if (total > kU64Max) return bad("too large (at most 2^64 - 1 bytes)");
  if (total == 0) return bad("expected a positive size, got zero bytes");
  return static_cast<uint64_t>(total);
}

}  // namespace mla::kv
