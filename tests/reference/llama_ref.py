#!/usr/bin/python3
"""Independent float64 numpy reference for Llama (`LlamaForCausalLM`) forward passes: MHA, GQA, MQA.

Written from the equations and Hugging Face's `modeling_llama.py` semantics, sharing no code with the
C++ engine (the safetensors reader is the one of deepseek_ref.py, itself test tooling):
  x_0 = embed_tokens[ids]
  per layer: h = x + o_proj(attn(RMSNorm(x))), x = h + down(silu(gate(RMSNorm(h))) * up(RMSNorm(h)))
  logits = lm_head(RMSNorm(x)), lm_head = embed_tokens when tie_word_embeddings
  attn: q = W_q x, k = W_k x, v = W_v x per head of head_dim; RoPE in HF's half-split layout,
        q * cat(cos, cos) + rotate_half(q) * cat(sin, sin), rotate_half(x) = cat(-x[d/2:], x[:d/2]);
        kv heads repeated n_head / n_head_kv times (repeat_kv: query head h reads kv head h // n_rep);
        softmax(q k^T / sqrt(head_dim) + causal mask) v
  inv_freq = theta^(-2i/d); llama3 rope_scaling: wavelen = 2 pi / inv_freq; wavelen < orig / high:
        kept; wavelen > orig / low: / factor; between: smooth = (orig / wavelen - low) / (high - low),
        (1 - smooth) * inv / factor + smooth * inv.

  llama_ref.py --model DIR --tokens 1,2,3 --out logits.f32     raw float32 [T x vocab]
  llama_ref.py --model DIR --tokens 1,2,3 --greedy 32          prints the 32 greedy ids (JSON)
  llama_ref.py --model DIR --self-check                        validates the reference itself
"""
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deepseek_ref import SafetensorsDir, reference_main  # noqa: E402  (test tooling, not the engine)


