#!/usr/bin/env bash
# End-to-end: the chat page of `mla serve` (GET /) in a real browser, Debian's chromium, headless,
# driven by puppeteer-core (tests/e2e/serve/chat_page.js): the page asks for the API key and loads
# with no console error; a message streams the reply the API gives for the same greedy request;
# DeepSeek-R1 reasoning is folded; stop cancels the request and frees its cache (seen in /metrics);
# the cache panel shows exactly what GET /cache and /metrics say. Also with curl: the page's files
# need no key, /cache does, and the request limits hold for them as for every route.
#
# MLA_SCREENSHOT=FILE.png also saves a screenshot of the page (docs/img/chat_page.png is one);
# CHROMIUM=PATH picks another browser binary (default /usr/bin/chromium).
source "$(dirname "$0")/serve/lib.bash"
work_dir serve_chat_page
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export CHROMIUM
[ -x "$CHROMIUM" ] || die "no browser at $CHROMIUM (scripts/setup.sh installs Debian's chromium)"
node -e "require.resolve('puppeteer-core')" 2>/dev/null ||
  die "the puppeteer-core npm package is missing (npm ci in tests/js, or NODE_PATH=DIR/node_modules)"

# DeepSeek-V2-Lite's attention (16 heads; kv_lora 512 + rope 64 = 576 cached values per token and
# layer against MHA's 16 x (128 + 128) = 4096) on 2 small layers: 8M parameters.
M="$W/v2lite"
make_model "$M" --variant v2-lite --dtype bf16 --max-pos 1024 --layers 2 --hidden 256 --heads 16 --kv-lora 512 \
  --rope 64 --nope 128 --vdim 128
# Greedy equality between the page's stream and a later API call that finds the prompt in the
# prefix cache needs the f32 products (docs/SERVING.md; serve_concurrency.sh does the same).
export MLA_KERNELS=avx512-novnni
KEY=page-key-456
AUTH="Authorization: Bearer $KEY"
start_server "$W/server.log" "$M" --api-key "$KEY" --template deepseek-r1 --kv-mem 4MiB --max-body 64KiB

code() { curl -s -o "$W/body" -w '%{http_code}' "$@"; }
# The page's files: no key needed, the right types; /cache needs the key like /metrics.
[ "$(code "$BASE/")" = 200 ] && grep -q '<script src="/app.js"' "$W/body" || die "GET /: $(head -c 300 "$W/body")"
[ "$(curl -s -o /dev/null -w '%{content_type}' "$BASE/app.js")" = "text/javascript; charset=utf-8" ] || die "/app.js type"
[ "$(curl -s -o /dev/null -w '%{content_type}' "$BASE/app.css")" = "text/css; charset=utf-8" ] || die "/app.css type"
[ "$(code "$BASE/cache")" = 401 ] || die "/cache without a key must answer 401"
[ "$(code -H "$AUTH" "$BASE/cache")" = 200 ] || die "/cache: $(cat "$W/body")"
# The limits hold for the page's routes too: methods, body size (--max-body), header size.
[ "$(code -X POST -d x "$BASE/")" = 405 ] || die "POST / must answer 405"
[ "$(code -X DELETE -H "$AUTH" "$BASE/cache")" = 405 ] || die "DELETE /cache must answer 405"
head -c 70000 /dev/zero | tr '\0' a > "$W/big"
[ "$(code -H "$AUTH" -X GET --data-binary "@$W/big" "$BASE/cache")" = 413 ] || die "a 70 KB body must answer 413"
[ "$(code -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' b)" "$BASE/")" = 431 ] || die "a 20 KB header must answer 431"

node "$SERVE_DIR/chat_page.js" "$BASE" "$KEY" v2lite || die "chat page checks failed"
echo "serve_chat_page: all checks passed"
