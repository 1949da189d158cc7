// The chat page of `mla serve`: a conversation streamed from /v1/chat/completions and a live panel
// of the KV cache from /cache. Plain DOM, no framework, no third-party code; model output is only
// ever inserted as text (never as HTML).
'use strict';

const $ = (id) => document.getElementById(id);
const SETTINGS = ['system', 'temperature', 'top_p', 'top_k', 'min_p', 'max_tokens', 'seed'];
const NUMBERS = { temperature: parseFloat, top_p: parseFloat, top_k: parseInt, min_p: parseFloat,
                  max_tokens: parseInt, seed: parseInt };

const state = {
  model: null,         // the served model's id, from /v1/models
  ready: false,
  history: [],         // [{role, content}] sent with each request (replies: their answer only)
  conversation: 0,     // bumped by "New chat": a reply still ending belongs to the old one
  controller: null,    // AbortController of the reply streaming now
  cacheTimer: null,
};

// ---- storage: the API key and the settings stay in this browser

function apiKey() { return localStorage.getItem('mla.apiKey') || ''; }
function setApiKey(k) { k ? localStorage.setItem('mla.apiKey', k) : localStorage.removeItem('mla.apiKey'); }
function headers(json) {
  const h = {};
  if (json) h['Content-Type'] = 'application/json';
  if (apiKey()) h.Authorization = 'Bearer ' + apiKey();
  return h;
}

function loadSettings() {
  let saved = {};
  try { saved = JSON.parse(localStorage.getItem('mla.settings') || '{}'); } catch { saved = {}; }
  for (const k of SETTINGS) if (typeof saved[k] === 'string') $(k).value = saved[k];
  $('api-key').value = apiKey();
}
function saveSettings() {
  const s = {};
  for (const k of SETTINGS) s[k] = $(k).value;
  localStorage.setItem('mla.settings', JSON.stringify(s));
}
// The request's sampling fields: only those set (the server's defaults otherwise).
function sampling() {
  const out = {};
  for (const [k, parse] of Object.entries(NUMBERS)) {
    const v = $(k).value.trim();
    if (v !== '' && !Number.isNaN(parse(v))) out[k] = parse(v);
  }
  return out;
}

// ---- formatting

const int = new Intl.NumberFormat('en-US');
function bytes(n) {
  if (n < 1024) return int.format(n) + ' B';
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n, u = -1;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; ++u; }
  return (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)) + ' ' + units[u];
}
function format(v, kind) {
  if (v === null || v === undefined) return '–';
  if (typeof v !== 'number') return String(v);
  if (kind === 'bytes') return v < 1024 ? int.format(v) + ' B' : bytes(v) + ' (' + int.format(v) + ' B)';
  if (kind === 'times') return v.toFixed(1) + 'x';
  return Number.isInteger(v) ? int.format(v) : v.toFixed(1);
}

function setStatus(text, st) {
  const el = $('status');
  el.textContent = text;
  el.dataset.state = st;
}

// ---- talking to the server

class ApiFailure extends Error {
  constructor(status, message) { super(message); this.status = status; }
}
async function failure(res) {
  let msg = res.status + ' ' + res.statusText;
  try { const j = await res.json(); if (j.error && j.error.message) msg = j.error.message; } catch { /* not JSON */ }
  return new ApiFailure(res.status, msg);
}
async function getJson(path) {
  const res = await fetch(path, { headers: headers(false), cache: 'no-store' });
  if (!res.ok) throw await failure(res);
  return res.json();
}

function needKey(message) {
  state.ready = false;
  stopCachePolling();
  setStatus('API key needed', 'key');
  $('key-form').hidden = false;
  $('key-error').textContent = apiKey() ? message : '';
  $('key-input').focus();
  updateButtons();
}

