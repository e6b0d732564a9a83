// The hearth chat page: loads a checkpoint with the package's Engine and streams
// completion_messages answers into the conversation. No framework, no bundler: the Markdown
// parser and the sanitizer are vendored ES modules that web/build.sh copies into vendor/.
// Model text reaches the page only through renderMarkdown (parsed, then sanitised) or text nodes.

import { Marked } from './vendor/marked.esm.js';
import DOMPurify from './vendor/purify.es.mjs';

const DEVICES = ['auto', 'webgpu', 'cpu'];
const DTYPES = ['f32', 'f16', 'q8', 'q4'];
const STORAGE_KEY = 'hearth-chat';
/** Below this width the model form folds away once a model is loaded, to leave room for the chat. */
const NARROW = '(max-width: 40rem)';

const $ = (id) => document.getElementById(id);
const els = {
  newChat: $('new-chat'),
  modelPanel: $('model-panel'),
  loadForm: $('load-form'),
  modelChoice: $('model-choice'),
  modelUrlField: $('model-url-field'),
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
/** Cancels the answer being generated; null when idle. */
let answerController = null;
/**
 * The conversation sent each turn and kept in localStorage: completed turns, oldest first, as
 * `{role: 'user', content}` and `{role: 'assistant', content, reasoning?, finishReason, stats?}`.
 */
let conversation = [];

// ---------- Markdown ----------

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);

// HTML in model text is shown as the text it is (a model writing `<div>` means the characters),
// and images become links, so an answer never fetches anything by itself.
const markdown = new Marked({
  gfm: true,
  breaks: true,
  renderer: {
    html: ({ text, block }) => (block ? `<p>${escapeHtml(text)}</p>` : escapeHtml(text)),
    image: ({ href, text }) => `<a href="${escapeHtml(href ?? '')}">${escapeHtml(text || href || '')}</a>`,
  },
});

// The parser's output is still sanitised: DOMPurify drops scripts, event handlers and
// javascript: URLs whatever the parser lets through. No style, so an answer cannot restyle the page.
const SANITIZE = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ['style', 'img', 'form'],
  FORBID_ATTR: ['style'],
  RETURN_DOM_FRAGMENT: true,
};

// Links from an answer open in a new tab, without access to this page.
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A' && node.hasAttribute('href')) {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});

/** Replaces `el`'s children with `text` rendered as sanitised Markdown, code blocks with a copy button. */
function renderMarkdown(el, text) {
  const fragment = DOMPurify.sanitize(markdown.parse(text), SANITIZE);
  for (const pre of fragment.querySelectorAll('pre')) {
    const block = document.createElement('div');
    block.className = 'code-block';
    const copy = document.createElement('button');
    copy.type = 'button';
    copy.className = 'copy-code';
    copy.textContent = 'Copy';
    pre.replaceWith(block);
    block.append(pre, copy);
  }
  el.replaceChildren(fragment);
}

async function copyCode(button) {
  const code = button.closest('.code-block')?.querySelector('pre');
  try {
    await navigator.clipboard.writeText(code?.textContent ?? '');
    button.textContent = 'Copied';
  } catch {
    button.textContent = 'Copy failed';
  }
  setTimeout(() => { button.textContent = 'Copy'; }, 1500);
}

window.hearthChat = { engine: () => currentEngine, renderMarkdown };

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
  for (const el of [els.load, els.modelChoice, els.modelUrl, els.device, els.dtype]) el.disabled = loading || generating;
  els.clearCache.disabled = loading;
  for (const el of [els.system, els.prompt, els.temperature, els.maxTokens]) el.disabled = !ready;
  els.send.disabled = !ready || generating;
  els.stop.disabled = !(ready && generating);
  els.newChat.disabled = generating;
}

/** Scrolls to the newest message when the reader is already at (or near) the bottom. */
function nearBottom() {
  const m = els.messages;
  return m.scrollHeight - m.scrollTop - m.clientHeight < 48;
}
function scrollToEnd() {
  els.messages.scrollTop = els.messages.scrollHeight;
}

/** Appends `<div class="message ROLE"><div class="content"></div></div>` and returns it. */
function addMessage(role) {
  const el = document.createElement('div');
  el.className = `message ${role}`;
  el.dataset.role = role;
  const content = document.createElement('div');
  content.className = 'content';
  el.append(content);
  els.messages.append(el);
  return el;
}

