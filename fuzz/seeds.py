#!/usr/bin/python3
"""Seed corpora and dictionaries for the fuzz targets (fuzz/run.sh), standard library only.

  seeds.py TARGET CORPUS_DIR DICT_FILE
      TARGET: safetensors | gguf | tokenizer | chat_template | openai_request
Seeds are small valid inputs of each kind plus a few near-misses; dictionaries hold the tokens that
matter to the parser. The text seeds come from the repository's own test data (tests/tokenizer,
tests/chat, tests/e2e/serve/bad_requests.json), cut short to keep every seed small.
"""
import json
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def repo_json(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return json.load(f)


def write_seeds(out, seeds):
    for name, data in seeds.items():
        with open(os.path.join(out, "seed_" + name), "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())


def dict_lines(tokens):
    """libFuzzer dictionary: one quoted entry per line, bytes outside printable ASCII as \\xNN."""
    def quote(t):
        b = t.encode() if isinstance(t, str) else t
        return '"' + "".join(chr(c) if 0x20 <= c < 0x7F and c not in (0x22, 0x5C) else "\\x%02x" % c
                             for c in b) + '"'
    return "\n".join(quote(t) for t in tokens) + "\n"


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


# --- tokenizer.json ---------------------------------------------------------------------------

def byte_level_char(b):
    """GPT-2's byte -> printable character map (tokenizers' ByteLevel alphabet)."""
    printable = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    if b in printable:
        return chr(b)
    return chr(0x100 + sorted(set(range(256)) - set(printable)).index(b))


def train_merges(texts, count):
    """A few byte-level BPE merges learnt from texts (words split at spaces, as GPT-2 roughly does)."""
    words = {}
    for text in texts:
        for i, w in enumerate(text.split(" ")):
            w = (" " if i else "") + w
            key = tuple(byte_level_char(b) for b in w.encode())
            if key:
                words[key] = words.get(key, 0) + 1
    merges = []
    for _ in range(count):
        pairs = {}
        for w, n in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + n
        if not pairs:
            break
        best = max(pairs, key=lambda p: (pairs[p], p))
        merges.append(best)
        merged = {}
        for w, n in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            merged[tuple(out)] = merged.get(tuple(out), 0) + n
        words = merged
    return merges


GPT2_BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
BYTE_LEVEL_NO_REGEX = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}
DEEPSEEK_V3_PRE = {"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}"}, "behavior": "Isolated", "invert": False},
    {"type": "Split", "pattern": {"Regex": "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+"}, "behavior": "Isolated",
     "invert": False},
    {"type": "Split", "pattern": {"Regex": "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?"
                                           "[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"},
     "behavior": "Isolated", "invert": False},
    BYTE_LEVEL_NO_REGEX]}
LLAMA3_PRE = {"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?"
                                           "[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     "behavior": "Isolated", "invert": False},
    BYTE_LEVEL_NO_REGEX]}


def added(content, id, special=True, lstrip=False, rstrip=False):
    return {"id": id, "content": content, "single_word": False, "lstrip": lstrip, "rstrip": rstrip,
            "normalized": not special, "special": special}


def tokenizer_json(merges, pre=GPT2_BYTE_LEVEL, added_tokens=(), merges_as_lists=False, ignore_merges=None,
                   normalizer=None):
    vocab = {byte_level_char(b): b for b in range(256)}
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    model = {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
             "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
             "vocab": vocab, "merges": [[a, b] if merges_as_lists else a + " " + b for a, b in merges]}
    if ignore_merges is not None:
        model["ignore_merges"] = ignore_merges
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": list(added_tokens),
            "normalizer": normalizer, "pre_tokenizer": pre, "post_processor": None,
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": model}