// Waits for the model to load, then asks for its name (which needs the key, if any).
async function connect() {
  for (;;) {
    try {
      const res = await fetch('/health', { cache: 'no-store' });
      if (res.ok) break;
      setStatus('loading the model…', 'loading');
    } catch {
      setStatus('server unreachable', 'down');
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  try {
    const models = await getJson('/v1/models');
    state.model = models.data[0].id;
  } catch (e) {
    if (e.status === 401) return needKey(e.message);
    setStatus(e.message, 'down');
    return;
  }
  $('key-form').hidden = true;
  $('model').textContent = state.model;
  setStatus('ready', 'ready');
  state.ready = true;
  updateButtons();
  startCachePolling();
}

// ---- the conversation

function scrollToEnd(force) {
  const m = $('messages');
  if (force || m.scrollHeight - m.scrollTop - m.clientHeight < 80) m.scrollTop = m.scrollHeight;
}

function addUser(text) {
  $('empty').hidden = true;
  const el = document.createElement('article');
  el.className = 'msg user';
  const role = document.createElement('div');
  role.className = 'role';
  role.textContent = 'you';
  const content = document.createElement('div');
  content.className = 'content';
  content.textContent = text;
  el.append(role, content);
  $('messages').append(el);
  scrollToEnd(true);
}

// One assistant reply as it streams: reasoning (DeepSeek-R1's reasoning_content) in a block that
// is open while the model reasons and folds once the answer starts, the answer, and its numbers.
class Reply {
  constructor(model) {
    this.el = document.createElement('article');
    this.el.className = 'msg assistant';
    this.el.dataset.state = 'waiting';
    const role = document.createElement('div');
    role.className = 'role';
    role.textContent = model;
    this.details = document.createElement('details');
    this.details.className = 'reasoning';
    this.details.hidden = true;
    this.summary = document.createElement('summary');
    this.summary.textContent = 'Reasoning…';
    this.reasoningText = document.createElement('div');
    this.reasoningText.className = 'reasoning-text';
    this.details.append(this.summary, this.reasoningText);
    this.content = document.createElement('div');
    this.content.className = 'content';
    this.stats = document.createElement('div');
    this.stats.className = 'stats';
    this.stats.textContent = 'waiting for the first token…';
    this.el.append(role, this.details, this.content, this.stats);
    $('messages').append(this.el);
    this.reasoning = '';
    this.answer = '';
    this.t0 = performance.now();
    this.tFirst = 0;
    this.chunks = 0;
    scrollToEnd(true);
  }
  first() {
    if (!this.tFirst) this.tFirst = performance.now();
    ++this.chunks;
    this.el.dataset.state = 'streaming';
  }
  addReasoning(text) {
    this.first();
    if (!this.reasoning) {
      this.details.hidden = false;
      this.details.open = true;
    }
    this.reasoning += text;
    this.reasoningText.textContent = this.reasoning;
    this.stats.textContent = 'reasoning…';
    scrollToEnd(false);
  }
  addContent(text) {
    this.first();
    if (!this.answer && this.reasoning) this.fold();
    this.answer += text;
    this.content.textContent = this.answer;
    this.stats.textContent = 'answering…';
    scrollToEnd(false);
  }
  fold() {
    this.details.open = false;
    const n = this.reasoning.length;
    this.summary.textContent = 'Reasoning (' + int.format(n) + (n === 1 ? ' character)' : ' characters)');
  }
  stat(name, value, text, title) {
    const s = document.createElement('span');
    s.dataset.stat = name;
    s.dataset.v = String(value);
    s.textContent = text;
    if (title) s.title = title;
    this.stats.append(s);
  }
  finish(usage, finishReason) {
    const tEnd = performance.now();
    this.el.dataset.state = 'done';
    if (this.reasoning) this.fold();
    if (!this.answer && this.reasoning) this.content.textContent = '';
    this.stats.textContent = '';
    const u = usage || {};
    const cached = (u.prompt_tokens_details && u.prompt_tokens_details.cached_tokens) || 0;
    const ttft = this.tFirst ? this.tFirst - this.t0 : tEnd - this.t0;
    const n = u.completion_tokens || 0;
    // Decode speed: the tokens after the first over the time after the first.
    const tps = n > 1 && this.tFirst && tEnd > this.tFirst ? (n - 1) / ((tEnd - this.tFirst) / 1000) : null;
    this.stat('prompt_tokens', u.prompt_tokens, 'prompt ' + int.format(u.prompt_tokens || 0) + ' tok');
    this.stat('cached_tokens', cached, int.format(cached) + ' cached', 'prompt tokens served from the prefix cache');
    this.stat('completion_tokens', n, int.format(n) + ' generated');
    this.stat('ttft_ms', Math.round(ttft), 'first token ' + Math.round(ttft) + ' ms', 'time to the first token');
    this.stat('tokens_per_second', tps === null ? 'null' : tps.toFixed(1),
              tps === null ? '– tok/s' : tps.toFixed(1) + ' tok/s', 'decode speed after the first token');
    this.stat('finish_reason', finishReason || '', finishReason || '');
  }
  stopped() {
    this.el.dataset.state = 'stopped';
    if (this.reasoning) this.fold();
    this.stats.textContent = '';
    const ttft = this.tFirst ? Math.round(this.tFirst - this.t0) : null;
    this.stat('finish_reason', 'stopped', 'stopped: the request was cancelled and its cache freed');
    if (ttft !== null) this.stat('ttft_ms', ttft, 'first token ' + ttft + ' ms');
  }
  failed(message) {
    this.el.dataset.state = 'error';
    this.stats.textContent = '';
    const e = document.createElement('span');
    e.className = 'error';
    e.textContent = message;
    this.stats.append(e);
  }
}

async function send(text) {
  addUser(text);
  state.history.push({ role: 'user', content: text });
  const messages = [];
  const system = $('system').value.trim();
  if (system) messages.push({ role: 'system', content: system });
  messages.push(...state.history);
  const reply = new Reply(state.model);
  const conversation = state.conversation;
  const remember = (msg) => { if (state.conversation === conversation) state.history.push(msg); };
  const controller = new AbortController();
  state.controller = controller;
  updateButtons();
  const body = { model: state.model, messages, stream: true, stream_options: { include_usage: true }, ...sampling() };
  let usage = null, finishReason = null;
  try {
    const res = await fetch('/v1/chat/completions', {
      method: 'POST', headers: headers(true), body: JSON.stringify(body), signal: controller.signal,
    });
    if (!res.ok) throw await failure(res);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {  // one server-sent event
        const frame = buf.slice(0, end);
        buf = buf.slice(end + 2);
        for (const line of frame.split('\n')) {
          if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
          const chunk = JSON.parse(line.slice(6));
          if (chunk.error) throw new ApiFailure(500, chunk.error.message);
          if (chunk.usage) usage = chunk.usage;
          for (const c of chunk.choices || []) {
            const d = c.delta || {};
            if (d.reasoning_content) reply.addReasoning(d.reasoning_content);
            if (d.content) reply.addContent(d.content);
            if (c.finish_reason) finishReason = c.finish_reason;
          }
        }
      }
    }
    reply.finish(usage, finishReason);
    remember({ role: 'assistant', content: reply.answer });
  } catch (e) {
    if (controller.signal.aborted) {
      reply.stopped();
      remember({ role: 'assistant', content: reply.answer });
    } else {
      reply.failed(e.message);
      // The question was not answered: not part of the conversation.
      if (state.conversation === conversation) state.history.pop();
      if (e.status === 401) needKey(e.message);
    }
  } finally {
    state.controller = null;
    updateButtons();
    refreshCache();
  }
}

function updateButtons() {
  const busy = state.controller !== null;
  $('send').disabled = !state.ready || busy;
  $('send').hidden = busy;
  $('stop').hidden = !busy;
}

// ---- the cache panel

function startCachePolling() {
  stopCachePolling();
  refreshCache();
  state.cacheTimer = setInterval(() => { if (!document.hidden) refreshCache(); }, 1000);
}
function stopCachePolling() {
  if (state.cacheTimer) clearInterval(state.cacheTimer);
  state.cacheTimer = null;
}

function lookup(obj, path) {
  return path.split('.').reduce((o, k) => (o === null || o === undefined ? o : o[k]), obj);
}

let refreshing = false;
async function refreshCache() {
  if (!state.ready || refreshing) return;
  refreshing = true;
  try {
    showCache(await getJson('/cache'));
  } catch (e) {
    if (e.status === 401) needKey(e.message);
  } finally {
    refreshing = false;
  }
}

function showCache(c) {
  // Every number carries its raw value in data-v: what is shown is exactly what /cache said.
  for (const el of document.querySelectorAll('#cache [data-k]')) {
    const v = lookup(c, el.dataset.k);
    el.textContent = format(v, el.dataset.fmt);
    el.dataset.v = v === null || v === undefined ? 'null' : String(v);
  }
  const kv = c.kv_bytes_per_token, mha = c.mha_kv_bytes_per_token || kv;
  $('bar-kv').style.width = (100 * kv / Math.max(kv, mha)).toFixed(2) + '%';
  $('bar-mha').style.width = (100 * mha / Math.max(kv, mha)).toFixed(2) + '%';
  const b = c.blocks, pct = (n) => (b.total ? (100 * n / b.total) : 0).toFixed(3) + '%';
  const bar = $('blockbar');
  bar.querySelector('.used').style.width = pct(b.used - b.shared);
  bar.querySelector('.shared').style.width = pct(b.shared);
  bar.querySelector('.cached').style.width = pct(b.cached);
  drawPlot(c.history, c.bytes.total);
  const cache = $('cache');
  cache.dataset.updated = String(Number(cache.dataset.updated) + 1);
}

// The cache's memory in use, one value a second (the second's largest) over the window /cache
// gives; seconds before the server started are null and left blank.
function drawPlot(h, budget) {
  const canvas = $('plot');
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, ht = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(ht * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(ht * dpr);
  }
  const g = canvas.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, ht);
  const style = getComputedStyle(document.body);
  const ink = style.getPropertyValue('--muted').trim() || '#888';
  const accent = style.getPropertyValue('--kv').trim() || '#2a7';
  const y = h.kv_bytes_used, n = y.length;
  if (!n) return;
  const known = y.filter((v) => v !== null);
  const peak = known.length ? Math.max(...known) : 0;
  // The y axis runs to the window's peak (rounded up to a power of two), not to the whole budget,
  // so a few blocks of a large budget still show.
  const top = peak > 0 ? Math.pow(2, Math.ceil(Math.log2(peak))) : 1;
  const left = 4, right = w - 4, base = ht - 16, roof = 14;
  const X = (i) => left + (right - left) * (n > 1 ? i / (n - 1) : 1);
  const Y = (v) => base - (base - roof) * (v / top);
  g.strokeStyle = ink;
  g.globalAlpha = 0.4;
  g.beginPath();
  g.moveTo(left, base + 0.5);
  g.lineTo(right, base + 0.5);
  g.stroke();
  // Runs of known values: a filled area under a line.
  for (let i = 0; i < n;) {
    if (y[i] === null) { ++i; continue; }
    let j = i;
    while (j + 1 < n && y[j + 1] !== null) ++j;
    g.globalAlpha = 0.25;
    g.fillStyle = accent;
    g.beginPath();
    g.moveTo(X(i), base);
    for (let k = i; k <= j; ++k) g.lineTo(X(k), Y(y[k]));
    g.lineTo(X(j), base);
    g.closePath();
    g.fill();
    g.globalAlpha = 1;
    g.strokeStyle = accent;
    g.lineWidth = 1.5;
    g.beginPath();
    for (let k = i; k <= j; ++k) (k === i ? g.moveTo : g.lineTo).call(g, X(k), Y(y[k]));
    g.stroke();
    i = j + 1;
  }
  g.globalAlpha = 1;
  g.fillStyle = ink;
  g.font = '11px system-ui, sans-serif';
  g.textBaseline = 'bottom';
  g.textAlign = 'left';
  g.fillText('-' + Math.round(h.seconds / 60) + ' min', left, ht);
  g.textAlign = 'right';
  g.fillText('now', right, ht);
  g.textBaseline = 'top';
  g.textAlign = 'left';
  g.fillText(bytes(top), left, 0);
  $('plot-span').textContent = Math.round(h.seconds / 60) + ' minutes';
  $('plot-caption').textContent = 'peak ' + bytes(peak) + ' of a ' + bytes(budget) + ' budget, now ' +
    bytes(y[n - 1] || 0) + ' (each second: its largest value)';
}

// ---- wiring

function submitPrompt() {
  const text = $('prompt').value.trim();
  if (!text || !state.ready || state.controller) return;
  $('prompt').value = '';
  send(text);
}

document.addEventListener('DOMContentLoaded', () => {
  loadSettings();
  $('composer').addEventListener('submit', (e) => { e.preventDefault(); submitPrompt(); });
  $('prompt').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); submitPrompt(); }
  });
  $('stop').addEventListener('click', () => { if (state.controller) state.controller.abort(); });
  $('new-chat').addEventListener('click', () => {
    if (state.controller) state.controller.abort();
    ++state.conversation;
    state.history = [];
    for (const m of document.querySelectorAll('#messages .msg')) m.remove();
    $('empty').hidden = false;
  });
  for (const k of SETTINGS) $(k).addEventListener('change', saveSettings);
  $('api-key').addEventListener('change', () => { setApiKey($('api-key').value.trim()); connect(); });
  $('key-form').addEventListener('submit', (e) => {
    e.preventDefault();
    setApiKey($('key-input').value.trim());
    $('api-key').value = apiKey();
    $('key-input').value = '';
    connect();
  });
  window.addEventListener('resize', () => refreshCache());
  connect();
});
