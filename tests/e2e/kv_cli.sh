#!/usr/bin/env bash
# End-to-end: `mla kv`. Checks the JSON it prints for a preset (DeepSeek-R1) and for a generated
# tiny checkpoint against numbers computed here by hand and from config.json in Python, the table
# output, and that bad arguments exit 1 with one "mla: error:" line.
#
# Environment: MLA_BIN (the mla binary), MLA_SOURCE_DIR (source tree), MLA_WORK (scratch dir).
set -u

: "${MLA_BIN:?MLA_BIN must point at the mla binary}"
MLA_SOURCE_DIR=${MLA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
MLA_WORK=${MLA_WORK:-${TMPDIR:-/tmp}/mla-e2e}
PYTHON=${PYTHON:-/usr/bin/python3}
[ -x "$PYTHON" ] || PYTHON=python3
W="$MLA_WORK/kv_cli"
rm -rf "$W"
mkdir -p "$W"

failed=0
fail() {
  echo "FAIL: $*" >&2
  failed=1
}

# check_json FILE PYTHON-EXPR...: each expression, evaluated with the parsed object as `j`, must be true.
check_json() {
  local file=$1
  shift
  "$PYTHON" - "$file" "$@" <<'EOF' || fail "JSON checks on $file"
import json, sys
j = json.load(open(sys.argv[1]))
bad = [e for e in sys.argv[2:] if not eval(e, {"j": j})]
for e in bad:
    print(f"  not true: {e}   (object: {json.dumps(j)})", file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
}

# --- DeepSeek-R1 preset, bf16 (the default with --json): 61 x (512 + 64) x 2 = 70,272 B per token;
# MHA with 128 heads of 128-dim K and V: 61 x 128 x 256 x 2 = 3,997,696 B.
if "$MLA_BIN" kv --preset deepseek-r1 --json > "$W/r1.json" 2> "$W/r1.err"; then
  check_json "$W/r1.json" \
    'j["kv_bytes_per_token"] == 61 * (512 + 64) * 2 == 70272' \
    'j["mha_kv_bytes_per_token"] == 61 * 128 * (128 + 128) * 2 == 3997696' \
    'j["kv_bytes_per_token_per_layer"] == 1152' \
    'j["mha_kv_bytes_per_token_per_layer"] == 65536' \
    'j["layers"] == 61 and j["heads"] == 128 and j["attention"] == "MLA" and j["dtype"] == "bf16"' \
    'abs(j["reduction"] - 3997696 / 70272) < 1e-9 and round(j["reduction"], 1) == 56.9' \
    'j["max_context"] == 163840 and j["context_tokens"] == 163840' \
    'j["context_bytes"] == 70272 * 163840' \
    '"mem_tokens" not in j'
else
  fail "mla kv --preset deepseek-r1 --json exited non-zero: $(cat "$W/r1.err")"
fi

# --- other dtypes, --context and --mem
if "$MLA_BIN" kv --preset deepseek-r1 --json --kv-type q8_0 --context 100000 --mem 24GiB > "$W/r1q8.json" 2> "$W/r1q8.err"; then
  check_json "$W/r1q8.json" \
    'j["dtype"] == "q8_0"' \
    'j["kv_bytes_per_token"] == 61 * 18 * 34 == 37332' \
    'j["context_tokens"] == 100000 and j["context_bytes"] == 100000 * 37332' \
    'j["mem_bytes"] == 24 * 2**30 and j["mem_tokens"] == 24 * 2**30 // 37332' \
    'j["mha_mem_tokens"] == 24 * 2**30 // (61 * 2 * 512 * 34)'
else
  fail "mla kv --dtype q8_0 --context --mem exited non-zero: $(cat "$W/r1q8.err")"
fi
if "$MLA_BIN" kv --preset llama-3-8b --json > "$W/l8.json" 2> "$W/l8.err"; then
  check_json "$W/l8.json" \
    'j["kv_bytes_per_token"] == 32 * 2 * 8 * 128 * 2 == 131072' \
    'j["mha_kv_bytes_per_token"] == 32 * 2 * 32 * 128 * 2 == 524288' \
    'j["attention"] == "GQA" and j["kv_heads"] == 8 and j["head_dim"] == 128'
else
  fail "mla kv --preset llama-3-8b --json: $(cat "$W/l8.err")"
fi
if "$MLA_BIN" kv --preset gpt2 --json --kv-type f16 > "$W/gpt2.json" 2> "$W/gpt2.err"; then
  check_json "$W/gpt2.json" 'j["kv_bytes_per_token"] == 12 * 2 * 12 * 64 * 2 == 36864' 'j["reduction"] == 1'
else
  fail "mla kv --preset gpt2: $(cat "$W/gpt2.err")"
fi

# --- the table: one row per dtype, R1 bf16 numbers present
if "$MLA_BIN" kv --preset deepseek-r1 > "$W/r1.txt" 2> "$W/r1txt.err"; then
  for d in f32 bf16 f16 fp8 q8_0; do
    grep -Eq "^$d +" "$W/r1.txt" || fail "table has no $d row"
  done
  grep -Eq '^bf16 +1,152 +70,272 +3,997,696 +56\.89x' "$W/r1.txt" || fail "table bf16 row: $(grep '^bf16' "$W/r1.txt")"
else
  fail "mla kv --preset deepseek-r1 (table): $(cat "$W/r1txt.err")"
fi

# --- --model on a generated checkpoint: its config.json is read, and the numbers are computed
# here from that same file.
CK="$W/v2lite"
if ! "$PYTHON" "$MLA_SOURCE_DIR/tools/gen_checkpoint.py" --variant v2-lite --dtype bf16 --out "$CK" > "$W/gen.log" 2>&1; then
  fail "gen_checkpoint.py: $(cat "$W/gen.log")"
elif "$MLA_BIN" kv --model "$CK" --json > "$W/ck.json" 2> "$W/ck.err"; then
  "$PYTHON" - "$CK/config.json" "$W/ck.json" <<'EOF' || fail "--model numbers differ from config.json"
import json, sys
c = json.load(open(sys.argv[1]))
j = json.load(open(sys.argv[2]))
L, H = c["num_hidden_layers"], c["num_attention_heads"]
row = c["kv_lora_rank"] + c["qk_rope_head_dim"]           # the MLA latent row
mha = H * (c["qk_nope_head_dim"] + c["v_head_dim"])       # K + V of every head
want = {
    "layers": L,
    "kv_bytes_per_token_per_layer": row * 2,
    "kv_bytes_per_token": L * row * 2,
    "mha_kv_bytes_per_token": L * mha * 2,
    "max_context": c["max_position_embeddings"],
    "context_tokens": c["max_position_embeddings"],
    "context_bytes": c["max_position_embeddings"] * L * row * 2,
    "attention": "MLA",
}
bad = {k: (j.get(k), v) for k, v in want.items() if j.get(k) != v}
if bad:
    print(f"  got/want: {bad}", file=sys.stderr)
    sys.exit(1)
EOF
  # The tiny v2-lite variant by hand: 3 layers, 4 heads, kv_lora_rank 64, rope 16, nope 32, v 32:
  # 3 x (64 + 16) x 2 = 480 B per token; MHA 3 x 4 x (32 + 32) x 2 = 1,536 B; 3.2x.
  check_json "$W/ck.json" \
    'j["kv_bytes_per_token"] == 480' 'j["mha_kv_bytes_per_token"] == 1536' 'abs(j["reduction"] - 3.2) < 1e-12'
  # The directory and its config.json give the same answer.
  "$MLA_BIN" kv --model "$CK/config.json" --json > "$W/ck2.json" 2>&1 || fail "--model DIR/config.json"
  cmp -s "$W/ck.json" "$W/ck2.json" || fail "--model DIR and --model DIR/config.json differ"
else
  fail "mla kv --model: $(cat "$W/ck.err")"
fi

# --- --model on a Llama config.json (Meta-Llama-3-8B's, written here): GQA with 8 KV heads of
# 4096 / 32 = 128: 32 x 2 x 8 x 128 x 2 = 131,072 B per token; MHA equivalent 524,288 B.
mkdir -p "$W/llama3"
cat > "$W/llama3/config.json" <<'EOF'
{"architectures": ["LlamaForCausalLM"], "attention_bias": false, "bos_token_id": 128000, "eos_token_id": 128001,
 "hidden_act": "silu", "hidden_size": 4096, "intermediate_size": 14336, "max_position_embeddings": 8192,
 "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
 "rms_norm_eps": 1e-05, "rope_scaling": null, "rope_theta": 500000.0, "tie_word_embeddings": false,
 "torch_dtype": "bfloat16", "vocab_size": 128256}
EOF
if "$MLA_BIN" kv --model "$W/llama3" --json > "$W/llama3.json" 2> "$W/llama3.err"; then
  check_json "$W/llama3.json" \
    'j["attention"] == "GQA" and j["kv_heads"] == 8 and j["head_dim"] == 128' \
    'j["kv_bytes_per_token"] == 131072 and j["mha_kv_bytes_per_token"] == 524288' \
    'j["max_context"] == 8192 and j["context_bytes"] == 131072 * 8192'
else
  fail "mla kv --model (Llama config): $(cat "$W/llama3.err")"
fi

# --- bad arguments: exit 1, exactly one stderr line "mla: error: ..." matching PATTERN
expect_error() {
  local name=$1 pattern=$2
  shift 2
  "$@" > "$W/$name.out" 2> "$W/$name.err" < /dev/null
  local rc=$?
  local lines
  lines=$(wc -l < "$W/$name.err")
  if [ $rc -ne 1 ]; then
    fail "$name: exit status $rc, expected 1 ($(cat "$W/$name.err"))"
  elif [ "$lines" -ne 1 ]; then
    fail "$name: $lines lines on stderr, expected 1: $(cat "$W/$name.err")"
  elif ! grep -Eq "^mla: error: .*$pattern" "$W/$name.err"; then
    fail "$name: stderr '$(cat "$W/$name.err")' does not match 'mla: error: .*$pattern'"
  fi
}
expect_error bad_preset "unknown preset.*known: gpt2" "$MLA_BIN" kv --preset no-such-model
expect_error bad_dtype "--kv-type 'int4'" "$MLA_BIN" kv --preset gpt2 --kv-type int4
expect_error zero_context "--context '0'" "$MLA_BIN" kv --preset gpt2 --context 0
expect_error neg_context "--context '-5'" "$MLA_BIN" kv --preset gpt2 --context=-5
expect_error huge_context "exceeds 2\\^64" "$MLA_BIN" kv --preset deepseek-r1 --context 9223372036854775807
expect_error bad_unit "unknown unit 'XB'" "$MLA_BIN" kv --preset gpt2 --mem 24XB
expect_error neg_mem "--mem '-1GiB'" "$MLA_BIN" kv --preset gpt2 --mem=-1GiB
expect_error no_source "exactly one of --model DIR or --preset NAME" "$MLA_BIN" kv
expect_error both_sources "exactly one of" "$MLA_BIN" kv --preset gpt2 --model "$CK"
expect_error missing_model "nowhere: does not exist" "$MLA_BIN" kv --model "$W/nowhere"

# --- one name for the cache format on every command that keeps or sizes a cache: --kv-type, default
# bf16; a bad value is refused before any model is loaded, the old spellings with a hint.
for cmd in generate chat eval bench serve kv; do
  args=(-m "$W/nowhere")
  case $cmd in
    eval) args+=(--tokens 1 --logits-out "$W/x.bin") ;;
    kv) args=(--preset gpt2) ;;
    bench) args=() ;;
  esac
  "$MLA_BIN" $cmd --help | grep -Eq -- "--kv-type .*bf16 \(default\)|--kv-type .*bf16 with --json" ||
    fail "$cmd --help: no --kv-type with its bf16 default"
  expect_error "$cmd-bad-kv-type" "--kv-type 'int4': unknown cache dtype" "$MLA_BIN" $cmd "${args[@]}" --kv-type int4
  for old in --kv-dtype --dtype; do
    expect_error "$cmd$old" "$old was renamed: the cache format is --kv-type" "$MLA_BIN" $cmd "${args[@]}" $old bf16
  done
done

if [ $failed -ne 0 ]; then
  echo "kv_cli: FAILED" >&2
  exit 1
fi
echo "kv_cli: all checks passed"