def tokenizer_seeds(out):
    corpus = {c["name"]: c["text"] for c in repo_json("tests", "tokenizer", "corpus.json")}
    llama = {c["name"]: c["text"] for c in repo_json("tests", "tokenizer", "corpus_llama3.json")}
    merges = train_merges([corpus[k] for k in ("english", "english_paragraph", "python", "chinese")], 48)
    ds_specials = [added("<\uff5cbegin\u2581of\u2581sentence\uff5c>", 300), added("<\uff5cend\u2581of\u2581sentence\uff5c>", 301),
                   added("<\uff5cUser\uff5c>", 302), added("<\uff5cAssistant\uff5c>", 303),
                   added("<think>", 304, special=False), added("</think>", 305, special=False)]
    llama_specials = [added("<|begin_of_text|>", 400), added("<|eot_id|>", 401, lstrip=True, rstrip=True),
                      added("<|start_header_id|>", 402, rstrip=True), added("<|end_header_id|>", 403, lstrip=True),
                      added("  ", 404, special=False)]
    docs = {
        "gpt2": tokenizer_json(merges),
        "deepseek_v3": tokenizer_json(merges, DEEPSEEK_V3_PRE, ds_specials,
                                      normalizer={"type": "Sequence", "normalizers": []}),
        "llama3": tokenizer_json(merges, LLAMA3_PRE, llama_specials, merges_as_lists=True, ignore_merges=True),
        "no_merges": tokenizer_json([]),
    }
    def dump(doc):
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    texts = {"english": corpus["english"], "chinese": corpus["chinese"], "emoji": corpus["emoji_zwj"],
             "specials": corpus["special_in_text"], "spaces": corpus["nel_and_unicode_spaces"],
             "digits": corpus["digits_unicode"], "think": corpus["think_tags"], "control": corpus["control_chars"],
             "llama_chat": llama["llama3_chat"], "contractions": llama["contractions_unicode_case"]}
    seeds = {}
    for doc_name, doc in docs.items():
        for text_name, text in texts.items():
            if doc_name == "gpt2" or text_name in ("english", "specials", "llama_chat", "think", "emoji"):
                seeds[f"{doc_name}_{text_name}"] = dump(doc).encode() + b"\0" + text[:400].encode()
    seeds["gpt2_invalid_utf8"] = dump(docs["gpt2"]).encode() + b"\0abc\xff\xc3("
    seeds["gpt2_no_text"] = dump(docs["gpt2"])
    # Near-misses: each is refused.
    bad = json.loads(dump(docs["gpt2"]))
    bad["model"]["vocab"]["!"] = -1
    seeds["bad_negative_id"] = dump(bad)
    bad = json.loads(dump(docs["gpt2"]))
    bad["model"]["merges"].append("zz qq")
    seeds["bad_merge"] = dump(bad)
    bad = json.loads(dump(docs["gpt2"]))
    del bad["model"]["vocab"]["A"]
    seeds["bad_missing_byte"] = dump(bad)
    bad = json.loads(dump(docs["gpt2"]))
    bad["pre_tokenizer"] = {"type": "Split", "pattern": {"Regex": "(a"}, "behavior": "Isolated"}
    seeds["bad_regex"] = dump(bad)
    bad = json.loads(dump(docs["gpt2"]))
    bad["added_tokens"] = [added("<big>", 2147483647)]
    seeds["big_id"] = dump(bad) + "\0a<big>b"
    write_seeds(out, seeds)


TOKENIZER_DICT = dict_lines([
    '"type"', '"BPE"', '"ByteLevel"', '"Split"', '"Sequence"', '"Regex"', '"String"', '"Isolated"', '"Removed"',
    '"pretokenizers"', '"pre_tokenizer"', '"normalizer"', '"normalizers"', '"decoder"', '"model"', '"vocab"',
    '"merges"', '"added_tokens"', '"content"', '"id"', '"lstrip"', '"rstrip"', '"normalized"', '"special"',
    '"single_word"', '"ignore_merges"', '"byte_fallback"', '"use_regex"', '"add_prefix_space"', '"invert"',
    '"behavior"', '"dropout"', 'true', 'false', 'null', '2147483647', '-1', '1e20', '\\p{L}', '\\p{N}', '\\s+',
    '(?!\\S)', '(?i:', '{1,3}', '[^', '\\C', '\\K', '(*', '\u0120', '\u010a', '<\uff5cUser\uff5c>', '<think>', '\\u0000',
    '\u3000', '\x85'])


# --- chat templates ----------------------------------------------------------------------------

