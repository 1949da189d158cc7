#!/usr/bin/python3
"""Independent GGUF writer in llama.cpp's layout, for testing that `mla` loads files it did not write.

Follows convert_hf_to_gguf.py (DeepseekV2Model, LlamaModel) and gguf-py (GGUFWriter, constants.py)
without sharing code with the engine; numpy + the standard library only (no gguf package).

  gguf_ref_writer.py --model DIR --out FILE [--layout mla|kv_b]

  --layout mla   (default) llama.cpp's current deepseek2 layout: kv_b_proj split per head into
                 attn_k_b [H, R, nope] (transposed) and attn_v_b [H, dv, R]; head_count_kv 1,
                 key_length / value_length = kv_lora_rank + rope / kv_lora_rank, *_mla keys.
  --layout kv_b  the layout before MLA absorption (llama.cpp < b5000): one attn_kv_b, head_count_kv =
                 heads, key_length / value_length = nope + rope / v_head_dim, no *_mla keys and no
                 expert_gating_func (llama.cpp's default, softmax, applies).
Llama: q/k rows permuted as LlamaModel.permute does (HF half-split RoPE -> ggml interleaved); llama3
rope_scaling as the rope_freqs.weight tensor (LlamaModel.generate_extra_tensors).
Matrices keep their stored type (F32, F16, BF16); 1-D tensors and ffn_gate_inp are F32.
"""
import argparse
import json
import math
import os
import struct

import numpy as np

# gguf-py constants.py GGUFValueType and GGMLQuantizationType
U32, I32, F32_V, BOOL, STRING, ARRAY = 4, 5, 6, 7, 8, 9
GGML = {"F32": 0, "F16": 1, "BF16": 30}
ALIGN = 32


def read_safetensors(d):
    idx = os.path.join(d, "model.safetensors.index.json")
    files = sorted(set(json.load(open(idx))["weight_map"].values())) if os.path.exists(idx) else ["model.safetensors"]
    out = {}
    for fn in files:
        raw = open(os.path.join(d, fn), "rb").read()
        n = struct.unpack("<Q", raw[:8])[0]
        header = json.loads(raw[8:8 + n])
        for name, e in header.items():
            if name == "__metadata__":
                continue
            b, t = e["data_offsets"]
            dt = {"F32": "<f4", "F16": "<f2", "BF16": "<u2"}[e["dtype"]]
            a = np.frombuffer(raw[8 + n + b:8 + n + t], dtype=dt).reshape(e["shape"])
            out[name] = (e["dtype"], a)
    return out


def as_f32(dtype, a):
    if dtype == "BF16":
        return (a.astype(np.uint32) << 16).view(np.float32)
    return a.astype(np.float32)


class Writer:
    def __init__(self):
        self.kv = []
        self.tensors = []

    def add(self, key, vtype, value, elem=None):
        self.kv.append((key, vtype, value, elem))

    def tensor(self, name, dtype, a):
        self.tensors.append((name, dtype, np.ascontiguousarray(a)))

    @staticmethod
    def _str(s):
        b = s.encode("utf-8")
        return struct.pack("<Q", len(b)) + b

    def _value(self, vtype, v, elem):
        if vtype == U32:
            return struct.pack("<I", v)
        if vtype == I32:
            return struct.pack("<i", v)
        if vtype == F32_V:
            return struct.pack("<f", v)
        if vtype == BOOL:
            return struct.pack("<B", 1 if v else 0)
        if vtype == STRING:
            return self._str(v)
        assert vtype == ARRAY
        return struct.pack("<IQ", elem, len(v)) + b"".join(self._value(elem, x, None) for x in v)

    def write(self, path):
        out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(self.tensors), len(self.kv)))
        for key, vtype, v, elem in self.kv:
            out += self._str(key) + struct.pack("<I", vtype) + self._value(vtype, v, elem)
        offset = 0
        for name, dtype, a in self.tensors:
            out += self._str(name) + struct.pack("<I", a.ndim)
            out += b"".join(struct.pack("<Q", d) for d in reversed(a.shape))  # ne[0] = innermost
            out += struct.pack("<IQ", GGML[dtype], offset)
            offset += (a.nbytes + ALIGN - 1) // ALIGN * ALIGN
        out += b"\0" * (-len(out) % ALIGN)
        for name, dtype, a in self.tensors:
            out += a.tobytes() + b"\0" * (-a.nbytes % ALIGN)
        open(path, "wb").write(out)


