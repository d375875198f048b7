// vkai chat page: talks to the same server's OpenAI API (/v1/models, /v1/chat/completions with SSE).
// State lives in the page only: `conversation` is the list of {role, content} turns sent with every
// request (the system prompt is prepended at send time, so editing it applies to the next reply).
// Each reply element carries data-state = streaming | done | stopped | error (the browser test reads it).
(function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const els = {
    model: $('model'), status: $('status'), log: $('log'), form: $('composer'), prompt: $('prompt'),
    send: $('send'), stop: $('stop'), system: $('system'), maxTokens: $('max-tokens'),
    temperature: $('temperature'), apiKey: $('api-key'), newChat: $('new-chat'),
  };
  const KEY_STORE = 'vkai.apiKey';
  const MODEL_STORE = 'vkai.model';
  let conversation = [];
  let controller = null; // AbortController of the reply in flight, null when idle

  function authHeaders() {
    const key = els.apiKey.value.trim();
    const h = { 'Content-Type': 'application/json' };
    if (key) h.Authorization = 'Bearer ' + key;
    return h;
  }

  // The OpenAI error shape is {"error":{"message",...}}; fall back to the status line.
  async function errorText(res) {
    try {
      const body = await res.json();
      if (body && body.error) return typeof body.error === 'string' ? body.error : body.error.message;
    } catch (e) { /* not JSON */ }
    return res.status + ' ' + res.statusText;
  }

  async function loadModels() {
    els.status.textContent = 'Loading models…';
    try {
      const res = await fetch('v1/models', { headers: authHeaders() });
      if (res.status === 401) { // the server runs with --api-key: ask for it
        $('settings').open = true;
        els.apiKey.focus();
      }
      if (!res.ok) throw new Error(await errorText(res));
      const body = await res.json();
      const ids = (Array.isArray(body) ? body : body.data || []).map((m) => m.id || m.name).filter(Boolean);
      const keep = els.model.value || localStorage.getItem(MODEL_STORE);
      els.model.replaceChildren(...ids.map((id) => new Option(id, id)));
      if (ids.includes(keep)) els.model.value = keep;
      els.status.textContent = ids.length ? 'Ready' : 'The server lists no models';
    } catch (e) {
      els.status.textContent = 'Cannot list models: ' + e.message;
    }
  }

  // Server-sent events: `data:` lines up to a blank line form one event; other fields are ignored.
  function sseParser(onData) {
    let buf = '';
    let data = [];
    const line = (l) => {
      if (l === '') {
        if (data.length) onData(data.join('\n'));
        data = [];
      } else if (l.startsWith('data:')) {
        data.push(l.slice(l.charAt(5) === ' ' ? 6 : 5));
      }
    };
    return {
      push(text) {
        buf += text;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          line(buf.slice(0, i).replace(/\r$/, ''));
          buf = buf.slice(i + 1);
        }
      },
      end() { if (buf) line(buf.replace(/\r$/, '')); line(''); buf = ''; },
    };
  }

  function addMessage(role, cls) {
    const div = document.createElement('div');
    div.className = 'msg ' + cls;
    const label = document.createElement('span');
    label.className = 'role';
    label.textContent = role;
    const body = document.createElement('div');
    body.className = 'body';
    div.append(label, body);
    els.log.append(div);
    return div;
  }

  function scrollToEnd() { els.log.scrollTop = els.log.scrollHeight; }

  function setBusy(busy) {
    els.send.disabled = busy;
    els.stop.disabled = !busy;
    els.model.disabled = busy;
    els.newChat.disabled = busy;
  }

  // "N tokens · X tok/s": the server's timings when it sent them, else usage over the time measured
  // here from first to last text; a stopped reply has neither (its last chunks never came), so it
  // shows the elapsed time only.
  function statsText(timings, usage, startAt, firstAt, lastAt) {
    const tokens = (timings && timings.predicted_n) || (usage && usage.completion_tokens) || 0;
    if (!tokens) return ((performance.now() - startAt) / 1000).toFixed(1) + ' s';
    let tps = timings && timings.predicted_per_second;
    let src = 'server';
    if (!(tps > 0) && lastAt > firstAt && tokens > 1) {
      tps = (tokens - 1) / ((lastAt - firstAt) / 1000);
      src = 'measured in the browser';
    }
    let s = tokens + ' token' + (tokens === 1 ? '' : 's');
    if (tps > 0) s += ' · ' + tps.toFixed(1) + ' tok/s (' + src + ')';
    return s;
  }

  async function send(text) {
    conversation.push({ role: 'user', content: text });
    addMessage('You', 'user').querySelector('.body').textContent = text;
    const reply = addMessage('Assistant', 'assistant');
    const body = reply.querySelector('.body');
    reply.dataset.state = 'streaming';
    reply.setAttribute('aria-busy', 'true'); // screen readers announce the reply once, when complete
    scrollToEnd();

    const messages = [];
    const system = els.system.value.trim();
    if (system) messages.push({ role: 'system', content: system });
    messages.push(...conversation);
    const request = {
      model: els.model.value, messages, stream: true, stream_options: { include_usage: true },
    };
    const maxTokens = parseInt(els.maxTokens.value, 10);
    if (maxTokens > 0) request.max_tokens = maxTokens;
    const temperature = parseFloat(els.temperature.value);
    if (temperature >= 0) request.temperature = temperature;

    controller = new AbortController();
    setBusy(true);
    let content = '';
    let timings = null;
    let usage = null;
    const startAt = performance.now();
    let firstAt = 0;
    let lastAt = 0;
    let frame = 0; // pending requestAnimationFrame id: the text is re-rendered at most once per frame
    const paint = () => {
      cancelAnimationFrame(frame);
      frame = 0;
      body.innerHTML = vkaiMarkdown.render(content); // safe: render() escapes all input HTML
      scrollToEnd();
    };
    const schedulePaint = () => { if (!frame) frame = requestAnimationFrame(paint); };

    let state = 'done';
    let error = '';
    try {
      const res = await fetch('v1/chat/completions', {
        method: 'POST', headers: authHeaders(), body: JSON.stringify(request), signal: controller.signal,
      });
      if (!res.ok) throw new Error(await errorText(res));
      const parser = sseParser((data) => {
        if (data === '[DONE]') return;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message || String(chunk.error));
        if (chunk.usage) usage = chunk.usage;
        if (chunk.timings) timings = chunk.timings;
        const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
        if (delta && typeof delta.content === 'string' && delta.content !== '') {
          content += delta.content;
          lastAt = performance.now();
          if (!firstAt) firstAt = lastAt;
          schedulePaint();
        }
      });
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.push(value);
      }
      parser.end();
    } catch (e) {
      if (e.name === 'AbortError') state = 'stopped';
      else { state = 'error'; error = e.message; controller.abort(); } // drop a broken stream
    }
    controller = null;
    setBusy(false);
    paint();
    if (content) conversation.push({ role: 'assistant', content });
    const stats = document.createElement('span');
    stats.className = 'stats';
    stats.textContent = statsText(timings, usage, startAt, firstAt, lastAt) + (state === 'stopped' ? ' · stopped' : '');
    if (state === 'error') {
      reply.classList.add('error');
      const p = document.createElement('p');
      p.textContent = 'Error: ' + error;
      body.append(p);
    } else {
      reply.append(stats);
    }
    reply.dataset.state = state;
    reply.setAttribute('aria-busy', 'false');
    els.status.textContent = state === 'error' ? 'Error' : 'Ready';
    scrollToEnd();
  }

  els.form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = els.prompt.value.trim();
    if (!text || controller) return;
    if (!els.model.value) { els.status.textContent = 'No model selected'; return; }
    els.prompt.value = '';
    els.status.textContent = 'Generating…';
    send(text);
  });
  els.prompt.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      els.form.requestSubmit();
    }
  });
  els.stop.addEventListener('click', () => { if (controller) controller.abort(); });
  document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape' && controller) controller.abort(); });
  els.newChat.addEventListener('click', () => {
    conversation = [];
    els.log.replaceChildren();
    els.prompt.focus();
  });
  els.model.addEventListener('change', () => localStorage.setItem(MODEL_STORE, els.model.value));
  els.apiKey.value = localStorage.getItem(KEY_STORE) || '';
  els.apiKey.addEventListener('change', () => {
    const key = els.apiKey.value.trim();
    if (key) localStorage.setItem(KEY_STORE, key); else localStorage.removeItem(KEY_STORE);
    loadModels();
  });

  loadModels();
  els.prompt.focus();
})();
