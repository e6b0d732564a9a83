// The hearth chat page: loads a checkpoint with the package's Engine and streams
// completion_messages answers into the conversation. No framework, no bundler.
// Model text only ever reaches the page through text nodes, never as HTML.

const DEFAULT_MODEL_URL = 'https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct/resolve/main/';
const DEVICES = ['auto', 'webgpu', 'cpu'];
const DTYPES = ['f32', 'f16', 'q8', 'q4'];

const $ = (id) => document.getElementById(id);
const els = {
  loadForm: $('load-form'),
  modelUrl: $('model-url'),
  device: $('device'),
  dtype: $('dtype'),
  load: $('load'),
  clearCache: $('clear-cache'),
  progress: $('progress'),
  progressLabel: $('progress-label'),
  deviceInfo: $('device-info'),
  status: $('status'),
  messages: $('messages'),
  chatForm: $('chat-form'),
  system: $('system'),
  prompt: $('prompt'),
  temperature: $('temperature'),
  maxTokens: $('max-tokens'),
  send: $('send'),
  stop: $('stop'),
};

/** The loaded Engine, or null. */
let currentEngine = null;
let loading = false;
let generating = false;
/** The conversation sent each turn: completed user/assistant pairs, oldest first. */
const history = [];

window.hearthChat = { engine: () => currentEngine };

// The package module is imported on first use, so that a missing or broken
// hearth.js shows up in the status line instead of leaving a dead page.
let modulePromise = null;
function hearth() {
  if (!modulePromise) {
    modulePromise = import('./hearth.js').catch((err) => {
      modulePromise = null;
      throw new Error(`could not load hearth.js: ${errorText(err)}`);
    });
  }
  return modulePromise;
}

// ---------- small helpers ----------

function errorText(err) {
  if (err == null) return 'unknown error';
  if (typeof err === 'string') return err;
  return err.message || String(err);
}

function setStatus(text, kind = '') {
  els.status.textContent = text;
  els.status.dataset.kind = kind;
}

function mb(bytes) {
  return (bytes / 1e6).toFixed(1);
}

function updateControls() {
  const ready = currentEngine !== null && !loading;
  els.load.disabled = loading || generating;
  els.modelUrl.disabled = loading || generating;
  els.device.disabled = loading || generating;
  els.dtype.disabled = loading || generating;
  els.clearCache.disabled = loading;
  for (const el of [els.system, els.prompt, els.temperature, els.maxTokens]) el.disabled = !ready;
  els.send.disabled = !ready || generating;
  els.stop.disabled = !(ready && generating);
}

/** Scrolls to the newest message when the reader is already at (or near) the bottom. */
function nearBottom() {
  const m = els.messages;
  return m.scrollHeight - m.scrollTop - m.clientHeight < 48;
}
function scrollToEnd() {
  els.messages.scrollTop = els.messages.scrollHeight;
}

/** Appends `<div class="message ROLE"><div class="content">text</div></div>`. */
function addMessage(role, text) {
  const stick = nearBottom();
  const el = document.createElement('div');
  el.className = `message ${role}`;
  el.dataset.role = role;
  const content = document.createElement('div');
  content.className = 'content';
  const node = document.createTextNode(text);
  content.append(node);
  el.append(content);
  els.messages.append(el);
  if (stick || role === 'user') scrollToEnd();
  return { el, content, node };
}

function addError(text) {
  return addMessage('error', text).el;
}

// ---------- progress ----------

let pendingProgress = null;
let progressFrame = 0;

function onProgress(p) {
  // Coalesce to one DOM update per frame: downloads report far more often than that.
  pendingProgress = p;
  if (!progressFrame) progressFrame = requestAnimationFrame(drawProgress);
}

function drawProgress() {
  progressFrame = 0;
  const p = pendingProgress;
  if (!p || !loading) return;
  const loaded = Number(p.loaded) || 0;
  const total = Number(p.total) || 0;
  if (total > 0) {
    els.progress.max = total;
    els.progress.value = Math.min(loaded, total);
    els.progressLabel.textContent = `${p.file} ${mb(loaded)} / ${mb(total)} MB (${p.phase})`;
  } else {
    els.progress.removeAttribute('value'); // indeterminate
    els.progressLabel.textContent = `${p.file} ${mb(loaded)} MB (${p.phase})`;
  }
  els.progress.hidden = false;
  els.progressLabel.hidden = false;
}