def vocab(w, d, cfg, pre):
    tok = json.load(open(os.path.join(d, "tokenizer.json"), encoding="utf-8"))
    n = cfg["vocab_size"]
    tokens = [f"[PAD{i}]" for i in range(n)]
    types = [5] * n  # UNUSED
    for s, i in tok["model"]["vocab"].items():
        tokens[i], types[i] = s, 1  # NORMAL
    for a in tok.get("added_tokens", []):
        tokens[a["id"]], types[a["id"]] = a["content"], 3 if a.get("special") else 4  # CONTROL / USER_DEFINED
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    w.add("tokenizer.ggml.model", STRING, "gpt2")
    w.add("tokenizer.ggml.pre", STRING, pre)
    w.add("tokenizer.ggml.tokens", ARRAY, tokens, STRING)
    w.add("tokenizer.ggml.token_type", ARRAY, types, I32)
    w.add("tokenizer.ggml.merges", ARRAY, merges, STRING)
    eos = cfg.get("eos_token_id")
    if isinstance(eos, list):
        eos = eos[0]
    if cfg.get("bos_token_id") is not None:
        w.add("tokenizer.ggml.bos_token_id", U32, cfg["bos_token_id"])
    if eos is not None:
        w.add("tokenizer.ggml.eos_token_id", U32, eos)


def common(w, arch, cfg, name):
    w.add("general.architecture", STRING, arch)
    w.add("general.name", STRING, name)
    w.add(f"{arch}.block_count", U32, cfg["num_hidden_layers"])
    w.add(f"{arch}.context_length", U32, cfg.get("max_position_embeddings", 2048))
    w.add(f"{arch}.embedding_length", U32, cfg["hidden_size"])
    w.add(f"{arch}.feed_forward_length", U32, cfg["intermediate_size"])
    w.add(f"{arch}.attention.head_count", U32, cfg["num_attention_heads"])
    w.add(f"{arch}.rope.freq_base", F32_V, cfg.get("rope_theta", 10000.0))
    w.add(f"{arch}.attention.layer_norm_rms_epsilon", F32_V, cfg.get("rms_norm_eps", 1e-6))
    w.add(f"{arch}.vocab_size", U32, cfg["vocab_size"])


def put(w, t, gguf_name, hf_name, force_f32=False):
    dtype, a = t[hf_name]
    if a.ndim == 1 or force_f32:
        w.tensor(gguf_name, "F32", as_f32(dtype, a))
    else:
        w.tensor(gguf_name, dtype, a)