ROLE_BYTES = {"system": 0, "user": 1, "assistant": 2, "tool": 3}


def messages_bytes(messages, limit=300):
    return b"".join(bytes([ROLE_BYTES.get(m["role"], 3)]) + m["content"][:limit].encode() + b"\0" for m in messages)


def chat_template_seeds(out):
    configs = {}
    for name in ("deepseek_r1_tokenizer_config.json", "deepseek_r1_2501_tokenizer_config.json"):
        configs[name.split("_tokenizer")[0]] = open(os.path.join(ROOT, "tests", "chat", name), "rb").read()
    bos, eos = "<\uff5cbegin\u2581of\u2581sentence\uff5c>", "<\uff5cend\u2581of\u2581sentence\uff5c>"
    small = {
        "v3_like": {"bos_token": {"content": bos}, "eos_token": eos, "chat_template":
                    "{% set ns = namespace(is_first_sp=true) %}<\uff5cUser\uff5c>{{c}}<\uff5cAssistant\uff5c>"},
        "r1_like": {"bos_token": bos, "eos_token": None, "chat_template":
                    "is_first_sp <\uff5cUser\uff5c> <\uff5cAssistant\uff5c><think>\n {{ c.split('</think>')[-1] }}"},
        "old_r1": {"bos_token": bos, "chat_template": "<\uff5cUser\uff5c><\uff5cAssistant\uff5c></think>"},
        "named": {"bos_token": bos, "chat_template": [{"name": "tool_use", "template": "x"},
                                                       {"name": "default", "template": "<\uff5cUser\uff5c><\uff5cAssistant\uff5c>"}]},
        "later": {"chat_template": "<\uff5cUser\uff5c><\uff5cAssistant\uff5c> is_last_user thinking"},
        "none": {"bos_token": "<s>"},
        "llama": {"bos_token": "<|begin_of_text|>", "chat_template": "<|start_header_id|>{{ role }}<|end_header_id|>"},
    }
    for k, v in small.items():
        configs[k] = json.dumps(v, ensure_ascii=False).encode()
    conversations = {c["name"]: c["messages"] for c in repo_json("tests", "chat", "conversations.json")["conversations"]}
    seeds = {}
    for i, (cname, config) in enumerate(configs.items()):
        for j, (mname, messages) in enumerate(conversations.items()):
            if cname.startswith("deepseek") or j % 3 == i % 3:
                seeds[f"{cname}_{mname}"] = bytes([(i + j) % 8]) + config + b"\0" + messages_bytes(messages)
    seeds["r1_tool"] = bytes([1]) + configs["old_r1"] + b"\0" + messages_bytes(
        [{"role": "user", "content": "hi"}, {"role": "tool", "content": "{}"}])
    seeds["forced_r1_no_template"] = bytes([5]) + configs["none"] + b"\0" + messages_bytes(
        [{"role": "system", "content": "a"}, {"role": "system", "content": "b"},
         {"role": "assistant", "content": "<think>x</think>y</think> z"}])
    write_seeds(out, seeds)


CHAT_TEMPLATE_DICT = dict_lines([
    '"chat_template"', '"bos_token"', '"eos_token"', '"content"', '"name"', '"default"', '"template"', 'null',
    '<\uff5cUser\uff5c>', '<\uff5cAssistant\uff5c>', '<\uff5cAssistant\uff5c><think>', '<\uff5cend\u2581of\u2581sentence\uff5c>',
    '<think>', '</think>', '<think>\n', 'is_first_sp', 'is_last_user', 'thinking', '\x00\x01', '\x00\x02', '\x00\x00'])


# --- OpenAI requests ---------------------------------------------------------------------------