function hideProgress() {
  if (progressFrame) cancelAnimationFrame(progressFrame);
  progressFrame = 0;
  pendingProgress = null;
  els.progress.hidden = true;
  els.progressLabel.hidden = true;
  els.progressLabel.textContent = '';
  els.progress.max = 1;
  els.progress.value = 0;
}

// ---------- loading ----------

function showDeviceInfo(engine) {
  const d = engine.device || {};
  const parts = [];
  const kind = document.createElement('strong');
  kind.textContent = d.kind || 'unknown';
  parts.push(kind);
  if (d.reason) parts.push(` (${d.reason})`);
  if (d.adapter) parts.push(` · ${d.adapter}`);
  if (engine.dtype) parts.push(` · ${engine.dtype}`);
  if (Number.isFinite(engine.loadMs)) parts.push(` · loaded in ${(engine.loadMs / 1000).toFixed(2)} s`);
  if (engine.modelId) parts.push(` · ${engine.modelId}`);
  if (engine.contextLength) parts.push(` · context ${engine.contextLength}`);
  els.deviceInfo.replaceChildren(...parts);
  els.deviceInfo.dataset.kind = d.kind || '';
}

async function loadModel() {
  if (loading || generating) return;
  const url = els.modelUrl.value.trim();
  if (!url) {
    setStatus('error: enter a model URL', 'error');
    els.modelUrl.focus();
    return;
  }
  const device = DEVICES.includes(els.device.value) ? els.device.value : 'auto';
  const dtype = DTYPES.includes(els.dtype.value) ? els.dtype.value : 'f32';

  loading = true;
  // Free the previous model (and its memory) before placing a new one.
  if (currentEngine) {
    try { currentEngine.dispose(); } catch { /* already gone */ }
    currentEngine = null;
    els.deviceInfo.textContent = 'No model loaded.';
    delete els.deviceInfo.dataset.kind;
  }
  updateControls();
  setStatus('loading…', 'busy');
  els.progress.removeAttribute('value');
  els.progress.hidden = false;
  const started = performance.now();
  try {
    const { Engine } = await hearth();
    const engine = await Engine.load(url, { device, dtype, onProgress });
    currentEngine = engine;
    showDeviceInfo(engine);
    const secs = ((performance.now() - started) / 1000).toFixed(1);
    setStatus(`ready (${secs} s)`, 'ready');
  } catch (err) {
    setStatus(`error: ${errorText(err)}`, 'error');
  } finally {
    loading = false;
    hideProgress();
    updateControls();
    if (currentEngine) els.prompt.focus();
  }
}

async function clearCache() {
  els.clearCache.disabled = true;
  try {
    const { Engine } = await hearth();
    await Engine.clearCache();
    setStatus('cache cleared', currentEngine ? 'ready' : '');
  } catch (err) {
    setStatus(`error: ${errorText(err)}`, 'error');
  } finally {
    updateControls();
  }
}

// ---------- chatting ----------

function readNumber(input, integer) {
  const raw = input.value.trim();
  if (raw === '') return undefined; // the engine's default
  const n = Number(raw);
  if (!Number.isFinite(n)) return undefined;
  return integer ? Math.trunc(n) : n;
}

function buildRequest(engine, userText) {
  const messages = [];
  const system = els.system.value.trim();
  if (system) messages.push({ role: 'system', content: system });
  messages.push(...history, { role: 'user', content: userText });
  const request = { model: engine.modelId, messages, stream: true };
  const temperature = readNumber(els.temperature, false);
  const maxTokens = readNumber(els.maxTokens, true);
  if (temperature !== undefined) request.temperature = temperature;
  if (maxTokens !== undefined) request.max_tokens = maxTokens;
  return request;
}