def deepseek2(w, t, cfg, layout):
    a = "deepseek2"
    H, R = cfg["num_attention_heads"], cfg["kv_lora_rank"]
    nope, rope, dv = cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"]
    E = cfg.get("n_routed_experts")
    L = cfg["num_hidden_layers"]
    if layout == "mla":
        w.add(f"{a}.attention.head_count_kv", U32, 1)
        w.add(f"{a}.attention.key_length", U32, R + rope)
        w.add(f"{a}.attention.value_length", U32, R)
        w.add(f"{a}.attention.key_length_mla", U32, nope + rope)
        w.add(f"{a}.attention.value_length_mla", U32, dv)
    else:
        w.add(f"{a}.attention.head_count_kv", U32, cfg.get("num_key_value_heads", H))
        w.add(f"{a}.attention.key_length", U32, nope + rope)
        w.add(f"{a}.attention.value_length", U32, dv)
    first_dense = cfg.get("first_k_dense_replace", 0) if E else L
    w.add(f"{a}.leading_dense_block_count", U32, first_dense)
    if cfg.get("q_lora_rank"):
        w.add(f"{a}.attention.q_lora_rank", U32, cfg["q_lora_rank"])
    w.add(f"{a}.attention.kv_lora_rank", U32, R)
    w.add(f"{a}.rope.dimension_count", U32, rope)
    if E:
        w.add(f"{a}.expert_feed_forward_length", U32, cfg["moe_intermediate_size"])
        w.add(f"{a}.expert_count", U32, E)
        w.add(f"{a}.expert_shared_count", U32, cfg.get("n_shared_experts", 0))
        w.add(f"{a}.expert_used_count", U32, cfg["num_experts_per_tok"])
        w.add(f"{a}.expert_weights_scale", F32_V, cfg.get("routed_scaling_factor", 1.0))
        if cfg.get("norm_topk_prob"):
            w.add(f"{a}.expert_weights_norm", BOOL, True)
        if layout == "mla":
            w.add(f"{a}.expert_gating_func", U32, 2 if cfg.get("scoring_func") == "sigmoid" else 1)
            if cfg.get("topk_method", "greedy") != "greedy":
                w.add(f"{a}.expert_group_count", U32, cfg["n_group"])
                w.add(f"{a}.expert_group_used_count", U32, cfg["topk_group"])
    rs = cfg.get("rope_scaling")
    if rs:
        w.add(f"{a}.rope.scaling.type", STRING, "yarn")
        w.add(f"{a}.rope.scaling.factor", F32_V, rs["factor"])
        w.add(f"{a}.rope.scaling.original_context_length", U32, rs["original_max_position_embeddings"])
        if rs.get("mscale_all_dim"):
            w.add(f"{a}.rope.scaling.yarn_log_multiplier", F32_V, 0.1 * rs["mscale_all_dim"])

    put(w, t, "token_embd.weight", "model.embed_tokens.weight")
    for i in range(L):
        p, b = f"model.layers.{i}.", f"blk.{i}."
        put(w, t, b + "attn_norm.weight", p + "input_layernorm.weight")
        if cfg.get("q_lora_rank"):
            put(w, t, b + "attn_q_a.weight", p + "self_attn.q_a_proj.weight")
            put(w, t, b + "attn_q_a_norm.weight", p + "self_attn.q_a_layernorm.weight")
            put(w, t, b + "attn_q_b.weight", p + "self_attn.q_b_proj.weight")
        else:
            put(w, t, b + "attn_q.weight", p + "self_attn.q_proj.weight")
        put(w, t, b + "attn_kv_a_mqa.weight", p + "self_attn.kv_a_proj_with_mqa.weight")
        put(w, t, b + "attn_kv_a_norm.weight", p + "self_attn.kv_a_layernorm.weight")
        if layout == "mla":
            dtype, kv = t[p + "self_attn.kv_b_proj.weight"]
            kv = kv.reshape(H, nope + dv, R)
            w.tensor(b + "attn_k_b.weight", dtype, kv[:, :nope, :].transpose(0, 2, 1))
            w.tensor(b + "attn_v_b.weight", dtype, kv[:, nope:, :])
        else:
            put(w, t, b + "attn_kv_b.weight", p + "self_attn.kv_b_proj.weight")
        put(w, t, b + "attn_output.weight", p + "self_attn.o_proj.weight")
        put(w, t, b + "ffn_norm.weight", p + "post_attention_layernorm.weight")
        if E and i >= first_dense:
            put(w, t, b + "ffn_gate_inp.weight", p + "mlp.gate.weight", force_f32=True)
            if p + "mlp.gate.e_score_correction_bias" in t:
                put(w, t, b + "exp_probs_b.bias", p + "mlp.gate.e_score_correction_bias")
            for proj in ("gate", "up", "down"):
                parts = [t[f"{p}mlp.experts.{e}.{proj}_proj.weight"] for e in range(E)]
                w.tensor(f"{b}ffn_{proj}_exps.weight", parts[0][0], np.stack([x[1] for x in parts]))
            if cfg.get("n_shared_experts"):
                for proj in ("gate", "up", "down"):
                    put(w, t, f"{b}ffn_{proj}_shexp.weight", f"{p}mlp.shared_experts.{proj}_proj.weight")
        else:
            for proj in ("gate", "up", "down"):
                put(w, t, f"{b}ffn_{proj}.weight", f"{p}mlp.{proj}_proj.weight")
    put(w, t, "output_norm.weight", "model.norm.weight")
    put(w, t, "output.weight", "lm_head.weight")


