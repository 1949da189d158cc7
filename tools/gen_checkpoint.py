#!/usr/bin/python3
"""Generate tiny random DeepSeek-V2 / V2-Lite / V3 checkpoints in the Hugging Face layout.

Writes into --out:
  config.json                      real key names (DeepseekV2ForCausalLM / DeepseekV3ForCausalLM)
  model.safetensors                or model-0000N-of-0000M.safetensors + model.safetensors.index.json
  tokenizer.json                   small byte-level BPE with the DeepSeek-V3 pre-tokenizer
  tokenizer_config.json            bos/eos tokens and the DeepSeek-V3 chat template

Tensors are generated and written one at a time (the header is computed from the shapes first), so
even the ~1B-parameter preset needs little memory.

Needs only Python 3 and numpy. Examples:
  gen_checkpoint.py --variant v3 --dtype fp8 --yarn --shards 2 --out /tmp/v3fp8
  gen_checkpoint.py --variant v2-lite --dtype bf16 --preset-1b --out /tmp/v2lite-1b

Llama baselines (LlamaForCausalLM, the same tokenizer trained the same way but with the Llama-3
pre-tokenizer and special tokens, eos_token_id a list as Llama-3-Instruct publishes it):
  gen_checkpoint.py --variant llama-gqa --dtype bf16 --llama3-rope --tied --out /tmp/llama-gqa
  variants: llama-mha (4 heads x 32), llama-gqa (8 heads x 16, 2 kv heads), llama-mqa (8 heads x 32,
  1 kv head, head_dim x heads != hidden); --kv-heads / --head-dim / --heads override.
"""
import argparse
import json
import math
import os
import re
import sys
import zlib

import numpy as np

# --------------------------------------------------------------------------------------------
# Variants
# --------------------------------------------------------------------------------------------

# Tiny defaults. fp8 needs a dimension > 128 that is not a multiple of 128 (partial 128x128
# blocks): hidden 160 and the 4 x 48 = 192 query rows give that.
VARIANTS = {
    "v2-lite": dict(
        architecture="DeepseekV2ForCausalLM", model_type="deepseek_v2",
        hidden_size=160, num_hidden_layers=3, num_attention_heads=4,
        q_lora_rank=None, kv_lora_rank=64, qk_nope_head_dim=32, qk_rope_head_dim=16, v_head_dim=32,
        intermediate_size=272, moe_intermediate_size=48, n_routed_experts=8, n_shared_experts=2,
        num_experts_per_tok=3, first_k_dense_replace=1, moe_layer_freq=1,
        scoring_func="softmax", topk_method="greedy", n_group=1, topk_group=1,
        norm_topk_prob=False, routed_scaling_factor=1.0,
        yarn_mscale=1.0, yarn_mscale_all_dim=0.707,  # differ on purpose
    ),
    "v2": dict(
        architecture="DeepseekV2ForCausalLM", model_type="deepseek_v2",
        hidden_size=160, num_hidden_layers=3, num_attention_heads=4,
        q_lora_rank=96, kv_lora_rank=64, qk_nope_head_dim=32, qk_rope_head_dim=16, v_head_dim=32,
        intermediate_size=272, moe_intermediate_size=48, n_routed_experts=16, n_shared_experts=2,
        num_experts_per_tok=3, first_k_dense_replace=1, moe_layer_freq=1,
        scoring_func="softmax", topk_method="group_limited_greedy", n_group=4, topk_group=2,
        norm_topk_prob=False, routed_scaling_factor=4.0,
        yarn_mscale=0.707, yarn_mscale_all_dim=0.707,  # as DeepSeek-V2 publishes
    ),
    "v3": dict(
        architecture="DeepseekV3ForCausalLM", model_type="deepseek_v3",
        hidden_size=160, num_hidden_layers=3, num_attention_heads=4,
        q_lora_rank=96, kv_lora_rank=64, qk_nope_head_dim=32, qk_rope_head_dim=16, v_head_dim=32,
        intermediate_size=272, moe_intermediate_size=48, n_routed_experts=16, n_shared_experts=1,
        num_experts_per_tok=4, first_k_dense_replace=1, moe_layer_freq=1,
        scoring_func="sigmoid", topk_method="noaux_tc", n_group=4, topk_group=2,
        norm_topk_prob=True, routed_scaling_factor=2.5,
        yarn_mscale=1.0, yarn_mscale_all_dim=1.0,  # as DeepSeek-V3 publishes
    ),
}

# ~1B parameters (printed at the end). DeepSeek-V2-Lite proportions, fewer layers and experts.
PRESET_1B = dict(
    hidden_size=2048, num_hidden_layers=7, num_attention_heads=16,
    kv_lora_rank=512, qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128,
    intermediate_size=10944, moe_intermediate_size=1408, n_routed_experts=16, n_shared_experts=2,
    num_experts_per_tok=4, first_k_dense_replace=1, vocab_size=1024,
)

# --------------------------------------------------------------------------------------------
# Number formats
# --------------------------------------------------------------------------------------------

DTYPE_ITEMSIZE = {"F32": 4, "BF16": 2, "F16": 2, "F8_E4M3": 1}
# safetensors' own writer orders tensors by dtype (descending), then name, which keeps every
# tensor aligned to its element size. Mimic it within each file.
DTYPE_RANK = {"F8_E4M3": 0, "F16": 1, "BF16": 2, "F32": 3}


