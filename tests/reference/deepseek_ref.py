#!/usr/bin/python3
"""Independent float64 numpy reference for DeepSeek-V2 / V2-Lite / V3 / R1 forward passes.

Written from the papers' equations (DeepSeek-V2, section 2.1 "Multi-Head Latent Attention" and
2.1.2 DeepSeekMoE; DeepSeek-V3, section 2.1) and the Hugging Face config semantics. It shares no
code with the C++ engine: it has its own safetensors reader (BF16 / F16 / F32 / F8_E4M3 with
128x128 block `weight_scale_inv`), and computes attention the NAIVE way (keys and values
re-expanded per head from the latent, explicit causal mask).

  deepseek_ref.py --model DIR --tokens 1,2,3 --out logits.f32     raw float32 [T x vocab]
  deepseek_ref.py --model DIR --tokens 1,2,3 --greedy 32          prints the 32 greedy ids (JSON)
  deepseek_ref.py --model DIR --self-check                        validates the reference itself
"""
import argparse
import json
import math
import os
import sys

import numpy as np

# --------------------------------------------------------------------------------------------
# safetensors reading
# --------------------------------------------------------------------------------------------


def _fp8_e4m3fn_lut():
    lut = np.empty(256, dtype=np.float64)
    for b in range(256):
        sign = -1.0 if b & 0x80 else 1.0
        exp, man = (b >> 3) & 0xF, b & 0x7
        if exp == 0xF and man == 0x7:
            lut[b] = np.nan
        elif exp == 0:
            lut[b] = sign * man * 2.0 ** -9          # subnormal: man/8 * 2^(1-7)
        else:
            lut[b] = sign * (8 + man) * 2.0 ** (exp - 10)  # (1 + man/8) * 2^(exp-7)
    return lut


_FP8_LUT = _fp8_e4m3fn_lut()


def _decode(raw, dtype, shape):
    if dtype == "F32":
        a = np.frombuffer(raw, dtype="<f4").astype(np.float64)
    elif dtype == "F16":
        a = np.frombuffer(raw, dtype="<f2").astype(np.float64)
    elif dtype == "BF16":
        a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    elif dtype == "F64":
        a = np.frombuffer(raw, dtype="<f8").astype(np.float64)
    elif dtype == "F8_E4M3":
        a = _FP8_LUT[np.frombuffer(raw, dtype=np.uint8)]
    else:
        raise ValueError(f"unsupported dtype {dtype}")
    return a.reshape(shape)


class SafetensorsDir:
    """All tensors of a Hugging Face model directory (single file or index + shards)."""

    def __init__(self, d):
        self.where = {}   # name -> (path, dtype, shape, begin, end) absolute file offsets
        idx = os.path.join(d, "model.safetensors.index.json")
        if os.path.exists(idx):
            files = sorted(set(json.load(open(idx))["weight_map"].values()))
        else:
            files = ["model.safetensors"]
        for fn in files:
            path = os.path.join(d, fn)
            with open(path, "rb") as f:
                n = int.from_bytes(f.read(8), "little")
                header = json.loads(f.read(n).decode("utf-8"))
            base = 8 + n
            for name, info in header.items():
                if name == "__metadata__":
                    continue
                b, e = info["data_offsets"]
                self.where[name] = (path, info["dtype"], tuple(info["shape"]), base + b, base + e)

    def has(self, name):
        return name in self.where

    def raw(self, name):
        path, dtype, shape, b, e = self.where[name]
        with open(path, "rb") as f:
            f.seek(b)
            data = f.read(e - b)
        assert len(data) == e - b
        return data, dtype, shape

    def get(self, name):
        """Float64 array; F8_E4M3 weights are multiplied by their 128x128 block scale_inv."""
        data, dtype, shape = self.raw(name)
        w = _decode(data, dtype, shape)
        if dtype == "F8_E4M3":
            s = self.get(name + "_scale_inv")
            rows, cols = shape
            blocks = np.repeat(np.repeat(s, 128, axis=0), 128, axis=1)[:rows, :cols]
            w = w * blocks
        return w


# --------------------------------------------------------------------------------------------
# model
# --------------------------------------------------------------------------------------------


def yarn_get_mscale(scale, mscale):
    if scale <= 1:
        return 1.0
    return 0.1 * mscale * math.log(scale) + 1.0