def permute(x, n_head, n_head_kv):  # convert_hf_to_gguf.py LlamaModel.permute
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return x.reshape(n_head, 2, x.shape[0] // n_head // 2, *x.shape[1:]).swapaxes(1, 2).reshape(x.shape)


def llama(w, t, cfg):
    a = "llama"
    H = cfg["num_attention_heads"]
    Hkv = cfg.get("num_key_value_heads", H)
    hd = cfg.get("head_dim") or cfg["hidden_size"] // H
    rs = cfg.get("rope_scaling")
    if rs and rs.get("rope_type", rs.get("type")) == "llama3":
        # LlamaModel.generate_extra_tensors: one divisor per frequency, as rope_freqs.weight.
        base = cfg.get("rope_theta", 10000.0)
        freqs = 1.0 / (base ** (np.arange(0, hd, 2, dtype=np.float32) / hd))
        factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old / low, old / high
        factors = []
        for freq in freqs:
            wavelen = 2 * math.pi / freq
            if wavelen < high_wavelen:
                factors.append(1)
            elif wavelen > low_wavelen:
                factors.append(factor)
            else:
                smooth = (old / wavelen - low) / (high - low)
                factors.append(1 / ((1 - smooth) / factor + smooth))
        w.tensor("rope_freqs.weight", "F32", np.array(factors, dtype=np.float32))
    w.add(f"{a}.attention.head_count_kv", U32, Hkv)
    w.add(f"{a}.rope.dimension_count", U32, hd)
    if hd != cfg["hidden_size"] // H:
        w.add(f"{a}.attention.key_length", U32, hd)
        w.add(f"{a}.attention.value_length", U32, hd)
    put(w, t, "token_embd.weight", "model.embed_tokens.weight")
    for i in range(cfg["num_hidden_layers"]):
        p, b = f"model.layers.{i}.", f"blk.{i}."
        put(w, t, b + "attn_norm.weight", p + "input_layernorm.weight")
        dq, q = t[p + "self_attn.q_proj.weight"]
        dk, k = t[p + "self_attn.k_proj.weight"]
        w.tensor(b + "attn_q.weight", dq, permute(q, H, H))
        w.tensor(b + "attn_k.weight", dk, permute(k, H, Hkv))
        put(w, t, b + "attn_v.weight", p + "self_attn.v_proj.weight")
        put(w, t, b + "attn_output.weight", p + "self_attn.o_proj.weight")
        put(w, t, b + "ffn_norm.weight", p + "post_attention_layernorm.weight")
        for proj in ("gate", "up", "down"):
            put(w, t, f"{b}ffn_{proj}.weight", f"{p}mlp.{proj}_proj.weight")
    put(w, t, "output_norm.weight", "model.norm.weight")
    if not cfg.get("tie_word_embeddings"):
        put(w, t, "output.weight", "lm_head.weight")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--layout", choices=["mla", "kv_b"], default="mla")
    args = ap.parse_args()
    cfg = json.load(open(os.path.join(args.model, "config.json")))
    t = read_safetensors(args.model)
    w = Writer()
    is_llama = cfg["architectures"][0] == "LlamaForCausalLM"
    common(w, "llama" if is_llama else "deepseek2", cfg, os.path.basename(os.path.normpath(args.model)))
    if is_llama:
        llama(w, t, cfg)
    else:
        deepseek2(w, t, cfg, args.layout)
    vocab(w, args.model, cfg, "llama-bpe" if is_llama else "deepseek-v3")
    w.write(args.out)


if __name__ == "__main__":
    main()