def to_bf16_bits(x):
    """float32 array -> uint16 bf16 bits, round to nearest even (NaN stays NaN)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounding = ((u >> 16) & 1) + np.uint32(0x7FFF)
    out = ((u + rounding) >> 16).astype(np.uint16)
    nan = np.isnan(x)
    if nan.any():
        out[nan] = 0x7FC0
    return out


def _e4m3fn_table():
    vals = np.zeros(256, dtype=np.float64)
    for b in range(256):
        s, e, m = b >> 7, (b >> 3) & 0xF, b & 7
        if e == 15 and m == 7:
            v = np.nan
        elif e == 0:
            v = (m / 8.0) * 2.0 ** -6
        else:
            v = (1.0 + m / 8.0) * 2.0 ** (e - 7)
        vals[b] = -v if s else v
    return vals


E4M3_TABLE = _e4m3fn_table()
_POS_CODES = np.arange(0, 0x7F)          # 0x00 .. 0x7E: all finite non-negative values, ascending
_POS_VALUES = E4M3_TABLE[_POS_CODES]


def to_e4m3fn(x):
    """float array (|x| <= 448) -> uint8 OCP e4m3fn codes, round to nearest, ties to even."""
    a = np.abs(np.asarray(x, dtype=np.float64))
    a = np.minimum(a, 448.0)
    hi = np.searchsorted(_POS_VALUES, a, side="left")       # first value >= a
    hi = np.minimum(hi, len(_POS_VALUES) - 1)
    lo = np.maximum(hi - 1, 0)
    dlo = a - _POS_VALUES[lo]
    dhi = _POS_VALUES[hi] - a
    pick_hi = (dhi < dlo) | ((dhi == dlo) & ((_POS_CODES[hi] & 1) == 0))
    code = np.where(pick_hi, _POS_CODES[hi], _POS_CODES[lo]).astype(np.uint8)
    neg = np.signbit(np.asarray(x)) & (code != 0)
    return code | (neg.astype(np.uint8) << 7)


def fp8_block_scales(w):
    """scale_inv f32 [ceil(out/128), ceil(in/128)]: each 128x128 block's max |w| maps to 448."""
    out_dim, in_dim = w.shape
    bo, bi = -(-out_dim // 128), -(-in_dim // 128)
    padded = np.zeros((bo * 128, bi * 128), dtype=np.float32)
    padded[:out_dim, :in_dim] = np.abs(w)
    amax = padded.reshape(bo, 128, bi, 128).max(axis=(1, 3))
    return np.where(amax > 0, amax / np.float32(448.0), np.float32(1.0)).astype(np.float32)


def quantize_fp8_blocks(w):
    """w [out, in] float32 -> (e4m3 codes [out, in], scale_inv f32 [ceil(out/128), ceil(in/128)])."""
    scale_inv = fp8_block_scales(w)
    full = np.repeat(np.repeat(scale_inv, 128, 0), 128, 1)[:w.shape[0], :w.shape[1]]
    codes = to_e4m3fn(w.astype(np.float64) / full.astype(np.float64))
    return codes, scale_inv


# --------------------------------------------------------------------------------------------
# Tensor list
# --------------------------------------------------------------------------------------------

class TensorSpec:
    """One tensor to write. kind: 'embed' | 'norm' | 'linear' | 'bias' | 'scale' (fp8 scale_inv)."""

    def __init__(self, name, shape, dtype, kind, fp8=False):
        self.name, self.shape, self.dtype, self.kind, self.fp8 = name, list(shape), dtype, kind, fp8

    @property
    def nbytes(self):
        return int(np.prod(self.shape)) * DTYPE_ITEMSIZE[self.dtype]


def tensor_specs(cfg, dtype):
    """Every tensor of the checkpoint, in Hugging Face naming, layer order."""
    base = {"bf16": "BF16", "f16": "F16", "f32": "F32", "fp8": "BF16"}[dtype]
    fp8 = dtype == "fp8"
    H, D = cfg["num_attention_heads"], cfg["hidden_size"]
    nope, rope, vdim = cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"]
    kvl, ql = cfg["kv_lora_rank"], cfg["q_lora_rank"]
    specs = []

    def norm(name, n):
        specs.append(TensorSpec(name, [n], base, "norm"))

    def linear(name, out_dim, in_dim, quantizable=True):
        if fp8 and quantizable:
            specs.append(TensorSpec(name, [out_dim, in_dim], "F8_E4M3", "linear", fp8=True))
            specs.append(TensorSpec(name + "_scale_inv", [-(-out_dim // 128), -(-in_dim // 128)], "F32", "scale"))
        else:
            specs.append(TensorSpec(name, [out_dim, in_dim], base, "linear"))

    def mlp(prefix, inter):
        linear(prefix + ".gate_proj.weight", inter, D)
        linear(prefix + ".up_proj.weight", inter, D)
        linear(prefix + ".down_proj.weight", D, inter)

    def layer(i):
        p = f"model.layers.{i}"
        norm(p + ".input_layernorm.weight", D)
        if ql is None:
            linear(p + ".self_attn.q_proj.weight", H * (nope + rope), D)
        else:
            linear(p + ".self_attn.q_a_proj.weight", ql, D)
            norm(p + ".self_attn.q_a_layernorm.weight", ql)
            linear(p + ".self_attn.q_b_proj.weight", H * (nope + rope), ql)
        linear(p + ".self_attn.kv_a_proj_with_mqa.weight", kvl + rope, D)
        norm(p + ".self_attn.kv_a_layernorm.weight", kvl)
        linear(p + ".self_attn.kv_b_proj.weight", H * (nope + vdim), kvl)
        linear(p + ".self_attn.o_proj.weight", D, H * vdim)
        norm(p + ".post_attention_layernorm.weight", D)
        moe = (cfg["n_routed_experts"] is not None and i >= cfg["first_k_dense_replace"]
               and i % cfg["moe_layer_freq"] == 0)
        if moe:
            E = cfg["n_routed_experts"]
            # The router stays BF16 in the published FP8 checkpoint.
            linear(p + ".mlp.gate.weight", E, D, quantizable=False)
            if cfg["topk_method"] == "noaux_tc":
                specs.append(TensorSpec(p + ".mlp.gate.e_score_correction_bias", [E], "F32", "bias"))
            for e in range(E):
                mlp(f"{p}.mlp.experts.{e}", cfg["moe_intermediate_size"])
            if cfg["n_shared_experts"]:
                mlp(p + ".mlp.shared_experts", cfg["moe_intermediate_size"] * cfg["n_shared_experts"])
        else:
            mlp(p + ".mlp", cfg["intermediate_size"])
        return p

    V = cfg["vocab_size"]
    specs.append(TensorSpec("model.embed_tokens.weight", [V, D], base, "embed"))
    for i in range(cfg["num_hidden_layers"]):
        layer(i)
    specs.append(TensorSpec("model.norm.weight", [D], base, "norm"))
    specs.append(TensorSpec("lm_head.weight", [V, D], base, "linear"))
    # DeepSeek-V3's multi-token-prediction module: one extra layer the engine must skip.
    for _ in range(cfg.get("num_nextn_predict_layers", 0)):
        n = cfg["num_hidden_layers"]
        p = f"model.layers.{n}"
        specs.append(TensorSpec(p + ".embed_tokens.weight", [V, D], base, "embed"))
        norm(p + ".enorm.weight", D)
        norm(p + ".hnorm.weight", D)
        linear(p + ".eh_proj.weight", D, 2 * D)
        layer(n)
        norm(p + ".shared_head.norm.weight", D)
        specs.append(TensorSpec(p + ".shared_head.head.weight", [V, D], base, "linear"))
    return specs


def tensor_values(spec, seed):
    """Deterministic random float32 values of one tensor (depends only on seed and name)."""
    rng = np.random.default_rng([seed, zlib.crc32(spec.name.encode())])
    shape = spec.shape
    if spec.kind == "embed":
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(0.05)
    if spec.kind == "norm":
        return (1.0 + 0.1 * rng.standard_normal(shape)).astype(np.float32)
    if spec.kind == "bias":
        return (0.02 * rng.standard_normal(shape)).astype(np.float32)
    x = rng.standard_normal(shape, dtype=np.float32)   # linear [out, in]
    x *= np.float32(1.0 / math.sqrt(shape[1]))
    if spec.fp8:
        # Vary the magnitude per 128x128 block so every block gets its own scale.
        bo, bi = -(-shape[0] // 128), -(-shape[1] // 128)
        f = np.exp2(rng.uniform(-1.0, 1.0, size=(bo, bi))).astype(np.float32)
        x *= np.repeat(np.repeat(f, 128, 0), 128, 1)[:shape[0], :shape[1]]
    return x


def make_tensor(spec, seed, by_name):
    """One tensor's raw little-endian bytes."""
    if spec.kind == "scale":
        # Regenerate the weight (deterministic) rather than keep its codes around.
        w = tensor_values(by_name[spec.name[: -len("_scale_inv")]], seed)
        return fp8_block_scales(w).astype("<f4").tobytes()
    x = tensor_values(spec, seed)
    if spec.fp8:
        return quantize_fp8_blocks(x)[0].tobytes()
    if spec.dtype == "F32":
        return x.astype("<f4").tobytes()
    if spec.dtype == "F16":
        return x.astype("<f2").tobytes()
    if spec.dtype == "BF16":
        return to_bf16_bits(x).astype("<u2").tobytes()
    raise ValueError(spec.dtype)


def write_safetensors(path, specs, seed):
    """Writes `specs` (in safetensors' dtype-then-name order), streaming one tensor at a time."""
    specs = sorted(specs, key=lambda s: (-DTYPE_RANK[s.dtype], s.name))
    header = {"__metadata__": {"format": "pt"}}
    off = 0
    for s in specs:
        header[s.name] = {"dtype": s.dtype, "shape": s.shape, "data_offsets": [off, off + s.nbytes]}
        off += s.nbytes
    hb = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    by_name = {s.name: s for s in specs}
    with open(path, "wb") as f:
        f.write(len(hb).to_bytes(8, "little"))
        f.write(hb)
        for s in specs:
            data = make_tensor(s, seed, by_name)
            assert len(data) == s.nbytes, (s.name, len(data), s.nbytes)
            f.write(data)
    return off


def split_shards(specs, n):
    """Contiguous runs of tensors (layer order) with about equal bytes; weight and scale together."""
    total = sum(s.nbytes for s in specs)
    groups, cur, acc = [], [], 0
    for s in specs:
        if s.kind == "scale":           # keep a scale_inv in the same shard as its weight
            cur.append(s)
            acc += s.nbytes
            continue
        if cur and len(groups) < n - 1 and acc >= total * (len(groups) + 1) / n:
            groups.append(cur)
            cur = []
        cur.append(s)
        acc += s.nbytes
    groups.append(cur)
    if len(groups) != n:
        raise SystemExit(f"cannot split {len(specs)} tensors into {n} shards")
    return groups


# --------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------

CORPUS = r'''
The quick brown fox jumps over the lazy dog. A language model reads a sequence of tokens and
predicts the next one. DeepSeek models use multi-head latent attention, which compresses the keys
and values into a small latent vector, and a mixture of experts, where a router sends every token
to a few of many feed-forward networks. The attention cache stores only the compressed latent and
one shared rotary key per token, so long contexts need much less memory than before.
Hello, world! How are you today? I am fine, thank you. What is the capital of France? It is Paris.
Once upon a time there was a little girl who lived in a village near the forest. Whenever she went
out, the little girl wore a red riding cloak, so everyone in the village called her Little Red
Riding Hood. One morning, her mother said to her: "Take this basket of bread and butter to your
grandmother, who is ill, and do not leave the path." The weather was warm and the birds were
singing in the trees, and the girl walked on and on, thinking about the flowers in the meadow.
In 2024 the team trained the model on 14.8 trillion tokens, with 671 billion parameters in total
and 37 billion activated for each token. The learning rate was 2.2e-4 and the batch size 15360.
Numbers like 3.14159, 2.71828, 1.41421 and 42 appear in text, in tables, and in source code.

def softmax(x):
    m = max(x)
    e = [math.exp(v - m) for v in x]
    s = sum(e)
    return [v / s for v in e]

class Tokenizer:
    def __init__(self, vocab, merges):
        self.vocab = vocab
        self.merges = {pair: rank for rank, pair in enumerate(merges)}

    def encode(self, text):
        tokens = []
        for word in self.split(text):
            tokens.extend(self.bpe(word))
        return tokens

#include <cstdint>
#include <vector>

int main(int argc, char** argv) {
  std::vector<float> logits(vocab_size, 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    float sum = 0.0f;
    for (int64_t j = 0; j < d; ++j) sum += a[i * d + j] * b[j];
    logits[i] = sum;
  }
  return 0;
}

for (const auto& [name, tensor] : checkpoint.tensors()) {
  if (name.find("experts") != std::string::npos) continue;
  printf("%s %zu\n", name.c_str(), tensor.size());
}

SELECT name, count(*) FROM users WHERE age > 30 GROUP BY name ORDER BY count(*) DESC;
{"role": "user", "content": "Write a function that returns the sum of two numbers."}
The answer is simple: return the sum of the two numbers, and write a test that checks it.
Questions and answers, instructions and responses, stories and poems, code and comments: the
corpus should contain a little of everything so that the merges look like real ones.
'''


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode character mapping."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


# An ASCII approximation of the DeepSeek-V3 pre-tokenizer, for training only.
_PRETOK = re.compile(r"\d{1,3}|[!-/:-@\[-`{-~][A-Za-z]+|[^\r\n!-/:-@\[-`{-~A-Za-z\d]?[A-Za-z]+|"
                     r" ?[!-/:-@\[-`{-~]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

BOS, EOS = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"
TAIL_SPECIALS = ["<｜User｜>", "<｜Assistant｜>", "<think>", "</think>"]

# The pre-tokenizer of the published DeepSeek-V3 tokenizer.json.
DEEPSEEK_V3_PRE_TOKENIZER = {
    "type": "Sequence",
    "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}"}, "behavior": "Isolated", "invert": False},
        {"type": "Split", "pattern": {"Regex": "[一-龥぀-ゟ゠-ヿ]+"}, "behavior": "Isolated", "invert": False},
        {"type": "Split", "pattern": {"Regex":
            "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
            " ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"},
         "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
    ],
}

# The chat template of the published DeepSeek-V3 tokenizer_config.json (used when the copy in
# tests/js/node_modules is absent).
DEEPSEEK_V3_CHAT_TEMPLATE = (
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
    "{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='', is_first_sp=true) %}"
    "{%- for message in messages %}{%- if message['role'] == 'system' %}{%- if ns.is_first_sp %}"
    "{% set ns.system_prompt = ns.system_prompt + message['content'] %}{% set ns.is_first_sp = false %}"
    "{%- else %}{% set ns.system_prompt = ns.system_prompt + '\n\n' + message['content'] %}{%- endif %}"
    "{%- endif %}{%- endfor %}{{bos_token}}{{ns.system_prompt}}{%- for message in messages %}"
    "{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}{%- endif %}"
    "{%- if message['role'] == 'assistant' and message['content'] is none %}{%- set ns.is_tool = false -%}"
    "{%- for tool in message['tool_calls']%}{%- if not ns.is_first %}"
    "{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\n' + '```json' + '\n' + tool['function']['arguments'] + '\n' + '```' + '<｜tool▁call▁end｜>'}}"
    "{%- set ns.is_first = true -%}{%- else %}"
    "{{'\n' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\n' + '```json' + '\n' + tool['function']['arguments'] + '\n' + '```' + '<｜tool▁call▁end｜>'}}"
    "{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}{%- endif %}{%- endfor %}{%- endif %}"
    "{%- if message['role'] == 'assistant' and message['content'] is not none %}{%- if ns.is_tool %}"
    "{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- set ns.is_tool = false -%}"
    "{%- else %}{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endif %}"
    "{%- if message['role'] == 'tool' %}{%- set ns.is_tool = true -%}{%- if ns.is_output_first %}"
    "{{'<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}"
    "{%- set ns.is_output_first = false %}{%- else %}"
    "{{'\n<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- endif %}{%- endif %}"
    "{%- endfor -%}{% if ns.is_tool %}{{'<｜tool▁outputs▁end｜>'}}{% endif %}"
    "{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜>'}}{% endif %}"
)


def train_bpe(n_tokens):
    """Greedy byte-level BPE on CORPUS until the vocabulary holds n_tokens byte/merged tokens.
    Returns (tokens in id order, merges as 'a b' strings)."""
    b2u = bytes_to_unicode()
    tokens = [b2u[b] for b in range(256)]
    known = set(tokens)
    merges = []
    words = {}
    for piece in _PRETOK.findall(CORPUS):
        w = tuple(b2u[b] for b in piece.encode("utf-8"))
        words[w] = words.get(w, 0) + 1
    words = [[list(w), c] for w, c in words.items()]
    while len(tokens) < n_tokens:
        counts = {}
        for w, c in words:
            for a, b in zip(w, w[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + c
        if not counts:
            break
        # Most frequent pair; ties broken by the pair itself so the result is deterministic.
        best = max(counts.items(), key=lambda kv: (kv[1], [-ord(ch) for ch in kv[0][0] + " " + kv[0][1]]))[0]
        if counts[best] < 2 and len(tokens) >= 256 + 8:
            # Fine: keep merging single occurrences, real vocabularies have rare tokens too.
            pass
        a, b = best
        merged = a + b
        merges.append(f"{a} {b}")
        if merged not in known:
            known.add(merged)
            tokens.append(merged)
        for wc in words:
            w = wc[0]
            i, out = 0, []
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(merged)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            wc[0] = out
    return tokens, merges


def build_tokenizer(vocab_size):
    """tokenizer.json dict with exactly vocab_size ids; returns (tok, bos_id, eos_id)."""
    n_special = 2 + len(TAIL_SPECIALS)
    if vocab_size < 256 + n_special:
        raise SystemExit(f"--vocab must be at least {256 + n_special}")
    tokens, merges = train_bpe(vocab_size - n_special)
    vocab = {BOS: 0, EOS: 1}
    for t in tokens:
        vocab[t] = len(vocab)
    added = [
        {"id": 0, "content": BOS, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True},
        {"id": 1, "content": EOS, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True},
    ]
    # The corpus may run out of pairs for big vocabularies: fill with reserved tokens, as the
    # published tokenizer does ("<｜place▁holder▁no▁N｜>").
    next_id = len(vocab)
    k = 0
    while next_id < vocab_size - len(TAIL_SPECIALS):
        added.append({"id": next_id, "content": f"<｜place▁holder▁no▁{k}｜>", "single_word": False,
                      "lstrip": False, "rstrip": False, "normalized": False, "special": True})
        next_id += 1
        k += 1
    for t in TAIL_SPECIALS:   # in the published files these are added, not part of the BPE vocab
        added.append({"id": next_id, "content": t, "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": True, "special": False})
        next_id += 1
    assert next_id == vocab_size
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": []},
        "pre_tokenizer": DEEPSEEK_V3_PRE_TOKENIZER,
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                           "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": merges},
    }
    return tok, 0, 1


def real_tokenizer_info(path):
    tok = json.load(open(path, encoding="utf-8"))
    ids = list(tok["model"]["vocab"].values()) + [a["id"] for a in tok.get("added_tokens", [])]
    by_content = {a["content"]: a["id"] for a in tok.get("added_tokens", [])}
    by_content.update({k: v for k, v in tok["model"]["vocab"].items() if k in (BOS, EOS)})
    return tok, max(ids) + 1, by_content.get(BOS), by_content.get(EOS)


def tokenizer_config(chat_template):
    def added(content):
        return {"__type": "AddedToken", "content": content, "lstrip": False, "normalized": True,
                "rstrip": False, "single_word": False}
    return {
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": added(BOS),
        "clean_up_tokenization_spaces": False,
        "eos_token": added(EOS),
        "legacy": True,
        "model_max_length": 131072,
        "pad_token": added(EOS),
        "sp_model_kwargs": {},
        "unk_token": None,
        "tokenizer_class": "LlamaTokenizerFast",
        "chat_template": chat_template,
    }


def find_chat_template():
    here = os.path.dirname(os.path.abspath(__file__))
    p = os.path.join(here, "..", "tests", "js", "node_modules", "@lenml", "tokenizer-deepseek_v3",
                     "models", "tokenizer_config.json")
    try:
        t = json.load(open(p, encoding="utf-8")).get("chat_template")
        if isinstance(t, str) and t:
            return t
    except (OSError, ValueError):
        pass
    return DEEPSEEK_V3_CHAT_TEMPLATE


# --------------------------------------------------------------------------------------------
# config.json
# --------------------------------------------------------------------------------------------

def make_config(cfg, dtype, yarn, bos, eos):
    v3 = cfg["architecture"] == "DeepseekV3ForCausalLM"
    c = {
        "architectures": [cfg["architecture"]],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "auto_map": {
            "AutoConfig": f"configuration_deepseek.Deepseek{'V3' if v3 else 'V2'}Config",
            "AutoModel": f"modeling_deepseek.Deepseek{'V3' if v3 else 'V2'}Model",
            "AutoModelForCausalLM": f"modeling_deepseek.Deepseek{'V3' if v3 else 'V2'}ForCausalLM",
        },
        "aux_loss_alpha": 0.001,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "ep_size": 1,
        "first_k_dense_replace": cfg["first_k_dense_replace"],
        "hidden_act": "silu",
        "hidden_size": cfg["hidden_size"],
        "initializer_range": 0.02,
        "intermediate_size": cfg["intermediate_size"],
        "kv_lora_rank": cfg["kv_lora_rank"],
        "max_position_embeddings": cfg["max_position_embeddings"],
        "model_type": cfg["model_type"],
        "moe_intermediate_size": cfg["moe_intermediate_size"],
        "moe_layer_freq": cfg["moe_layer_freq"],
        "n_group": cfg["n_group"],
        "n_routed_experts": cfg["n_routed_experts"],
        "n_shared_experts": cfg["n_shared_experts"],
        "norm_topk_prob": cfg["norm_topk_prob"],
        "num_attention_heads": cfg["num_attention_heads"],
        "num_experts_per_tok": cfg["num_experts_per_tok"],
        "num_hidden_layers": cfg["num_hidden_layers"],
        "num_key_value_heads": cfg["num_attention_heads"],
        "pretraining_tp": 1,
        "q_lora_rank": cfg["q_lora_rank"],
        "qk_nope_head_dim": cfg["qk_nope_head_dim"],
        "qk_rope_head_dim": cfg["qk_rope_head_dim"],
        "rms_norm_eps": cfg["rms_norm_eps"],
        "rope_scaling": None,
        "rope_theta": cfg["rope_theta"],
        "routed_scaling_factor": cfg["routed_scaling_factor"],
        "scoring_func": cfg["scoring_func"],
        "seq_aux": True,
        "tie_word_embeddings": False,
        "topk_group": cfg["topk_group"],
        "topk_method": cfg["topk_method"],
        "torch_dtype": {"bf16": "bfloat16", "f16": "float16", "f32": "float32", "fp8": "bfloat16"}[dtype],
        "transformers_version": "4.46.3" if v3 else "4.39.3",
        "use_cache": True,
        "v_head_dim": cfg["v_head_dim"],
        "vocab_size": cfg["vocab_size"],
    }
    if v3:
        c["num_nextn_predict_layers"] = cfg["num_nextn_predict_layers"]
    if yarn:
        c["rope_scaling"] = {
            "beta_fast": 32,
            "beta_slow": 1,
            "factor": cfg["yarn_factor"],
            "mscale": cfg["yarn_mscale"],
            "mscale_all_dim": cfg["yarn_mscale_all_dim"],
            "original_max_position_embeddings": cfg["original_max_position_embeddings"],
            "type": "yarn",
        }
    if dtype == "fp8":
        c["quantization_config"] = {"activation_scheme": "dynamic", "fmt": "e4m3",
                                    "quant_method": "fp8", "weight_block_size": [128, 128]}
    return c


# --------------------------------------------------------------------------------------------
# Llama (MHA / GQA / MQA baselines)
# --------------------------------------------------------------------------------------------

LLAMA_VARIANTS = {
    "llama-mha": dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
                      head_dim=32, intermediate_size=256),
    "llama-gqa": dict(hidden_size=128, num_hidden_layers=3, num_attention_heads=8, num_key_value_heads=2,
                      head_dim=16, intermediate_size=256),
    # head_dim x heads = 256 != hidden: o_proj is [128 x 256], head_dim comes from the config key.
    "llama-mqa": dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=8, num_key_value_heads=1,
                      head_dim=32, intermediate_size=256),
}

LLAMA3_BOS, LLAMA3_EOS, LLAMA3_EOT = "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"
LLAMA3_SPECIALS = [LLAMA3_BOS, LLAMA3_EOS, "<|start_header_id|>", "<|end_header_id|>", LLAMA3_EOT]

# The pre-tokenizer of Meta's Llama-3 tokenizer.json.
LLAMA3_PRE_TOKENIZER = {
    "type": "Sequence",
    "pretokenizers": [
        {"type": "Split", "pattern": {"Regex":
            r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
            r"\s*[\r\n]+|\s+(?!\S)|\s+"},
         "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
    ],
}

LLAMA3_CHAT_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim"
    " + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
    "{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
)


def build_llama3_tokenizer(vocab_size):
    """Byte-level BPE (trained as for DeepSeek) with Llama-3's layout: BPE ids first, the special
    tokens at the end, ignore_merges on. Returns (tok, bos_id, [eos ids])."""
    n_special = len(LLAMA3_SPECIALS)
    if vocab_size < 256 + n_special:
        raise SystemExit(f"--vocab must be at least {256 + n_special}")
    tokens, merges = train_bpe(vocab_size - n_special)
    vocab = {t: i for i, t in enumerate(tokens)}
    added = []
    next_id = len(vocab)
    while next_id < vocab_size - n_special:   # the corpus ran out of pairs: reserved tokens
        added.append({"id": next_id, "content": f"<|reserved_special_token_{next_id - len(vocab)}|>",
                      "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
                      "special": True})
        next_id += 1
    ids = {}
    for t in LLAMA3_SPECIALS:
        ids[t] = next_id
        added.append({"id": next_id, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                      "normalized": False, "special": True})
        next_id += 1
    assert next_id == vocab_size
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": LLAMA3_PRE_TOKENIZER,
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                           "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
                  "vocab": vocab, "merges": merges},
    }
    return tok, ids[LLAMA3_BOS], [ids[LLAMA3_EOS], ids[LLAMA3_EOT]]


def llama_tensor_specs(cfg, dtype, tied):
    """Every tensor of a LlamaForCausalLM checkpoint, Hugging Face names, layer order."""
    base = {"bf16": "BF16", "f16": "F16", "f32": "F32"}[dtype]
    D, H, Hkv, hd = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    inter, V = cfg["intermediate_size"], cfg["vocab_size"]
    specs = [TensorSpec("model.embed_tokens.weight", [V, D], base, "embed")]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}"
        specs += [
            TensorSpec(p + ".input_layernorm.weight", [D], base, "norm"),
            TensorSpec(p + ".self_attn.q_proj.weight", [H * hd, D], base, "linear"),
            TensorSpec(p + ".self_attn.k_proj.weight", [Hkv * hd, D], base, "linear"),
            TensorSpec(p + ".self_attn.v_proj.weight", [Hkv * hd, D], base, "linear"),
            TensorSpec(p + ".self_attn.o_proj.weight", [D, H * hd], base, "linear"),
            TensorSpec(p + ".post_attention_layernorm.weight", [D], base, "norm"),
            TensorSpec(p + ".mlp.gate_proj.weight", [inter, D], base, "linear"),
            TensorSpec(p + ".mlp.up_proj.weight", [inter, D], base, "linear"),
            TensorSpec(p + ".mlp.down_proj.weight", [D, inter], base, "linear"),
        ]
    specs.append(TensorSpec("model.norm.weight", [D], base, "norm"))
    if not tied:
        specs.append(TensorSpec("lm_head.weight", [V, D], base, "linear"))
    return specs


