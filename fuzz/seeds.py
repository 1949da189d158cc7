#!/usr/bin/python3
"""Seed corpora and dictionaries for the fuzz targets (fuzz/run.sh), standard library only.

  seeds.py TARGET CORPUS_DIR DICT_FILE        TARGET: safetensors | gguf
Seeds are small valid files of each kind plus a few near-misses; dictionaries hold the tokens that
matter to the parser.
"""
import json
import os
import struct
import sys


def safetensors_seeds(out):
    def st(header, data=b"", n=None):
        h = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
        return struct.pack("<Q", len(h) if n is None else n) + h + data
    def tensors(specs, meta=None):
        h, data = {}, b""
        if meta is not None: h["__metadata__"] = meta
        for name, dt, shape, size in specs:
            h[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(data), len(data) + size]}
            data += bytes(range(size % 256)) + b"\x01" * (size - size % 256)
        return st(h, data)
    seeds = {
        "empty_header": st({}),
        "one_f32": tensors([("w", "F32", [2, 2], 16)]),
        "mixed": tensors([("a", "BF16", [3], 6), ("b", "F16", [1, 2], 4), ("c", "F8_E4M3", [], 1),
                          ("z", "F32", [0, 5], 0)], {"format": "pt"}),
        "padded": st(b'{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}    ', b"\0" * 4),
        "reordered": st(b'{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 8),
        "gap": st({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8),
        "overlap": st(b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', b"\0" * 12),
        "unicode": tensors([("\u00e9\u4e2d\U0001f600", "F32", [1], 4)]),
        "escapes": st(b'{"a\\u0000\\"":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4),
        "huge_dims": st({"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}}),
        "long_len": st({}, b"", 1 << 40),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, "seed_" + name), "wb") as f:
            f.write(data)


SAFETENSORS_DICT = '"{"\n"}"\n"\\"dtype\\""\n"\\"shape\\""\n"\\"data_offsets\\""\n"\\"__metadata__\\""\n"\\"F32\\""\n"\\"F16\\""\n"\\"BF16\\""\n"\\"F8_E4M3\\""\n"\\"I64\\""\n"[0,0]"\n"18446744073709551615"\n"4294967296"\n"-1"\n"1.5"\n"\\xff"\n"\\\\u0000"\n'


def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf_value(t, v, elem=None):
    fmt = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<B", 10: "<Q", 11: "<q", 12: "<d"}
    if t in fmt:
        return struct.pack(fmt[t], v)
    if t == 8:
        return gguf_string(v)
    return struct.pack("<IQ", elem[0], len(v)) + b"".join(gguf_value(elem[0], x, elem[1:]) for x in v)


def gguf(kvs, tensors, align=32):
    """kvs: [(key, type, value, elem types)], tensors: [(name, ne, ggml type, nbytes)]."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for key, t, v, elem in kvs:
        out += gguf_string(key) + struct.pack("<I", t) + gguf_value(t, v, elem)
    off, data = 0, b""
    for name, ne, gt, nbytes in tensors:
        out += gguf_string(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
        out += struct.pack("<IQ", gt, off)
        data += bytes(i % 251 for i in range(nbytes)) + b"\0" * (-nbytes % align)
        off = len(data)
    return out + b"\0" * (-len(out) % align) + data


def gguf_seeds(out):
    every_type = [("u8", 0, 7, None), ("i8", 1, -7, None), ("u16", 2, 700, None), ("i16", 3, -700, None),
                  ("u32", 4, 70000, None), ("i32", 5, -70000, None), ("f32", 6, 1.5, None), ("bool", 7, 1, None),
                  ("str", 8, "h\u00e9llo", None), ("u64", 10, 1 << 40, None), ("i64", 11, -(1 << 40), None),
                  ("f64", 12, 2.5, None), ("strs", 9, ["a", "b c"], [8]), ("nested", 9, [[1, 2], [3]], [9, 5])]
    p = "deepseek2."
    ds = [("general.architecture", 8, "deepseek2", None), (p + "embedding_length", 4, 32, None),
          (p + "block_count", 4, 1, None), (p + "attention.head_count", 4, 2, None),
          (p + "context_length", 4, 64, None), (p + "feed_forward_length", 4, 64, None),
          (p + "attention.layer_norm_rms_epsilon", 6, 1e-6, None), (p + "attention.kv_lora_rank", 4, 32, None),
          (p + "rope.dimension_count", 4, 8, None), (p + "attention.key_length", 4, 40, None),
          (p + "attention.value_length", 4, 32, None), (p + "attention.key_length_mla", 4, 24, None),
          (p + "attention.value_length_mla", 4, 16, None), (p + "expert_count", 4, 4, None),
          (p + "expert_used_count", 4, 2, None), (p + "expert_feed_forward_length", 4, 32, None),
          (p + "rope.scaling.type", 8, "yarn", None), (p + "rope.scaling.factor", 6, 4.0, None),
          (p + "rope.scaling.original_context_length", 4, 16, None)]
    seeds = {
        "empty": gguf([], []),
        "every_type": gguf(every_type, []),
        "tensors": gguf([("general.alignment", 4, 64, None)],
                        [("a", [4, 2], 0, 32), ("b", [32], 8, 34), ("c", [64, 1, 1], 2, 36), ("d", [3], 30, 6),
                         ("e", [2, 2], 1, 8)], align=64),
        # One tensor of each K-quant / i-quant type, [256] values: (ggml type id, block bytes).
        "block_formats": gguf([], [(f"t{k}", [256], tid, nbytes * (8 if tid in (3, 6, 7, 20) else 1))
                                   for k, (tid, nbytes) in enumerate([(3, 20), (6, 22), (7, 24), (20, 18), (10, 84),
                                                                      (11, 110), (12, 144), (13, 176), (14, 210),
                                                                      (23, 136), (18, 98), (21, 110), (16, 66),
                                                                      (17, 74), (22, 82), (19, 50), (29, 56)])]),
        "deepseek2": gguf(ds, [("token_embd.weight", [32, 16], 0, 2048), ("blk.0.exp_probs_b.bias", [4], 0, 16)]),
        "llama": gguf([("general.architecture", 8, "llama", None), ("llama.embedding_length", 4, 32, None),
                       ("llama.block_count", 4, 1, None), ("llama.attention.head_count", 4, 4, None),
                       ("llama.attention.head_count_kv", 4, 2, None), ("llama.context_length", 4, 64, None),
                       ("llama.feed_forward_length", 4, 64, None),
                       ("llama.attention.layer_norm_rms_epsilon", 6, 1e-5, None)],
                      [("token_embd.weight", [32, 8], 1, 512)]),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, "seed_" + name), "wb") as f:
            f.write(data)


GGUF_DICT = "\n".join([
    '"GGUF"', '"\\x03\\x00\\x00\\x00"', '"general.alignment"', '"general.architecture"', '"deepseek2"', '"llama"',
    '"deepseek2.attention.kv_lora_rank"', '"deepseek2.expert_count"', '"deepseek2.rope.scaling.type"', '"yarn"',
    '"token_embd.weight"', '"blk.0.exp_probs_b.bias"', '"\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff"',
    '"\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x80"', '"\\x09\\x00\\x00\\x00"', '"\\x08\\x00\\x00\\x00"',
    '"\\x1e\\x00\\x00\\x00"', '"\\x0c\\x00\\x00\\x00"', '"\\x0e\\x00\\x00\\x00"', '"\\x10\\x00\\x00\\x00"',
    '"\\x17\\x00\\x00\\x00"', '"\\x1d\\x00\\x00\\x00"', '"\\x20\\x00\\x00\\x00\\x00\\x00\\x00\\x00"']) + "\n"


def main():
    target, corpus, dict_file = sys.argv[1:4]
    os.makedirs(corpus, exist_ok=True)
    if target == "safetensors":
        safetensors_seeds(corpus)
        text = SAFETENSORS_DICT
    else:
        gguf_seeds(corpus)
        text = GGUF_DICT
    with open(dict_file, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