function footerText(usage, firstAt, endAt, startAt) {
  const n = Number(usage.completion_tokens) || 0;
  const parts = [`${n} token${n === 1 ? '' : 's'}`];
  // Decode speed: the tokens after the first over the time after the first delta;
  // with one token (or none) fall back to the whole request.
  let rate = NaN;
  if (firstAt !== null && n > 1 && endAt > firstAt) rate = (n - 1) / ((endAt - firstAt) / 1000);
  else if (n > 0 && endAt > startAt) rate = n / ((endAt - startAt) / 1000);
  if (Number.isFinite(rate)) parts.push(`${rate.toFixed(1)} tok/s`);
  if (usage.prompt_tokens != null) parts.push(`prompt ${usage.prompt_tokens}`);
  parts.push(`${((endAt - startAt) / 1000).toFixed(2)} s`);
  if (usage.finish_reason) parts.push(usage.finish_reason);
  return parts.join(' · ');
}

async function send() {
  const engine = currentEngine;
  if (!engine || generating || loading) return;
  const text = els.prompt.value;
  if (!text.trim()) {
    els.prompt.focus();
    return;
  }

  const request = buildRequest(engine, text);
  els.prompt.value = '';
  addMessage('user', text);
  const answer = addMessage('assistant', '');
  answer.el.classList.add('pending');
  answer.el.setAttribute('aria-busy', 'true');

  generating = true;
  updateControls();
  setStatus('generating…', 'busy');

  const startAt = performance.now();
  let firstAt = null;
  let reply = '';
  let usage = null;
  let error = null;

  try {
    for await (const envelope of engine.completionMessagesStream(request)) {
      if (!envelope || typeof envelope !== 'object') continue;
      if (envelope.code !== 0) {
        error = `${envelope.message || 'error'} (code ${envelope.code})`;
        break;
      }
      const result = envelope.result || {};
      if (typeof result.delta === 'string' && result.delta !== '') {
        if (firstAt === null) firstAt = performance.now();
        const stick = nearBottom();
        answer.node.appendData(result.delta);
        reply += result.delta;
        if (stick) scrollToEnd();
      }
      if (result.usage) usage = result.usage;
    }
  } catch (err) {
    error = errorText(err);
  }
  const endAt = performance.now();

  answer.el.classList.remove('pending');
  answer.el.removeAttribute('aria-busy');

  if (error !== null) {
    if (reply === '') answer.el.remove();
    addError(error);
    setStatus(`error: ${error}`, 'error');
    // The turn is left out of the history, so the next one starts clean.
  } else {
    const finish = (usage && usage.finish_reason) || 'stop';
    answer.el.dataset.finishReason = finish;
    if (usage) {
      const footer = document.createElement('div');
      footer.className = 'meta';
      footer.textContent = footerText(usage, firstAt, endAt, startAt);
      const stick = nearBottom();
      answer.el.append(footer);
      if (stick) scrollToEnd();
    }
    history.push({ role: 'user', content: text }, { role: 'assistant', content: reply });
    setStatus(finish === 'abort' ? 'ready (stopped)' : 'ready', 'ready');
  }

  generating = false;
  updateControls();
  els.prompt.focus();
}

function stop() {
  if (!generating || !currentEngine) return;
  try {
    currentEngine.abort();
    setStatus('stopping…', 'busy');
  } catch (err) {
    setStatus(`error: ${errorText(err)}`, 'error');
  }
}

// ---------- wiring ----------

els.loadForm.addEventListener('submit', (e) => {
  e.preventDefault();
  loadModel();
});
els.clearCache.addEventListener('click', clearCache);
els.chatForm.addEventListener('submit', (e) => {
  e.preventDefault();
  send();
});
els.stop.addEventListener('click', stop);
els.prompt.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
    e.preventDefault();
    if (!generating) send();
  }
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && generating) stop();
});

// The query string: ?model=URL, ?device=auto|webgpu|cpu, ?dtype=f32|f16|q8|q4, ?autoload=1.
const params = new URLSearchParams(location.search);
els.modelUrl.value = params.get('model') || els.modelUrl.value || DEFAULT_MODEL_URL;
const deviceParam = (params.get('device') || '').toLowerCase();
if (DEVICES.includes(deviceParam)) els.device.value = deviceParam;
const dtypeParam = (params.get('dtype') || '').toLowerCase();
if (DTYPES.includes(dtypeParam)) els.dtype.value = dtypeParam;
updateControls();
const autoload = params.get('autoload');
if (autoload !== null && autoload !== '0' && autoload !== 'false') loadModel();