def make_llama_config(cfg, dtype, llama3_rope, tied, bos, eos):
    return {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "head_dim": cfg["head_dim"],
        "hidden_act": "silu",
        "hidden_size": cfg["hidden_size"],
        "initializer_range": 0.02,
        "intermediate_size": cfg["intermediate_size"],
        "max_position_embeddings": cfg["max_position_embeddings"],
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": cfg["num_attention_heads"],
        "num_hidden_layers": cfg["num_hidden_layers"],
        "num_key_value_heads": cfg["num_key_value_heads"],
        "pretraining_tp": 1,
        "rms_norm_eps": cfg["rms_norm_eps"],
        # Llama-3.1's published proportions (factor 8, low 1, high 4) over a tiny original context
        # so that the 48-token tests run past it and every band of the blend is used.
        "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": cfg["original_max_position_embeddings"],
                         "rope_type": "llama3"} if llama3_rope else None,
        "rope_theta": cfg["rope_theta"],
        "tie_word_embeddings": tied,
        "torch_dtype": {"bf16": "bfloat16", "f16": "float16", "f32": "float32"}[dtype],
        "transformers_version": "4.45.0",
        "use_cache": True,
        "vocab_size": cfg["vocab_size"],
    }


def write_weights(out, specs, shards, seed):
    """model.safetensors, or shards + model.safetensors.index.json. Returns the total tensor bytes."""
    for fn in os.listdir(out):   # stale weight files from an earlier run into the same directory
        if fn.endswith(".safetensors") or fn == "model.safetensors.index.json":
            os.remove(os.path.join(out, fn))
    total = sum(s.nbytes for s in specs)
    if shards <= 1:
        write_safetensors(os.path.join(out, "model.safetensors"), specs, seed)
        return total
    weight_map = {}
    for k, grp in enumerate(split_shards(specs, shards)):
        fn = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
        write_safetensors(os.path.join(out, fn), grp, seed)
        for s in grp:
            weight_map[s.name] = fn
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    with open(os.path.join(out, "model.safetensors.index.json"), "w", encoding="utf-8") as f:
        json.dump(index, f, indent=2)
    return total