function addUserMessage(text) {
  const el = addMessage('user');
  el.querySelector('.content').textContent = text;
  return el;
}

function addError(text) {
  const stick = nearBottom();
  const el = addMessage('error');
  el.querySelector('.content').textContent = text;
  if (stick) scrollToEnd();
}

// ---------- answers ----------

/** A `<details>` before the answer holding the model's thinking, made when the first of it arrives. */
function reasoningBox(el) {
  let box = el.querySelector('.reasoning');
  if (!box) {
    box = document.createElement('details');
    box.className = 'reasoning';
    const summary = document.createElement('summary');
    summary.textContent = 'Thinking';
    const body = document.createElement('div');
    body.className = 'reasoning-content markdown';
    box.append(summary, body);
    el.querySelector('.content').before(box);
  }
  return box;
}

function statsParts(stats, finish) {
  const n = Number(stats.tokens) || 0;
  const parts = [`${n} token${n === 1 ? '' : 's'}`];
  if (Number.isFinite(stats.tokensPerSecond)) parts.push(`${stats.tokensPerSecond.toFixed(1)} tok/s`);
  if (Number.isFinite(stats.ttftMs)) parts.push(`first token ${(stats.ttftMs / 1000).toFixed(2)} s`);
  if (Number.isFinite(stats.promptTokens)) parts.push(`prompt ${stats.promptTokens}`);
  if (Number.isFinite(stats.totalMs)) parts.push(`${(stats.totalMs / 1000).toFixed(2)} s`);
  if (finish) parts.push(finish);
  return parts;
}

/** The footer under an answer: tokens, tokens/s, time to first token, ... */
function showStats(el, stats, finish) {
  const meta = document.createElement('div');
  meta.className = 'meta';
  meta.textContent = statsParts(stats, finish).join(' · ');
  if (Number.isFinite(stats.tokensPerSecond)) meta.dataset.tokensPerSecond = stats.tokensPerSecond.toFixed(2);
  if (Number.isFinite(stats.ttftMs)) meta.dataset.ttftMs = String(Math.round(stats.ttftMs));
  el.append(meta);
}

/** Draws a finished (or restored) answer. */
function showAnswer(el, message) {
  if (message.reasoning) renderMarkdown(reasoningBox(el).lastElementChild, message.reasoning);
  renderMarkdown(el.querySelector('.content'), message.content);
  el.dataset.finishReason = message.finishReason || 'stop';
  if (message.stats) showStats(el, message.stats, message.finishReason);
}

/** An answer being streamed: its text so far, drawn at most once per animation frame. */
function startAnswer() {
  const el = addMessage('assistant');
  el.classList.add('pending');
  el.setAttribute('aria-busy', 'true');
  scrollToEnd();
  return { el, text: '', reasoning: '', drawn: { text: 0, reasoning: 0 }, frame: 0 };
}

function appendToAnswer(view, delta, reasoningDelta) {
  if (reasoningDelta) {
    // Watch the thinking while it is all there is; fold it once the answer starts.
    if (!view.reasoning) reasoningBox(view.el).open = true;
    view.reasoning += reasoningDelta;
  }
  if (delta) {
    if (!view.text && view.reasoning) reasoningBox(view.el).open = false;
    view.text += delta;
  }
  // Re-rendering the whole Markdown so far keeps partial answers right (an open code fence is
  // a code block already); once a frame is as often as anyone can see it.
  if (!view.frame) view.frame = requestAnimationFrame(() => drawAnswer(view));
}

function drawAnswer(view) {
  view.frame = 0;
  const stick = nearBottom();
  if (view.drawn.reasoning !== view.reasoning.length) {
    renderMarkdown(reasoningBox(view.el).lastElementChild, view.reasoning);
    view.drawn.reasoning = view.reasoning.length;
  }
  if (view.drawn.text !== view.text.length) {
    renderMarkdown(view.el.querySelector('.content'), view.text);
    view.drawn.text = view.text.length;
  }
  if (stick) scrollToEnd();
}

function endAnswer(view) {
  if (view.frame) cancelAnimationFrame(view.frame);
  drawAnswer(view);
  view.el.classList.remove('pending');
  view.el.removeAttribute('aria-busy');
}