class Model:
    def __init__(self, model_dir):
        self.cfg = c = json.load(open(os.path.join(model_dir, "config.json")))
        self.arch = c["architectures"][0]
        self.v3 = self.arch == "DeepseekV3ForCausalLM"
        self.st = SafetensorsDir(model_dir)
        self.L = c["num_hidden_layers"]
        self.H = c["num_attention_heads"]
        self.nope = c["qk_nope_head_dim"]
        self.rope = c["qk_rope_head_dim"]
        self.vdim = c["v_head_dim"]
        self.kvl = c["kv_lora_rank"]
        self.eps = c["rms_norm_eps"]
        self.theta = c.get("rope_theta", 10000.0)
        self._cache = {}

        # softmax scale and rotary frequencies
        self.scale = (self.nope + self.rope) ** -0.5
        rs = c.get("rope_scaling")
        d = self.rope
        i = np.arange(d // 2, dtype=np.float64)
        if rs and rs.get("type", rs.get("rope_type")) == "yarn":
            factor = rs["factor"]
            mscale_all_dim = rs.get("mscale_all_dim", 0) or 0
            if mscale_all_dim:
                m = yarn_get_mscale(factor, mscale_all_dim)
                self.scale *= m * m
            orig = rs["original_max_position_embeddings"]
            beta_fast, beta_slow = rs.get("beta_fast", 32), rs.get("beta_slow", 1)
            mscale = rs.get("mscale", 1)

            def correction_dim(n_rot):
                return d * math.log(orig / (n_rot * 2 * math.pi)) / (2 * math.log(self.theta))

            low = max(math.floor(correction_dim(beta_fast)), 0)
            high = min(math.ceil(correction_dim(beta_slow)), d - 1)
            if low == high:
                high += 0.001
            ramp = np.clip((i - low) / (high - low), 0.0, 1.0)
            extra_mask = 1.0 - ramp
            freq_extra = self.theta ** (-2.0 * i / d)
            freq_inter = 1.0 / (factor * self.theta ** (2.0 * i / d))
            self.inv_freq = freq_inter * (1.0 - extra_mask) + freq_extra * extra_mask
            self.rot_mscale = yarn_get_mscale(factor, mscale) / yarn_get_mscale(factor, mscale_all_dim)
        else:
            self.inv_freq = self.theta ** (-2.0 * i / d)
            self.rot_mscale = 1.0

    def w(self, name):
        if name not in self._cache:
            self._cache[name] = self.st.get(name)
        return self._cache[name]

    def rmsnorm(self, x, name):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * self.w(name)

    def rope_interleaved(self, x, pos):
        """x [T, ..., d]: pair i = (x[2i], x[2i+1]) rotated by pos * inv_freq[i], times mscale."""
        ang = pos[:, None] * self.inv_freq[None, :]               # [T, d/2]
        shape = [x.shape[0]] + [1] * (x.ndim - 2) + [self.rope // 2]
        cos = (np.cos(ang) * self.rot_mscale).reshape(shape)
        sin = (np.sin(ang) * self.rot_mscale).reshape(shape)
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = a * cos - b * sin
        out[..., 1::2] = b * cos + a * sin
        return out

    # ---- attention (MLA) -------------------------------------------------------------------

    def attn_inputs(self, x, p, pos):
        """Per-token projections shared by both formulations.
        Returns q_nope [T,H,nope], q_pe [T,H,rope] (rotated), c_kv [T,kvl] (normed),
        k_pe [T,rope] (rotated)."""
        T = x.shape[0]
        if self.cfg.get("q_lora_rank") is None:
            q = x @ self.w(p + "q_proj.weight").T
        else:
            cq = x @ self.w(p + "q_a_proj.weight").T
            q = self.rmsnorm(cq, p + "q_a_layernorm.weight") @ self.w(p + "q_b_proj.weight").T
        q = q.reshape(T, self.H, self.nope + self.rope)
        q_nope, q_pe = q[..., :self.nope], q[..., self.nope:]
        kv_full = x @ self.w(p + "kv_a_proj_with_mqa.weight").T
        c_kv, k_pe = kv_full[:, :self.kvl], kv_full[:, self.kvl:]
        c_kv = self.rmsnorm(c_kv, p + "kv_a_layernorm.weight")
        return q_nope, self.rope_interleaved(q_pe, pos), c_kv, self.rope_interleaved(k_pe, pos)

    def attention_naive(self, x, p, pos):
        T = x.shape[0]
        q_nope, q_pe, c_kv, k_pe = self.attn_inputs(x, p, pos)
        kv = (c_kv @ self.w(p + "kv_b_proj.weight").T).reshape(T, self.H, self.nope + self.vdim)
        k_nope, v = kv[..., :self.nope], kv[..., self.nope:]
        mask = np.tril(np.ones((T, T), dtype=bool))
        outs = []
        for h in range(self.H):
            qh = np.concatenate([q_nope[:, h], q_pe[:, h]], axis=-1)       # [T, nope+rope]
            kh = np.concatenate([k_nope[:, h], k_pe], axis=-1)             # [T, nope+rope]
            s = (qh @ kh.T) * self.scale
            s = np.where(mask, s, -np.inf)
            s = s - s.max(axis=-1, keepdims=True)
            pr = np.exp(s)
            pr /= pr.sum(axis=-1, keepdims=True)
            outs.append(pr @ v[:, h])                                      # [T, vdim]
        o = np.concatenate(outs, axis=-1)
        return o @ self.w(p + "o_proj.weight").T

    def attention_absorbed(self, x, p, pos):
        """W_UK absorbed into the query, W_UV applied after attending over the latent."""
        T = x.shape[0]
        q_nope, q_pe, c_kv, k_pe = self.attn_inputs(x, p, pos)
        wkv = self.w(p + "kv_b_proj.weight").reshape(self.H, self.nope + self.vdim, self.kvl)
        w_uk, w_uv = wkv[:, :self.nope], wkv[:, self.nope:]                # [H,nope,kvl], [H,v,kvl]
        q_lat = np.einsum("thn,hnc->thc", q_nope, w_uk)                     # [T,H,kvl]
        s = (np.einsum("thc,sc->hts", q_lat, c_kv) + np.einsum("thr,sr->hts", q_pe, k_pe)) * self.scale
        mask = np.tril(np.ones((T, T), dtype=bool))
        s = np.where(mask[None], s, -np.inf)
        s = s - s.max(axis=-1, keepdims=True)
        pr = np.exp(s)
        pr /= pr.sum(axis=-1, keepdims=True)
        lat = np.einsum("hts,sc->thc", pr, c_kv)                            # [T,H,kvl]
        o = np.einsum("thc,hvc->thv", lat, w_uv).reshape(T, self.H * self.vdim)
        return o @ self.w(p + "o_proj.weight").T

    # ---- MLP / MoE -------------------------------------------------------------------------

    def mlp(self, x, p):
        g = x @ self.w(p + "gate_proj.weight").T
        u = x @ self.w(p + "up_proj.weight").T
        return (g / (1.0 + np.exp(-g)) * u) @ self.w(p + "down_proj.weight").T

    def is_moe(self, i):
        c = self.cfg
        return (c.get("n_routed_experts") is not None and i >= c.get("first_k_dense_replace", 0)
                and i % c.get("moe_layer_freq", 1) == 0)

    def route(self, logits, p):
        """logits [E] -> (expert ids, weights) for one token."""
        c = self.cfg
        E, k = c["n_routed_experts"], c["num_experts_per_tok"]
        if c.get("scoring_func", "softmax") == "softmax":
            e = np.exp(logits - logits.max())
            scores = e / e.sum()
        else:
            scores = 1.0 / (1.0 + np.exp(-logits))
        method = c.get("topk_method", "greedy")
        if method == "greedy":
            choice = scores
        elif method == "group_limited_greedy":
            g = scores.reshape(c["n_group"], -1)
            keep = np.argsort(-g.max(axis=1), kind="stable")[: c["topk_group"]]
            mask = np.zeros(c["n_group"], dtype=bool)
            mask[keep] = True
            choice = np.where(np.repeat(mask, E // c["n_group"]), scores, -np.inf)
        elif method == "noaux_tc":
            sc = scores + self.w(p + "gate.e_score_correction_bias")
            g = sc.reshape(c["n_group"], -1)
            top2 = -np.sort(-g, axis=1)[:, :2].sum(axis=1)
            keep = np.argsort(-top2, kind="stable")[: c["topk_group"]]
            mask = np.zeros(c["n_group"], dtype=bool)
            mask[keep] = True
            choice = np.where(np.repeat(mask, E // c["n_group"]), sc, -np.inf)
        else:
            raise ValueError(method)
        ids = np.argsort(-choice, kind="stable")[:k]
        wts = scores[ids].copy()          # routing weights are the unbiased scores
        normalized = k > 1 and c.get("norm_topk_prob", False)
        if normalized:
            wts = wts / (wts.sum() + 1e-20)
        if self.v3:
            wts = wts * c["routed_scaling_factor"]
        elif not normalized:
            wts = wts * c.get("routed_scaling_factor", 1.0)
        return ids, wts

    def moe(self, x, p):
        c = self.cfg
        logits = x @ self.w(p + "gate.weight").T                            # [T, E]
        out = np.zeros_like(x)
        for t in range(x.shape[0]):
            ids, wts = self.route(logits[t], p)
            for e, wt in zip(ids, wts):
                out[t] += wt * self.mlp(x[t:t + 1], f"{p}experts.{e}.")[0]
        if c.get("n_shared_experts"):
            out += self.mlp(x, p + "shared_experts.")
        return out

    # ---- whole model -----------------------------------------------------------------------

    def forward(self, tokens, absorbed=False):
        """tokens list[int] -> logits [T, vocab] (float64)."""
        pos = np.arange(len(tokens), dtype=np.float64)
        x = self.w("model.embed_tokens.weight")[np.asarray(tokens)]
        for i in range(self.L):            # layers >= num_hidden_layers (MTP) are not used
            p = f"model.layers.{i}."
            a_in = self.rmsnorm(x, p + "input_layernorm.weight")
            attn = self.attention_absorbed if absorbed else self.attention_naive
            h = x + attn(a_in, p + "self_attn.", pos)
            m_in = self.rmsnorm(h, p + "post_attention_layernorm.weight")
            x = h + (self.moe(m_in, p + "mlp.") if self.is_moe(i) else self.mlp(m_in, p + "mlp."))
        x = self.rmsnorm(x, "model.norm.weight")
        return x @ self.w("lm_head.weight").T


# --------------------------------------------------------------------------------------------
# self-check
# --------------------------------------------------------------------------------------------


def self_check(model, tokens):
    """Checks the reference against itself with independent formulations. Returns True if ok."""
    ok = True
    T = len(tokens)

    def report(what, err, tol):
        nonlocal ok
        good = err <= tol
        ok &= good
        print(f"  {'ok  ' if good else 'FAIL'} {what}: max abs diff {err:.3e} (tolerance {tol:g})")

    naive = model.forward(tokens)
    absorbed = model.forward(tokens, absorbed=True)
    report(f"naive vs absorbed MLA, logits of {T} positions", float(np.max(np.abs(naive - absorbed))), 1e-9)

    # Causality: logits of a prefix equal the first rows of the full sequence.
    k = max(1, T // 3)
    pre = model.forward(tokens[:k])
    report(f"prefix {k} vs full sequence (causal mask)", float(np.max(np.abs(pre - naive[:k]))), 1e-9)

    # Per-layer attention, naive vs absorbed, on a random input (not just end-to-end).
    rng = np.random.default_rng(1)
    x = rng.standard_normal((T, model.cfg["hidden_size"]))
    pos = np.arange(T, dtype=np.float64)
    for i in range(model.L):
        p = f"model.layers.{i}.self_attn."
        d = float(np.max(np.abs(model.attention_naive(x, p, pos) - model.attention_absorbed(x, p, pos))))
        report(f"layer {i} attention naive vs absorbed", d, 1e-9)

    # Interleaved RoPE vs Hugging Face's (de-interleave to half layout, then rotate_half):
    # equal up to the same permutation of q and k, hence identical dot products.
    d = model.rope
    qv = rng.standard_normal((T, d))
    kv = rng.standard_normal((T, d))
    ang = pos[:, None] * model.inv_freq[None, :]
    emb = np.concatenate([ang, ang], axis=-1)
    cos, sin = np.cos(emb) * model.rot_mscale, np.sin(emb) * model.rot_mscale

    def hf_rope(v):
        v = v.reshape(T, d // 2, 2).transpose(0, 2, 1).reshape(T, d)
        rot = np.concatenate([-v[:, d // 2:], v[:, : d // 2]], axis=-1)
        return v * cos + rot * sin

    a = model.rope_interleaved(qv, pos) @ model.rope_interleaved(kv, pos).T
    b = hf_rope(qv) @ hf_rope(kv).T
    report("interleaved RoPE vs HF permute + rotate_half (q.k)", float(np.max(np.abs(a - b))), 1e-9)

    # Relative position: q_m . k_n depends only on m - n (without YaRN's magnitude factor).
    q1, k1 = rng.standard_normal((1, d)), rng.standard_normal((1, d))
    s1 = (model.rope_interleaved(q1, np.array([40.0])) @ model.rope_interleaved(k1, np.array([37.0])).T)[0, 0]
    s2 = (model.rope_interleaved(q1, np.array([5.0])) @ model.rope_interleaved(k1, np.array([2.0])).T)[0, 0]
    report("RoPE scores depend on relative position only", abs(s1 - s2), 1e-9)

    # fp8 decoding table sanity (OCP e4m3fn).
    lut_ok = (_FP8_LUT[0x7E] == 448.0 and _FP8_LUT[0x38] == 1.0 and _FP8_LUT[0x01] == 2.0 ** -9
              and np.isnan(_FP8_LUT[0x7F]) and np.isnan(_FP8_LUT[0xFF]) and _FP8_LUT[0xB8] == -1.0)
    report("e4m3fn decode table (448, 1, 2^-9, NaN, -1)", 0.0 if lut_ok else 1.0, 0.0)
    return ok


# --------------------------------------------------------------------------------------------


def greedy(forward, tokens, n):
    """n greedy ids, recomputing the full forward every step; also each step's top1-top2 gap."""
    seq, ids, gaps = list(tokens), [], []
    for _ in range(n):
        last = forward(seq)[-1]
        nxt = int(np.argmax(last))
        srt = np.sort(last)
        ids.append(nxt)
        gaps.append(float(srt[-1] - srt[-2]))
        seq.append(nxt)
    return ids, gaps


def reference_main(make_model, self_check, describe, add_args=None, forward_kwargs=lambda a: {}):
    """The command line shared by the references (this one and llama_ref.py): --out logits,
    --greedy ids, --self-check. describe(model) names the model in the self-check header."""
    ap = argparse.ArgumentParser(description=sys.modules["__main__"].__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokens", help="comma-separated token ids")
    ap.add_argument("--out", help="write logits of every position, float32 little-endian [T x vocab]")
    ap.add_argument("--greedy", type=int, default=0, help="print N greedy continuation ids as JSON")
    ap.add_argument("--greedy-json", help="also write {ids, gaps} (top1 - top2 logit per step) here")
    ap.add_argument("--self-check", action="store_true")
    if add_args:
        add_args(ap)
    a = ap.parse_args()

    model = make_model(a.model)
    vocab = model.cfg["vocab_size"]
    tokens = [int(t) for t in a.tokens.split(",") if t.strip()] if a.tokens else None
    if tokens is not None and any(t < 0 or t >= vocab for t in tokens):
        sys.exit(f"token id out of range [0, {vocab})")

    if a.self_check:
        if tokens is None:
            rng = np.random.default_rng(0)
            tokens = [int(t) for t in rng.integers(0, vocab, size=40)]
        print(f"self-check {a.model} ({describe(model)}, {len(tokens)} tokens):")
        ok = self_check(model, tokens)
        print("self-check passed" if ok else "self-check FAILED")
        if not ok:
            sys.exit(1)
        if not a.out and not a.greedy:
            return
    if tokens is None:
        sys.exit("--tokens is required")
    if a.out:
        model.forward(tokens, **forward_kwargs(a)).astype("<f4").tofile(a.out)
    if a.greedy:
        ids, gaps = greedy(model.forward, tokens, a.greedy)
        print(json.dumps(ids))
        if a.greedy_json:
            with open(a.greedy_json, "w") as f:
                json.dump({"ids": ids, "gaps": gaps}, f)


def main():
    reference_main(
        Model, self_check, lambda m: m.arch,
        add_args=lambda ap: ap.add_argument("--absorbed", action="store_true",
                                            help="use the absorbed MLA formulation"),
        forward_kwargs=lambda a: {"absorbed": a.absorbed})


if __name__ == "__main__":
    main()