def openai_request_seeds(out):
    endpoint_of = {"/v1/chat/completions": 0, "/v1/completions": 1, "/tokenize": 2, "/detokenize": 3}
    seeds = {}
    for case in repo_json("tests", "e2e", "serve", "bad_requests.json")["cases"]:
        if case.get("path") not in endpoint_of or case.get("method", "POST") != "POST":
            continue
        if "body_hex" in case:
            body = bytes.fromhex(case["body_hex"])
        elif "body_repeat" in case:
            parts = case["body_repeat"]
            body = "".join(parts[i] * min(parts[i + 1], 600) for i in range(0, len(parts), 2)).encode()
        else:
            body = case["body"].encode()
        body = body.replace(b"%%MODEL%%", b"fuzz").replace(b"v2final", b"fuzz")
        name = "".join(c if c.isalnum() else "_" for c in case["name"])
        seeds["bad_" + name] = bytes([endpoint_of[case["path"]]]) + body
    user = {"role": "user", "content": "What is <think>MLA</think>?"}
    good = {
        "chat": (0, {"model": "fuzz", "messages": [{"role": "system", "content": "Be brief."}, user,
                                                   {"role": "assistant", "content": "<think>hm</think>Latent."},
                                                   {"role": "developer", "content": [{"type": "text", "text": "a"},
                                                                                     {"type": "text", "text": "b"}]}],
                     "max_tokens": 8, "temperature": 0.7, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "seed": -3,
                     "presence_penalty": 0.5, "frequency_penalty": -0.5, "repetition_penalty": 1.1,
                     "stop": ["\n", "</think>"], "n": 2, "logprobs": True, "top_logprobs": 3, "user": "x"}),
        "chat_stream": (4, {"model": "fuzz", "messages": [user], "max_completion_tokens": 4, "stream": True,
                            "stream_options": {"include_usage": True}, "ignore_eos": True}),
        "chat_no_template": (8, {"model": "fuzz", "messages": [user]}),
        "completion_text": (1, {"model": "fuzz", "prompt": "The cache holds only the latent", "max_tokens": 16,
                                "logprobs": 2, "stop": "x"}),
        "completion_ids": (1, {"model": "fuzz", "prompt": [300, 1, 2, 3, 261], "max_tokens": None, "seed": 7}),
        "completion_list": (13, {"model": "fuzz", "prompt": ["in the hat"], "max_tokens": 4}),
        "tokenize_prompt": (2, {"prompt": "the <｜User｜>x", "add_special_tokens": False}),
        "tokenize_messages": (6, {"model": "fuzz", "messages": [user]}),
        "detokenize": (3, {"tokens": [300, 116, 104, 261, 303]}),
    }
    for name, (selector, body) in good.items():
        seeds[name] = bytes([selector]) + json.dumps(body, ensure_ascii=False).encode()
    write_seeds(out, seeds)


OPENAI_REQUEST_DICT = dict_lines([
    '"model"', '"fuzz"', '"messages"', '"role"', '"content"', '"system"', '"developer"', '"user"', '"assistant"',
    '"type"', '"text"', '"prompt"', '"max_tokens"', '"max_completion_tokens"', '"temperature"', '"top_p"',
    '"top_k"', '"min_p"', '"presence_penalty"', '"frequency_penalty"', '"repetition_penalty"', '"seed"', '"stop"',
    '"ignore_eos"', '"n"', '"stream"', '"stream_options"', '"include_usage"', '"logprobs"', '"top_logprobs"',
    '"echo"', '"suffix"', '"tokens"', '"add_special_tokens"', 'null', 'true', 'false', '1e309', '-1', '0.5',
    '9223372036854775807', '9223372036854775808', '-9223372036854775809', '18446744073709551616', '2147483648',
    '\\ud800', '\\u0000', '</think>', '<think>', '<\uff5cUser\uff5c>', '<\uff5cAssistant\uff5c>', '[{', '}]'])


def main():
    target, corpus, dict_file = sys.argv[1:4]
    os.makedirs(corpus, exist_ok=True)
    if target == "safetensors":
        safetensors_seeds(corpus)
        text = SAFETENSORS_DICT
    elif target == "gguf":
        gguf_seeds(corpus)
        text = GGUF_DICT
    elif target == "tokenizer":
        tokenizer_seeds(corpus)
        text = TOKENIZER_DICT
    elif target == "chat_template":
        chat_template_seeds(corpus)
        text = CHAT_TEMPLATE_DICT
    elif target == "openai_request":
        openai_request_seeds(corpus)
        text = OPENAI_REQUEST_DICT
    else:
        sys.exit(f"unknown target {target}")
    with open(dict_file, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