/**
 * Time to first token: from sending to the first delta (answer or thinking). Decode speed:
 * the tokens after the first over the time after the first delta, since the first token's
 * time is the prefill's; with one token (or none) the whole request.
 */
function answerStats(usage, startAt, firstAt, endAt) {
  const tokens = Number(usage.completion_tokens) || 0;
  let tokensPerSecond = null;
  if (firstAt !== null && tokens > 1 && endAt > firstAt) tokensPerSecond = (tokens - 1) / ((endAt - firstAt) / 1000);
  else if (tokens > 0 && endAt > startAt) tokensPerSecond = tokens / ((endAt - startAt) / 1000);
  return {
    tokens,
    tokensPerSecond,
    ttftMs: firstAt === null ? null : firstAt - startAt,
    promptTokens: Number.isFinite(usage.prompt_tokens) ? usage.prompt_tokens : null,
    totalMs: endAt - startAt,
  };
}

// ---------- saving the conversation ----------

function readSaved() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null');
    return saved && typeof saved === 'object' ? saved : {};
  } catch {
    return {}; // unreadable or blocked storage: start fresh
  }
}

function save() {
  const state = {
    modelUrl: els.modelUrl.value.trim(),
    system: els.system.value,
    settings: {
      device: els.device.value,
      dtype: els.dtype.value,
      temperature: els.temperature.value,
      maxTokens: els.maxTokens.value,
    },
    messages: conversation,
  };
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(state));
  } catch (err) {
    setStatus(`error: could not save the conversation: ${errorText(err)}`, 'error');
  }
}

/** The saved messages that are well-formed (the storage is the user's to edit). */
function savedMessages(list) {
  if (!Array.isArray(list)) return [];
  return list.filter(
    (m) => m && (m.role === 'user' || m.role === 'assistant') && typeof m.content === 'string'
      && (m.reasoning === undefined || typeof m.reasoning === 'string'),
  );
}

function restore(saved) {
  const settings = saved.settings && typeof saved.settings === 'object' ? saved.settings : {};
  if (typeof saved.modelUrl === 'string' && saved.modelUrl) els.modelUrl.value = saved.modelUrl;
  if (typeof saved.system === 'string') els.system.value = saved.system;
  if (DEVICES.includes(settings.device)) els.device.value = settings.device;
  if (DTYPES.includes(settings.dtype)) els.dtype.value = settings.dtype;
  if (typeof settings.temperature === 'string') els.temperature.value = settings.temperature;
  if (typeof settings.maxTokens === 'string') els.maxTokens.value = settings.maxTokens;
  conversation = savedMessages(saved.messages);
  for (const message of conversation) {
    if (message.role === 'user') addUserMessage(message.content);
    else showAnswer(addMessage('assistant'), message);
  }
  scrollToEnd();
}