def main_llama(a):
    if a.dtype == "fp8":
        raise SystemExit("--dtype fp8 is for DeepSeek variants; Llama variants take bf16, f16 or f32")
    cfg = dict(LLAMA_VARIANTS[a.variant])
    cfg.update(vocab_size=512, rope_theta=10000.0, rms_norm_eps=1e-5, max_position_embeddings=128,
               original_max_position_embeddings=32)
    for k in ("num_hidden_layers", "hidden_size", "vocab_size", "num_attention_heads", "num_key_value_heads",
              "head_dim", "intermediate_size", "rope_theta", "max_position_embeddings",
              "original_max_position_embeddings", "rms_norm_eps"):
        v = getattr(a, k, None)
        if v is not None:
            cfg[k] = v
    if cfg["num_attention_heads"] % cfg["num_key_value_heads"]:
        raise SystemExit("--kv-heads must divide --heads")
    os.makedirs(a.out, exist_ok=True)
    if a.tokenizer:
        tok, vsize, _, _ = real_tokenizer_info(a.tokenizer)
        by_content = {t["content"]: t["id"] for t in tok.get("added_tokens", [])}
        bos = by_content.get(LLAMA3_BOS)
        eos = [by_content[t] for t in (LLAMA3_EOS, LLAMA3_EOT) if t in by_content] or None
        cfg["vocab_size"] = vsize
    else:
        tok, bos, eos = build_llama3_tokenizer(cfg["vocab_size"])
    with open(os.path.join(a.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=2)
    with open(os.path.join(a.out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"bos_token": LLAMA3_BOS, "eos_token": LLAMA3_EOT, "clean_up_tokenization_spaces": True,
                   "model_max_length": 131072, "tokenizer_class": "PreTrainedTokenizerFast",
                   "chat_template": LLAMA3_CHAT_TEMPLATE}, f, ensure_ascii=False, indent=2)
    with open(os.path.join(a.out, "config.json"), "w", encoding="utf-8") as f:
        json.dump(make_llama_config(cfg, a.dtype, a.llama3_rope, a.tied, bos, eos), f, indent=2)
    specs = llama_tensor_specs(cfg, a.dtype, a.tied)
    total = write_weights(a.out, specs, a.shards, a.seed)
    n_params = sum(int(np.prod(s.shape)) for s in specs)
    print(f"{a.out}: {a.variant} {a.dtype} llama3_rope={'on' if a.llama3_rope else 'off'} "
          f"tied={'yes' if a.tied else 'no'} shards={max(a.shards, 1)} params={n_params} bytes={total}",
          file=sys.stderr)


# --------------------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", required=True, choices=sorted(VARIANTS) + sorted(LLAMA_VARIANTS))
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "f16", "f32", "fp8"])
    ap.add_argument("--out", required=True, help="output directory (created)")
    ap.add_argument("--shards", type=int, default=1, help="number of safetensors files (default 1)")
    ap.add_argument("--yarn", dest="yarn", action="store_true", help="YaRN rope_scaling (factor 4, original 32)")
    ap.add_argument("--no-yarn", dest="yarn", action="store_false")
    ap.set_defaults(yarn=False)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--preset-1b", action="store_true", help="~1B parameters (hidden 2048, bf16 suggested)")
    ap.add_argument("--tokenizer", help="copy this tokenizer.json; vocab_size follows it")
    g = ap.add_argument_group("shape overrides")
    g.add_argument("--layers", type=int, dest="num_hidden_layers")
    g.add_argument("--hidden", type=int, dest="hidden_size")
    g.add_argument("--vocab", type=int, dest="vocab_size")
    g.add_argument("--heads", type=int, dest="num_attention_heads")
    g.add_argument("--q-lora", type=int, dest="q_lora_rank", help="0: none (plain q_proj)")
    g.add_argument("--kv-lora", type=int, dest="kv_lora_rank")
    g.add_argument("--nope", type=int, dest="qk_nope_head_dim")
    g.add_argument("--rope", type=int, dest="qk_rope_head_dim")
    g.add_argument("--vdim", type=int, dest="v_head_dim")
    g.add_argument("--intermediate", type=int, dest="intermediate_size")
    g.add_argument("--moe-intermediate", type=int, dest="moe_intermediate_size")
    g.add_argument("--experts", type=int, dest="n_routed_experts", help="0: no MoE (all dense)")
    g.add_argument("--shared", type=int, dest="n_shared_experts")
    g.add_argument("--topk", type=int, dest="num_experts_per_tok")
    g.add_argument("--groups", type=int, dest="n_group")
    g.add_argument("--topk-group", type=int, dest="topk_group")
    g.add_argument("--first-dense", type=int, dest="first_k_dense_replace")
    g.add_argument("--moe-freq", type=int, dest="moe_layer_freq")
    g.add_argument("--routed-scale", type=float, dest="routed_scaling_factor")
    g.add_argument("--norm-topk", type=int, choices=[0, 1], dest="norm_topk_prob")
    g.add_argument("--mtp", type=int, dest="num_nextn_predict_layers", help="V3 MTP layers (default 1)")
    g.add_argument("--rope-theta", type=float, dest="rope_theta")
    g.add_argument("--max-pos", type=int, dest="max_position_embeddings")
    g.add_argument("--yarn-factor", type=float, dest="yarn_factor")
    g.add_argument("--original-max-pos", type=int, dest="original_max_position_embeddings")
    g.add_argument("--mscale", type=float, dest="yarn_mscale")
    g.add_argument("--mscale-all-dim", type=float, dest="yarn_mscale_all_dim")
    g.add_argument("--rms-eps", type=float, dest="rms_norm_eps")
    g = ap.add_argument_group("Llama variants")
    g.add_argument("--kv-heads", type=int, dest="num_key_value_heads")
    g.add_argument("--head-dim", type=int, dest="head_dim")
    g.add_argument("--llama3-rope", dest="llama3_rope", action="store_true",
                   help="llama3 rope_scaling (factor 8, low 1, high 4, original 32)")
    g.add_argument("--no-llama3-rope", dest="llama3_rope", action="store_false")
    g.add_argument("--tied", dest="tied", action="store_true", help="tie_word_embeddings (no lm_head.weight)")
    g.add_argument("--untied", dest="tied", action="store_false")
    ap.set_defaults(llama3_rope=False, tied=False)
    a = ap.parse_args(argv)
    if a.variant in LLAMA_VARIANTS:
        return main_llama(a)

    cfg = dict(VARIANTS[a.variant])
    cfg.update(vocab_size=512, rope_theta=10000.0, rms_norm_eps=1e-6, max_position_embeddings=128,
               yarn_factor=4.0, original_max_position_embeddings=32,
               num_nextn_predict_layers=1 if cfg["architecture"] == "DeepseekV3ForCausalLM" else 0)
    if a.preset_1b:
        cfg.update(PRESET_1B)
        cfg["max_position_embeddings"] = 4096
    for k, v in vars(a).items():
        if k in cfg and v is not None and k not in ("variant",):
            cfg[k] = v
    if a.q_lora_rank == 0:
        cfg["q_lora_rank"] = None
    if a.n_routed_experts == 0:
        cfg["n_routed_experts"] = None
    if a.norm_topk_prob is not None:
        cfg["norm_topk_prob"] = bool(a.norm_topk_prob)
    if cfg["architecture"] != "DeepseekV3ForCausalLM":
        cfg["num_nextn_predict_layers"] = 0
    E = cfg["n_routed_experts"]
    if E is not None:
        if E % cfg["n_group"]:
            raise SystemExit(f"n_routed_experts {E} not divisible by n_group {cfg['n_group']}")
        per = E // cfg["n_group"]
        if cfg["num_experts_per_tok"] > per * cfg["topk_group"]:
            raise SystemExit("num_experts_per_tok exceeds the experts in the kept groups")
        if cfg["topk_method"] == "noaux_tc" and per < 2:
            raise SystemExit("noaux_tc needs at least 2 experts per group")

    os.makedirs(a.out, exist_ok=True)

    # Tokenizer first: with --tokenizer the vocabulary size follows it.
    if a.tokenizer:
        tok, vsize, bos, eos = real_tokenizer_info(a.tokenizer)
        cfg["vocab_size"] = vsize
    else:
        tok, bos, eos = build_tokenizer(cfg["vocab_size"])
    with open(os.path.join(a.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=2)
    with open(os.path.join(a.out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_config(find_chat_template()), f, ensure_ascii=False, indent=2)

    config = make_config(cfg, a.dtype, a.yarn, bos, eos)
    with open(os.path.join(a.out, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)

    # Remove stale weight files from an earlier run into the same directory.
    for fn in os.listdir(a.out):
        if fn.endswith(".safetensors") or fn == "model.safetensors.index.json":
            os.remove(os.path.join(a.out, fn))

    specs = tensor_specs(cfg, a.dtype)
    total = sum(s.nbytes for s in specs)
    if a.shards <= 1:
        write_safetensors(os.path.join(a.out, "model.safetensors"), specs, a.seed)
    else:
        groups = split_shards(specs, a.shards)
        weight_map = {}
        for k, grp in enumerate(groups):
            fn = f"model-{k + 1:05d}-of-{a.shards:05d}.safetensors"
            write_safetensors(os.path.join(a.out, fn), grp, a.seed)
            for s in grp:
                weight_map[s.name] = fn
        index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
        with open(os.path.join(a.out, "model.safetensors.index.json"), "w", encoding="utf-8") as f:
            json.dump(index, f, indent=2)

    n_params = sum(int(np.prod(s.shape)) for s in specs if s.kind != "scale")
    mtp = cfg["num_hidden_layers"]
    n_main = sum(int(np.prod(s.shape)) for s in specs
                 if s.kind != "scale" and not s.name.startswith(f"model.layers.{mtp}."))
    print(f"{a.out}: {a.variant} {a.dtype} yarn={'on' if a.yarn else 'off'} shards={max(a.shards, 1)} "
          f"params={n_params} (without MTP {n_main}) bytes={total}", file=sys.stderr)


if __name__ == "__main__":
    main()
