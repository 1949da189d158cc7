#!/usr/bin/env bash
# The main job: set up, generate a small DeepSeek-V3-shaped checkpoint in the Hugging Face layout
# (no downloads are possible or needed), show what it holds, and generate from it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
model=${MLA_DEMO_MODEL:-out/demo-v3}
if [ ! -f "$model/config.json" ]; then
  /usr/bin/python3 tools/gen_checkpoint.py --variant v3 --dtype bf16 --yarn --out "$model"
fi
./build/mla inspect --model "$model"
echo
./build/mla generate --model "$model" -p "Multi-head latent attention caches" -n 48 --temperature 0.8 --top-p 0.95 --seed 7