function newChat() {
  if (generating) return;
  conversation = [];
  els.messages.replaceChildren();
  save();
  setStatus(currentEngine ? 'ready (new chat)' : 'Load a model to start.', currentEngine ? 'ready' : '');
  if (currentEngine) els.prompt.focus();
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

/** Selects the picker's entry for the URL in the field, or "Custom URL…" (which shows the field). */
function syncModelChoice() {
  const url = els.modelUrl.value.trim();
  const known = [...els.modelChoice.options].find((o) => o.value === url);
  els.modelChoice.value = known ? known.value : 'custom';
  els.modelUrlField.hidden = Boolean(known);
}

function onModelChoice() {
  const custom = els.modelChoice.value === 'custom';
  if (!custom) els.modelUrl.value = els.modelChoice.value;
  els.modelUrlField.hidden = !custom;
  if (custom) els.modelUrl.focus();
  save();
}

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
  save();

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
    if (matchMedia(NARROW).matches) els.modelPanel.open = false;
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
  // The thinking stays out of the history, as the chat templates want.
  for (const { role, content } of conversation) messages.push({ role, content });
  messages.push({ role: 'user', content: userText });
  const request = { model: engine.modelId, messages, stream: true };
  const temperature = readNumber(els.temperature, false);
  const maxTokens = readNumber(els.maxTokens, true);
  if (temperature !== undefined) request.temperature = temperature;
  if (maxTokens !== undefined) request.max_tokens = maxTokens;
  return request;
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
  addUserMessage(text);
  const view = startAnswer();
  const controller = new AbortController();
  answerController = controller;
  generating = true;
  updateControls();
  setStatus('generating…', 'busy');

  const startAt = performance.now();
  let firstAt = null;
  let usage = null;
  let error = null;
  try {
    for await (const envelope of engine.completionMessagesStream(request, { signal: controller.signal })) {
      if (!envelope || typeof envelope !== 'object') continue;
      if (envelope.code !== 0) {
        error = `${envelope.message || 'error'} (code ${envelope.code})`;
        break;
      }
      const result = envelope.result || {};
      const delta = typeof result.delta === 'string' ? result.delta : '';
      const reasoningDelta = typeof result.reasoning_delta === 'string' ? result.reasoning_delta : '';
      if (firstAt === null && (delta || reasoningDelta)) firstAt = performance.now();
      if (delta || reasoningDelta) appendToAnswer(view, delta, reasoningDelta);
      if (result.usage) usage = result.usage;
    }
  } catch (err) {
    // A stream cancelled by Stop may end by throwing; that is the answer so far, not an error.
    if (!controller.signal.aborted) error = errorText(err);
  }
  const endAt = performance.now();
  answerController = null;
  endAnswer(view);

  if (error !== null) {
    if (view.text === '' && view.reasoning === '') view.el.remove();
    addError(error);
    setStatus(`error: ${error}`, 'error');
    // The turn is left out of the conversation, so the next one starts clean; the prompt
    // goes back into the box to be sent again.
    if (!els.prompt.value) els.prompt.value = text;
  } else {
    const finishReason = usage?.finish_reason || (controller.signal.aborted ? 'abort' : 'stop');
    const answer = { role: 'assistant', content: view.text, finishReason };
    if (view.reasoning) answer.reasoning = view.reasoning;
    if (usage) answer.stats = answerStats(usage, startAt, firstAt, endAt);
    view.el.dataset.finishReason = finishReason;
    if (answer.stats) {
      const stick = nearBottom();
      showStats(view.el, answer.stats, finishReason);
      if (stick) scrollToEnd();
    }
    conversation.push({ role: 'user', content: text }, answer);
    save();
    setStatus(finishReason === 'abort' ? 'ready (stopped)' : 'ready', 'ready');
  }

  generating = false;
  updateControls();
  els.prompt.focus();
}

function stop() {
  if (!generating || !answerController) return;
  try {
    answerController.abort();
    setStatus('stopping…', 'busy');
  } catch (err) {
    setStatus(`error: ${errorText(err)}`, 'error');
  }
}

// ---------- wiring ----------

els.newChat.addEventListener('click', newChat);
els.modelChoice.addEventListener('change', onModelChoice);
els.modelUrl.addEventListener('input', save);
for (const el of [els.device, els.dtype]) el.addEventListener('change', save);
for (const el of [els.system, els.temperature, els.maxTokens]) el.addEventListener('input', save);
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
els.messages.addEventListener('click', (e) => {
  const copy = e.target.closest('.copy-code');
  if (copy) copyCode(copy);
});
els.prompt.addEventListener('keydown', (e) => {
  // Enter sends; Shift+Enter keeps its default, a new line; an Enter an IME is composing with is the IME's.
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
    e.preventDefault();
    if (!generating) send();
  }
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && generating) stop();
});

// The saved conversation and settings, then the query string over them:
// ?model=URL, ?device=auto|webgpu|cpu, ?dtype=f32|f16|q8|q4, ?autoload=1.
restore(readSaved());
const params = new URLSearchParams(location.search);
if (params.get('model')) els.modelUrl.value = params.get('model');
const deviceParam = (params.get('device') || '').toLowerCase();
if (DEVICES.includes(deviceParam)) els.device.value = deviceParam;
const dtypeParam = (params.get('dtype') || '').toLowerCase();
if (DTYPES.includes(dtypeParam)) els.dtype.value = dtypeParam;
syncModelChoice();
updateControls();
const autoload = params.get('autoload');
if (autoload !== null && autoload !== '0' && autoload !== 'false') loadModel();