def llama_inv_freq(cfg, head_dim):
    theta = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    rs = cfg.get("rope_scaling")
    if not rs:
        return inv
    kind = rs.get("rope_type", rs.get("type"))
    if kind == "default":
        return inv
    if kind != "llama3":
        raise SystemExit(f"rope_scaling type {kind!r} is not supported by this reference")
    factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    orig = rs["original_max_position_embeddings"]
    low_wavelen, high_wavelen = orig / low, orig / high
    wavelen = 2 * math.pi / inv
    out = np.where(wavelen > low_wavelen, inv / factor, inv)
    smooth = (orig / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * out / factor + smooth * out
    medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
    return np.where(medium, smoothed, out)


def rotate_half(x):
    d = x.shape[-1]
    return np.concatenate([-x[..., d // 2:], x[..., : d // 2]], axis=-1)


class Model:
    def __init__(self, model_dir):
        self.cfg = c = json.load(open(os.path.join(model_dir, "config.json")))
        self.arch = c["architectures"][0]
        if self.arch != "LlamaForCausalLM":
            raise SystemExit(f"{model_dir}: architecture {self.arch}, expected LlamaForCausalLM")
        if c.get("attention_bias") or c.get("mlp_bias"):
            raise SystemExit("biases are not supported by this reference")
        self.st = SafetensorsDir(model_dir)
        self.L = c["num_hidden_layers"]
        self.H = c["num_attention_heads"]
        self.Hkv = c.get("num_key_value_heads") or self.H
        self.hd = c.get("head_dim") or c["hidden_size"] // self.H
        self.eps = c.get("rms_norm_eps", 1e-6)
        self.tied = c.get("tie_word_embeddings", False)
        self.inv_freq = llama_inv_freq(c, self.hd)
        self._cache = {}

    def w(self, name):
        if name not in self._cache:
            self._cache[name] = self.st.get(name)
        return self._cache[name]

    def rmsnorm(self, x, name):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * self.w(name)

    def rope(self, x, pos):
        """x [T, heads, hd] -> HF apply_rotary_pos_emb."""
        freqs = pos[:, None] * self.inv_freq[None, :]
        emb = np.concatenate([freqs, freqs], axis=-1)[:, None, :]     # [T, 1, hd]
        return x * np.cos(emb) + rotate_half(x) * np.sin(emb)

    def qkv(self, x, p, pos):
        T = x.shape[0]
        q = (x @ self.w(p + "q_proj.weight").T).reshape(T, self.H, self.hd)
        k = (x @ self.w(p + "k_proj.weight").T).reshape(T, self.Hkv, self.hd)
        v = (x @ self.w(p + "v_proj.weight").T).reshape(T, self.Hkv, self.hd)
        return self.rope(q, pos), self.rope(k, pos), v

    def attention(self, x, p, pos):
        T = x.shape[0]
        q, k, v = self.qkv(x, p, pos)
        n_rep = self.H // self.Hkv
        k = np.repeat(k, n_rep, axis=1)                                 # repeat_kv
        v = np.repeat(v, n_rep, axis=1)
        s = np.einsum("thd,shd->hts", q, k) / math.sqrt(self.hd)
        mask = np.tril(np.ones((T, T), dtype=bool))
        s = np.where(mask[None], s, -np.inf)
        s = s - s.max(axis=-1, keepdims=True)
        pr = np.exp(s)
        pr /= pr.sum(axis=-1, keepdims=True)
        o = np.einsum("hts,shd->thd", pr, v).reshape(T, self.H * self.hd)
        return o @ self.w(p + "o_proj.weight").T

    def attention_loop(self, x, p, pos):
        """The same attention one (query, head) at a time, kv head h // n_rep picked explicitly."""
        T = x.shape[0]
        q, k, v = self.qkv(x, p, pos)
        n_rep = self.H // self.Hkv
        o = np.zeros((T, self.H, self.hd))
        for t in range(T):
            for h in range(self.H):
                g = h // n_rep
                sc = np.array([q[t, h] @ k[j, g] for j in range(t + 1)]) / math.sqrt(self.hd)
                e = np.exp(sc - sc.max())
                o[t, h] = (e / e.sum()) @ v[: t + 1, g]
        return o.reshape(T, -1) @ self.w(p + "o_proj.weight").T

    def mlp(self, x, p):
        g = x @ self.w(p + "gate_proj.weight").T
        u = x @ self.w(p + "up_proj.weight").T
        return (g / (1.0 + np.exp(-g)) * u) @ self.w(p + "down_proj.weight").T

    def forward(self, tokens):
        """tokens list[int] -> logits [T, vocab] (float64)."""
        pos = np.arange(len(tokens), dtype=np.float64)
        emb = self.w("model.embed_tokens.weight")
        x = emb[np.asarray(tokens)]
        for i in range(self.L):
            p = f"model.layers.{i}."
            h = x + self.attention(self.rmsnorm(x, p + "input_layernorm.weight"), p + "self_attn.", pos)
            x = h + self.mlp(self.rmsnorm(h, p + "post_attention_layernorm.weight"), p + "mlp.")
        x = self.rmsnorm(x, "model.norm.weight")
        head = emb if self.tied else self.w("lm_head.weight")
        return x @ head.T


def self_check(model, tokens):
    """Checks the reference against itself with independent formulations. Returns True if ok."""
    ok = True
    T = len(tokens)

    def report(what, err, tol):
        nonlocal ok
        good = err <= tol
        ok &= good
        print(f"  {'ok  ' if good else 'FAIL'} {what}: max abs diff {err:.3e} (tolerance {tol:g})")

    full = model.forward(tokens)
    k = T // 2
    report(f"prefix {k} vs full sequence (causal mask)", float(np.max(np.abs(model.forward(tokens[:k]) - full[:k]))), 1e-9)

    rng = np.random.default_rng(1)
    x = rng.standard_normal((min(T, 12), model.cfg["hidden_size"]))
    pos = np.arange(x.shape[0], dtype=np.float64)
    for i in range(model.L):
        p = f"model.layers.{i}.self_attn."
        d = float(np.max(np.abs(model.attention(x, p, pos) - model.attention_loop(x, p, pos))))
        report(f"layer {i} attention: repeat_kv vs per-head loop", d, 1e-9)

    # RoPE as a rotation of pairs (i, i + d/2) by pos * inv_freq[i], written out as a 2x2 matrix.
    d = model.hd
    v = rng.standard_normal((3, 1, d))
    pp = np.array([0.0, 5.0, 40.0])
    rot = np.empty_like(v)
    for t in range(3):
        for i in range(d // 2):
            a = pp[t] * model.inv_freq[i]
            c, s = math.cos(a), math.sin(a)
            rot[t, 0, i] = c * v[t, 0, i] - s * v[t, 0, i + d // 2]
            rot[t, 0, i + d // 2] = s * v[t, 0, i] + c * v[t, 0, i + d // 2]
    report("rotate_half RoPE vs explicit pair rotation", float(np.max(np.abs(model.rope(v, pp) - rot))), 1e-12)

    # Scores depend on relative position only.
    q1, k1 = rng.standard_normal((1, 1, d)), rng.standard_normal((1, 1, d))
    s1 = np.sum(model.rope(q1, np.array([40.0])) * model.rope(k1, np.array([37.0])))
    s2 = np.sum(model.rope(q1, np.array([5.0])) * model.rope(k1, np.array([2.0])))
    report("RoPE scores depend on relative position only", abs(s1 - s2), 1e-9)
    return ok


def main():
    reference_main(Model, self_check,
                   lambda m: f"{m.H} heads, {m.Hkv} kv heads, head_dim {m.hd}")


if __name__ == "__main__":
    main()
