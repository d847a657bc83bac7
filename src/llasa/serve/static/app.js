// llasa web page: plain JS over the same HTTP API that curl and the OpenAI client use.
"use strict";
const $ = (id) => document.getElementById(id);
let config = null;
let lastUrl = null;

function headers(extra) {
  const h = Object.assign({}, extra || {});
  const key = $("api-key").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

async function api(path, opts) {
  const r = await fetch(path, Object.assign({}, opts, { headers: headers((opts || {}).headers) }));
  if (!r.ok) throw new Error(await errorText(r));
  return r;
}

async function errorText(r) {
  try { const j = await r.json(); return `${r.status}: ${j.error ? j.error.message : JSON.stringify(j)}`; }
  catch (e) { return `${r.status} ${r.statusText}`; }
}

function setStatus(el, text, isError) {
  el.textContent = text;
  el.className = isError ? "error" : "";
}

function fillTable(table, obj) {
  const body = table.querySelector("tbody");
  body.innerHTML = "";
  const flat = {};
  (function walk(o, prefix) {
    for (const [k, v] of Object.entries(o || {})) {
      if (v && typeof v === "object" && !Array.isArray(v)) walk(v, prefix + k + ".");
      else flat[prefix + k] = v;
    }
  })(obj, "");
  for (const [k, v] of Object.entries(flat)) {
    const tr = document.createElement("tr");
    tr.dataset.key = k;
    const a = document.createElement("td"); a.textContent = k;
    const b = document.createElement("td"); b.textContent = typeof v === "number" ? +v.toFixed(4) : String(v);
    tr.append(a, b); body.append(tr);
  }
}

async function loadConfig() {
  config = await (await api("/v1/config")).json();
  $("model-name").textContent = config.model;
  $("text").maxLength = config.max_input_chars;
  const box = $("verifiers");
  box.innerHTML = "";
  for (const v of config.verifiers) {
    const l = document.createElement("label");
    const c = document.createElement("input");
    c.type = "checkbox"; c.value = v; c.className = "verifier";
    c.checked = config.default_verifiers.includes(v);
    l.append(c, " " + v); box.append(l);
  }
  $("search-budget").max = config.max_search_candidates;
}

async function loadVoices() {
  const { data } = await (await api("/v1/voices")).json();
  const sel = $("voice"), keep = sel.value, list = $("voice-list");
  sel.innerHTML = ""; list.innerHTML = "";
  for (const v of data) {
    const o = document.createElement("option");
    o.value = v.name; o.textContent = v.builtin ? `${v.name} (no prompt)` : v.name;
    sel.append(o);
    if (v.builtin) continue;
    const li = document.createElement("li");
    li.textContent = `${v.name} — ${v.seconds} s — “${v.text}”`;
    const del = document.createElement("button");
    del.textContent = "delete"; del.type = "button";
    del.onclick = async () => {
      try { await api(`/v1/voices/${encodeURIComponent(v.name)}`, { method: "DELETE" }); }
      catch (e) { setStatus($("voice-status"), e.message, true); }
      loadVoices();
    };
    li.append(del); list.append(li);
  }
  if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
}

function numberField(body, id, integer) {
  const raw = $(id).value.trim();
  if (raw === "") return;
  body[id] = integer ? parseInt(raw, 10) : parseFloat(raw);
}

function requestBody() {
  const body = { model: config.model, input: $("text").value, voice: $("voice").value,
                 response_format: $("format").value };
  for (const id of ["temperature", "top_p", "repetition_penalty", "cfg_scale", "speed"]) numberField(body, id, false);
  for (const id of ["top_k", "seed", "max_new_tokens"]) numberField(body, id, true);
  body.verifiers = [...document.querySelectorAll(".verifier:checked")].map((c) => c.value);
  const strategy = $("search-strategy").value;
  if (strategy) body.search = { strategy, budget: parseInt($("search-budget").value, 10) };
  return body;
}

function showAudio(blob, format) {
  if (lastUrl) URL.revokeObjectURL(lastUrl);
  lastUrl = URL.createObjectURL(blob);
  $("player").src = lastUrl;
  const a = $("download");
  a.href = lastUrl; a.download = `speech.${format}`; a.hidden = false;
}

function wavBlob(pcm16Chunks, sampleRate) {
  const n = pcm16Chunks.reduce((s, c) => s + c.length, 0);
  const buf = new ArrayBuffer(44 + 2 * n), v = new DataView(buf);
  const str = (o, s) => { for (let i = 0; i < s.length; i++) v.setUint8(o + i, s.charCodeAt(i)); };
  str(0, "RIFF"); v.setUint32(4, 36 + 2 * n, true); str(8, "WAVE"); str(12, "fmt ");
  v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true);
  v.setUint32(24, sampleRate, true); v.setUint32(28, 2 * sampleRate, true);
  v.setUint16(32, 2, true); v.setUint16(34, 16, true); str(36, "data"); v.setUint32(40, 2 * n, true);
  let off = 44;
  for (const c of pcm16Chunks) for (let i = 0; i < c.length; i++, off += 2) v.setInt16(off, c[i], true);
  return new Blob([buf], { type: "audio/wav" });
}

async function synthesizeStreaming(body, status) {
  body.stream = true; body.stream_format = "sse";
  const r = await api("/v1/audio/speech", { method: "POST", body: JSON.stringify(body),
                                             headers: { "Content-Type": "application/json" } });
  const sr = parseInt(r.headers.get("X-Sample-Rate") || "16000", 10);
  const ctx = new (window.AudioContext || window.webkitAudioContext)();
  let playAt = ctx.currentTime + 0.1, samples = 0, done = null, buffer = "";
  const chunks = [], reader = r.body.getReader(), dec = new TextDecoder();
  for (;;) {
    const { value, done: end } = await reader.read();
    if (end) break;
    buffer += dec.decode(value, { stream: true });
    let i;
    while ((i = buffer.indexOf("\n\n")) >= 0) {
      const line = buffer.slice(0, i); buffer = buffer.slice(i + 2);
      if (!line.startsWith("data: ")) continue;
      const ev = JSON.parse(line.slice(6));
      if (ev.type === "error") throw new Error(ev.error.message);
      if (ev.type === "speech.audio.done") { done = ev; continue; }
      const bytes = Uint8Array.from(atob(ev.audio), (ch) => ch.charCodeAt(0));
      const pcm = new Int16Array(bytes.buffer);
      chunks.push(pcm); samples += pcm.length;
      const ab = ctx.createBuffer(1, pcm.length, sr), ch = ab.getChannelData(0);
      for (let k = 0; k < pcm.length; k++) ch[k] = pcm[k] / 32768;
      const src = ctx.createBufferSource(); src.buffer = ab; src.connect(ctx.destination);
      playAt = Math.max(playAt, ctx.currentTime); src.start(playAt); playAt += ab.duration;
      setStatus(status, `streaming… ${(samples / sr).toFixed(2)} s received`);
    }
  }
  if (!done) throw new Error("the stream ended before the final event");
  showAudio(wavBlob(chunks, sr), "wav");
  return { scores: done.scores, info: done.info };
}

async function synthesize() {
  const status = $("status"), btn = $("synthesize");
  btn.disabled = true;
  setStatus(status, "synthesizing…");
  const t0 = performance.now();
  try {
    const body = requestBody();
    let scores, info;
    if ($("stream").checked) {
      ({ scores, info } = await synthesizeStreaming(body, status));
    } else {
      const r = await api("/v1/audio/speech", { method: "POST", body: JSON.stringify(body),
                                                 headers: { "Content-Type": "application/json" } });
      scores = JSON.parse(r.headers.get("X-Llasa-Scores") || "{}");
      info = JSON.parse(r.headers.get("X-Llasa-Info") || "{}");
      showAudio(await r.blob(), body.response_format);
    }
    fillTable($("scores"), scores);
    fillTable($("info"), info);
    setStatus(status, `done in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  } catch (e) {
    setStatus(status, e.message, true);
  } finally {
    btn.disabled = false;
  }
}

async function uploadVoice(ev) {
  ev.preventDefault();
  const status = $("voice-status"), form = new FormData();
  form.append("name", $("voice-name").value.trim());
  form.append("file", $("voice-file").files[0]);
  if ($("voice-text").value.trim()) form.append("text", $("voice-text").value.trim());
  setStatus(status, "uploading and encoding…");
  try {
    const v = await (await api("/v1/voices", { method: "POST", body: form })).json();
    await loadVoices();
    $("voice").value = v.name;
    // announce only once the new voice is listed and selected (tests and users act on it)
    setStatus(status, `added ${v.name} (${v.seconds} s)`);
  } catch (e) {
    setStatus(status, e.message, true);
  }
}

function setup() {
  $("api-key").value = localStorage.getItem("llasa-api-key") || "";
  $("api-key").addEventListener("change", () => {
    localStorage.setItem("llasa-api-key", $("api-key").value.trim());
    init();
  });
  $("synthesize").onclick = synthesize;
  $("voice-form").onsubmit = uploadVoice;
  init();
}

async function init() {
  try {
    const h = await (await fetch("/health")).json();
    $("health").textContent = `${h.status} · queue ${h.queued}/${h.max_queue}`;
    await loadConfig();
    await loadVoices();
    document.body.dataset.ready = "1";
  } catch (e) {
    $("health").textContent = e.message;
  }
}
setup();
