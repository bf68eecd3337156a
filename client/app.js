// Warmline browser client: OpenAI Realtime (GA) events over one WebSocket, see server/PROTOCOL.md.
// Small classes, one job each: RealtimeSocket (wire), MicCapture (mic -> PCM16), PlaybackQueue
// (PCM16 -> speaker, played-ms bookkeeping), the views, and WarmlineApp (the conversation).
'use strict';

(() => {
  const INPUT_RATE = 24000;
  const OUTPUT_RATE = 24000;
  const CHUNK_MS = 50;
  const START_LEAD_S = 0.05; // headroom before the first chunk of a burst, against an audible click

  // ---------------------------------------------------------------- wire helpers
  function bytesToBase64(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  function base64ToFloat32(b64) {
    const binary = atob(b64);
    const view = new DataView(new ArrayBuffer(binary.length - (binary.length % 2)));
    for (let i = 0; i < view.byteLength; i++) view.setUint8(i, binary.charCodeAt(i));
    const out = new Float32Array(view.byteLength / 2);
    for (let i = 0; i < out.length; i++) out[i] = view.getInt16(2 * i, true) / 32768;
    return out;
  }

  function realtimeUrl(loc) {
    const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${loc.host}/v1/realtime`;
  }

  // Beta names (OpenAI-Beta: realtime=v1) map onto the GA ones, so either server dialect works.
  const BETA_TO_GA = {
    'response.audio.delta': 'response.output_audio.delta',
    'response.audio.done': 'response.output_audio.done',
    'response.audio_transcript.delta': 'response.output_audio_transcript.delta',
    'response.audio_transcript.done': 'response.output_audio_transcript.done',
    'conversation.item.created': 'conversation.item.added',
  };

  // ---------------------------------------------------------------- socket
  class RealtimeSocket {
    constructor(url, { onEvent, onClose, onSend }) {
      this.url = url;
      this.onEvent = onEvent;
      this.onClose = onClose;
      this.onSend = onSend;
      this.counter = 0;
      this.ws = null;
    }

    // A server with a key gives its own page a short-lived token (--public-page); browsers pass it as a
    // subprotocol, as OpenAI's browser clients pass ephemeral keys.
    async protocols() {
      try {
        const r = await fetch('/v1/page-token', { cache: 'no-store' });
        const token = r.ok ? (await r.json()).value : null;
        return token ? ['realtime', `openai-insecure-api-key.${token}`] : [];
      } catch (err) {
        return [];
      }
    }

    async open() {
      const protocols = await this.protocols();
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(this.url, protocols);
        this.ws = ws;
        ws.onopen = () => resolve();
        ws.onerror = () => reject(new Error(`could not connect to ${this.url}`));
        ws.onclose = (e) => this.onClose(e);
        ws.onmessage = (e) => {
          if (typeof e.data !== 'string') return;
          let event;
          try {
            event = JSON.parse(e.data);
          } catch (err) {
            return;
          }
          if (event && typeof event.type === 'string') this.onEvent(event);
        };
      });
    }

    get isOpen() {
      return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
    }

    send(event) {
      if (!this.isOpen) return false;
      const full = { event_id: `evt_client_${++this.counter}`, ...event };
      this.ws.send(JSON.stringify(full));
      this.onSend(full);
      return true;
    }

    close() {
      if (this.ws) this.ws.close(1000, 'client stopped');
    }
  }

  // ---------------------------------------------------------------- microphone
  class MicCapture {
    constructor(context, { targetRate, chunkMs, onChunk, onLevel }) {
      this.context = context;
      this.targetRate = targetRate;
      this.chunkMs = chunkMs;
      this.onChunk = onChunk;
      this.onLevel = onLevel;
      this.stream = null;
      this.nodes = [];
    }

    static async open() {
      return navigator.mediaDevices.getUserMedia({
        audio: {
          echoCancellation: true,
          noiseSuppression: true,
          autoGainControl: true,
          channelCount: 1,
        },
      });
    }

    async start(stream) {
      this.stream = stream;
      await this.context.audioWorklet.addModule('/capture-worklet.js');
      const source = this.context.createMediaStreamSource(stream);
      const worklet = new AudioWorkletNode(this.context, 'warmline-capture', {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        channelCount: 1,
        channelCountMode: 'explicit',
        processorOptions: { targetRate: this.targetRate, chunkMs: this.chunkMs },
      });
      worklet.port.onmessage = (e) => {
        this.onChunk(e.data.pcm);
        this.onLevel(e.data.level);
      };
      // A silent sink keeps the worklet pulled by the graph without echoing the mic.
      const sink = this.context.createGain();
      sink.gain.value = 0;
      source.connect(worklet).connect(sink).connect(this.context.destination);
      this.nodes = [source, worklet, sink];
    }

    settings() {
      const track = this.stream && this.stream.getAudioTracks()[0];
      return track ? track.getSettings() : null;
    }

    stop() {
      for (const node of this.nodes) node.disconnect();
      this.nodes = [];
      if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
      this.stream = null;
    }
  }

  // ---------------------------------------------------------------- playback
  // Chunks of each assistant item are scheduled back to back on the AudioContext clock; how much
  // of an item was heard is read from that clock, which is what `audio_end_ms` must report.
  class PlaybackQueue {
    constructor(context, { onItemStarted, onItemEnded }) {
      this.context = context;
      this.onItemStarted = onItemStarted;
      this.onItemEnded = onItemEnded;
      this.items = new Map();
      this.endTime = 0;
      this.timer = setInterval(() => this.tick(), 25);
    }

    item(id) {
      if (!this.items.has(id)) {
        this.items.set(id, {
          id, chunks: [], sources: new Set(), receivedMs: 0, done: false,
          started: false, ended: false, stoppedAt: null,
        });
      }
      return this.items.get(id);
    }

    enqueue(itemId, samples, rate) {
      const item = this.item(itemId);
      if (item.stoppedAt !== null || samples.length === 0) return;
      const buffer = this.context.createBuffer(1, samples.length, rate);
      buffer.copyToChannel(samples, 0);
      const source = this.context.createBufferSource();
      source.buffer = buffer;
      source.connect(this.context.destination);
      const now = this.context.currentTime;
      const start = Math.max(this.endTime, now + START_LEAD_S);
      source.start(start);
      this.endTime = start + buffer.duration;
      item.chunks.push({ start, duration: buffer.duration });
      item.sources.add(source);
      item.receivedMs += buffer.duration * 1000;
      source.onended = () => item.sources.delete(source);
    }

    markDone(itemId) {
      this.item(itemId).done = true;
    }

    playedMs(item) {
      const t = item.stoppedAt !== null ? item.stoppedAt : this.context.currentTime;
      let played = 0;
      for (const c of item.chunks) played += Math.min(Math.max(t - c.start, 0), c.duration);
      return played * 1000;
    }

    pendingMs(item) {
      return Math.max(0, item.receivedMs - this.playedMs(item));
    }

    get queuedMs() {
      return Math.max(0, this.endTime - this.context.currentTime) * 1000;
    }

    get playing() {
      const now = this.context.currentTime;
      for (const item of this.items.values()) {
        if (item.stoppedAt !== null) continue;
        if (item.chunks.some((c) => c.start <= now && now < c.start + c.duration)) return true;
      }
      return false;
    }

    get totalPlayedMs() {
      let total = 0;
      for (const item of this.items.values()) total += this.playedMs(item);
      return total;
    }

    // Items the user has not fully heard yet: audio queued or playing, or more still to come.
    unfinished() {
      return [...this.items.values()].filter(
        (it) => it.stoppedAt === null && !it.ended && (!it.done || this.pendingMs(it) >= 1),
      );
    }

    // Silences everything at once; returns what each interrupted item had played.
    stopAll() {
      const now = this.context.currentTime;
      const stopped = [];
      for (const item of this.unfinished()) {
        item.stoppedAt = now;
        for (const source of item.sources) {
          source.onended = null;
          try {
            source.stop();
          } catch (err) { /* never started */ }
          source.disconnect();
        }
        item.sources.clear();
        stopped.push({ id: item.id, playedMs: this.playedMs(item), receivedMs: item.receivedMs });
      }
      this.endTime = now;
      return stopped;
    }

    tick() {
      const now = this.context.currentTime;
      for (const item of this.items.values()) {
        if (item.stoppedAt !== null || item.chunks.length === 0) continue;
        if (!item.started && now >= item.chunks[0].start) {
          item.started = true;
          this.onItemStarted(item);
        }
        if (item.started && item.done && !item.ended && this.pendingMs(item) < 1) {
          item.ended = true;
          this.onItemEnded(item);
        }
      }
    }

    snapshot() {
      const out = {};
      for (const item of this.items.values()) {
        out[item.id] = {
          receivedMs: Math.round(item.receivedMs),
          playedMs: Math.round(this.playedMs(item)),
          chunks: item.chunks.length,
          done: item.done,
          started: item.started,
          ended: item.ended,
          stopped: item.stoppedAt !== null,
        };
      }
      return out;
    }

    close() {
      clearInterval(this.timer);
      this.stopAll();
    }
  }

  // ---------------------------------------------------------------- views
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === 'class') node.className = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function humanize(key) {
    return String(key).replace(/[_.]+/g, ' ');
  }

  function formatValue(value) {
    if (value === null || value === undefined) return '—';
    if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(2);
    if (typeof value === 'boolean') return value ? 'yes' : 'no';
    if (Array.isArray(value)) return value.length ? value.map(formatValue).join(', ') : 'none';
    if (typeof value === 'object') {
      const label = value.label ?? value.name ?? value.value;
      const score = value.score ?? value.confidence ?? value.probability;
      if (label !== undefined && Object.keys(value).length <= 2) {
        return score !== undefined ? `${formatValue(label)} (${formatValue(score)})` : formatValue(label);
      }
      return Object.entries(value).map(([k, v]) => `${humanize(k)} ${formatValue(v)}`).join(' · ');
    }
    return String(value);
  }

  function fillKeyValues(dl, obj) {
    dl.replaceChildren();
    const entries = obj && typeof obj === 'object' ? Object.entries(obj) : [];
    for (const [key, value] of entries) dl.append(el('dt', null, humanize(key)), el('dd', null, formatValue(value)));
  }

  function percent(x) {
    return `${Math.round(Number(x) * 100)}%`;
  }

  function labelOf(v) {
    if (v && typeof v === 'object') {
      const conf = v.confidence ?? v.score;
      return conf !== undefined ? `${v.label} (${percent(conf)})` : String(v.label);
    }
    return v === undefined || v === null ? null : String(v);
  }

  // The strongest few classes of a distribution, as labelled bars.
  function topBars(distribution, n) {
    const list = el('ul', { class: 'bars' });
    Object.entries(distribution).sort((a, b) => b[1] - a[1]).slice(0, n).forEach(([name, p]) => {
      const bar = el('span', { class: 'bar' });
      bar.style.width = percent(Math.max(0, Math.min(1, p)));
      list.append(el('li', null, el('span', { class: 'bar-label' }, `${name} ${percent(p)}`),
        el('span', { class: 'bar-track', 'aria-hidden': 'true' }, bar)));
    });
    return list;
  }

  // Turns an analyser result (server's warmline.paralinguistics) into a few readable rows.
  function summarizeVoice(r) {
    const rows = [];
    if (r.unknown) rows.push(['heard', r.reason ? `unclear — ${r.reason}` : 'unclear']);
    if (r.emotion) {
      const dist = r.emotion.distribution;
      const node = el('div', null, labelOf(r.emotion));
      if (dist && typeof dist === 'object') node.append(topBars(dist, 3));
      rows.push(['emotion', node]);
    }
    if (typeof r.valence === 'number' || typeof r.arousal === 'number') {
      const parts = [];
      if (typeof r.valence === 'number') parts.push(`valence ${r.valence.toFixed(2)}`);
      if (typeof r.arousal === 'number') parts.push(`arousal ${r.arousal.toFixed(2)}`);
      rows.push(['feeling', parts.join(' · ')]);
    }
    const who = [labelOf(r.gender), r.age_group ? `age ${labelOf(r.age_group)}` : null].filter(Boolean);
    if (who.length) rows.push(['voice', who.join(' · ')]);
    const st = r.style && typeof r.style === 'object' ? r.style : null;
    if (st) {
      const parts = [];
      if (typeof st.rate_syl_s === 'number') parts.push(`${st.rate_syl_s.toFixed(1)} syll/s`);
      if (typeof st.pitch_hz === 'number') parts.push(`pitch ${Math.round(st.pitch_hz)} Hz`);
      if (typeof st.loudness_dbfs === 'number') parts.push(`${Math.round(st.loudness_dbfs)} dBFS`);
      if (st.whispering) parts.push('whispering');
      if (st.trembling) parts.push('trembling');
      if (parts.length) rows.push(['delivery', parts.join(' · ')]);
    }
    const events = r.events ?? r.vocal_events;
    if (Array.isArray(events)) rows.push(['sounds', events.length ? events.map(labelOf).join(', ') : 'none heard']);
    if (Array.isArray(r.warnings) && r.warnings.length) rows.push(['note', r.warnings.join('; ')]);
    return rows;
  }

  const ASSESSMENT_FIELDS = ['user_emotion', 'need', 'reply_emotion', 'stage', 'concern', 'shift', 'escalation'];

  class TranscriptView {
    constructor(list, hint) {
      this.list = list;
      this.hint = hint;
      this.rows = new Map();
    }

    upsert(entry) {
      if (this.hint) {
        this.hint.remove();
        this.hint = null;
      }
      let row = this.rows.get(entry.key);
      if (!row) {
        row = el('li', { class: `turn ${entry.role}` },
          el('span', { class: 'who' }, entry.role === 'user' ? 'You' : 'Warmline'),
          el('span', { class: 'text' }),
          el('span', { class: 'tag', hidden: '' }, 'cut off'));
        this.rows.set(entry.key, row);
        this.list.append(row);
      }
      const text = row.querySelector('.text');
      text.textContent = entry.text || (entry.pending ? '…' : '');
      row.classList.toggle('pending', Boolean(entry.pending));
      row.classList.toggle('cut', Boolean(entry.cut));
      row.querySelector('.tag').hidden = !entry.cut;
      row.scrollIntoView({ block: 'nearest' });
    }

    remove(key) {
      const row = this.rows.get(key);
      if (row) row.remove();
      this.rows.delete(key);
    }
  }

  const STATE_LABELS = {
    idle: 'not connected',
    connecting: 'connecting…',
    listening: 'listening',
    user_speaking: 'you are speaking',
    thinking: 'thinking',
    speaking: 'speaking',
    interrupted: 'interrupted',
  };

  const TIMING_LABELS = {
    end_of_speech_to_first_audio_ms: 'end of speech → first audio',
    endpoint_wait_ms: 'deciding you had finished',
    asr_ms: 'transcription',
    first_token_ms: 'first word of the reply',
    first_clause_ms: 'first clause',
    tts_first_chunk_ms: 'first audio synthesised',
    browser_speech_stopped_to_sound_ms: 'speech stopped → sound here',
  };

  // One crisis resource ({name, how, contact} or text) as nodes; a dialable contact becomes a tel: link.
  function resourceLine(r) {
    if (!r || typeof r !== 'object') return [formatValue(r)];
    const nodes = [];
    if (r.name) nodes.push(el('span', { class: 'resource-name' }, String(r.name)));
    const how = r.how ? String(r.how) : '';
    if (how) nodes.push(`: ${how}`);
    const contact = r.contact ? String(r.contact) : '';
    if (contact && /^[+\d][\d\s()-]*$/.test(contact)) {
      nodes.push(' ', el('a', { href: `tel:${contact.replace(/[^+\d]/g, '')}`, class: 'dial' }, contact));
    } else if (contact && !how.includes(contact)) {
      nodes.push(` (${contact})`);
    }
    return nodes.length ? nodes : [formatValue(r)];
  }

  class PanelsView {
    constructor(doc) {
      this.badge = doc.getElementById('state');
      this.para = doc.getElementById('paralinguistics');
      this.thinkingText = doc.getElementById('thinking-text');
      this.thinking = doc.getElementById('thinking');
      this.timings = doc.querySelector('#timings tbody');
      this.errors = doc.getElementById('errors');
      this.escalation = doc.getElementById('escalation');
      this.escalationReason = doc.getElementById('escalation-reason');
      this.escalationResources = doc.getElementById('escalation-resources');
      this.level = doc.getElementById('level');
      this.errorCount = 0;
    }

    state(state) {
      this.badge.dataset.state = state;
      this.badge.textContent = STATE_LABELS[state] || humanize(state);
    }

    paralinguistics(result) {
      this.para.replaceChildren();
      if (!result || typeof result !== 'object') return;
      const rows = summarizeVoice(result);
      if (rows.length === 0) {
        fillKeyValues(this.para, result); // an analyser we do not know: show what it said
        return;
      }
      for (const [key, value] of rows) this.para.append(el('dt', null, key), el('dd', null, value));
    }

    assessment(event) {
      const a = event.assessment && typeof event.assessment === 'object' ? event.assessment : {};
      const known = ASSESSMENT_FIELDS.filter((k) => a[k] !== undefined && a[k] !== null && a[k] !== '');
      this.thinkingText.textContent = known.length ? '' : (event.text || '');
      this.thinkingText.hidden = known.length > 0 || !event.text;
      this.thinking.replaceChildren();
      for (const key of known) this.thinking.append(el('dt', null, humanize(key)), el('dd', null, formatValue(a[key])));
    }

    showTimings(durations) {
      this.timings.replaceChildren();
      const keys = Object.keys(TIMING_LABELS).filter((k) => k in durations)
        .concat(Object.keys(durations).filter((k) => !(k in TIMING_LABELS)));
      for (const key of keys) {
        const value = durations[key];
        if (typeof value !== 'number') continue;
        const row = el('tr', { class: key === 'end_of_speech_to_first_audio_ms' ? 'key' : '' },
          el('td', null, TIMING_LABELS[key] || humanize(key.replace(/_ms$/, ''))),
          el('td', null, String(Math.round(value))));
        this.timings.append(row);
      }
    }

    message(text, kind) {
      if (this.errorCount === 0) this.errors.replaceChildren();
      this.errorCount += 1;
      this.errors.prepend(el('li', { class: kind || 'error' }, text));
      while (this.errors.children.length > 6) this.errors.lastChild.remove();
    }

    escalate(event) {
      const head = [event.category, event.level || event.severity].filter(Boolean).map(humanize).join(' · ');
      this.escalationReason.textContent = [head, event.reason].filter(Boolean).join(' — ');
      this.escalationResources.replaceChildren();
      const resources = event.resources;
      if (Array.isArray(resources)) {
        const list = el('ul');
        for (const r of resources) list.append(el('li', null, ...resourceLine(r)));
        this.escalationResources.append(list);
      } else if (resources && typeof resources === 'object') {
        const dl = el('dl', { class: 'kv' });
        fillKeyValues(dl, resources);
        this.escalationResources.append(dl);
      } else if (resources) {
        for (const line of String(resources).split(/\n+/)) this.escalationResources.append(el('p', null, line));
      }
      this.escalation.hidden = false;
    }

    meter(level) {
      this.level.style.width = `${Math.min(100, Math.round(Math.sqrt(level) * 200))}%`;
    }
  }

  // ---------------------------------------------------------------- the conversation
  class WarmlineApp {
    constructor(doc) {
      this.button = doc.getElementById('toggle');
      this.muteButton = doc.getElementById('mute');
      this.voicePicker = doc.getElementById('voice');
      this.transcriptView = new TranscriptView(doc.getElementById('transcript'), doc.getElementById('hint'));
      this.panels = new PanelsView(doc);
      this.context = null;
      this.socket = null;
      this.mic = null;
      this.playback = null;
      this.outputRate = OUTPUT_RATE;
      this.truncated = new Set();
      this.lastSpeechStopped = null;
      this.status = this.freshStatus();
      this.button.addEventListener('click', () => (this.running ? this.stop('stopped') : this.start()));
      this.muteButton.addEventListener('click', () => this.setMuted(!this.status.muted));
      this.voicePicker.addEventListener('change', () => this.chooseVoice(this.voicePicker.value));
    }

    // ---- the agent's voice: the server lists its voices in the session; a choice applies from the next reply
    storedVoice() {
      try {
        return window.localStorage.getItem('warmline.voice') || '';
      } catch (err) {
        return '';
      }
    }

    chooseVoice(name) {
      try {
        window.localStorage.setItem('warmline.voice', name);
      } catch (err) { /* private browsing: the choice lasts this page only */ }
      if (this.socket && name) {
        this.socket.send({ type: 'session.update', session: { type: 'realtime', audio: { output: { voice: name } } } });
      }
    }

    showVoices(session) {
      const output = session && session.audio && session.audio.output;
      if (!output) return;
      const names = output.warmline_voices || [output.voice];
      const picker = this.voicePicker;
      if ([...picker.options].map((o) => o.value).join() !== names.join()) {
        picker.replaceChildren(...names.map((n) => el('option', { value: n }, n)));
      }
      picker.value = output.voice;
      picker.disabled = names.length < 2;
    }

    freshStatus() {
      return {
        state: 'idle',
        connected: false,
        muted: false,
        url: null,
        session: null,
        micSettings: null,
        audioContextRate: null,
        transcript: [],
        eventsSeen: {},
        eventsSent: {},
        audioChunksReceived: 0,
        audioChunksDropped: 0,
        droppedMs: {},
        audioMsReceived: 0,
        bytesSent: 0,
        truncations: [],
        playbackReports: [],
        speechStarted: [],
        errors: [],
        paralinguistics: null,
        thinking: null,
        escalations: [],
        timings: [],
      };
    }

    get running() {
      return this.socket !== null;
    }

    // Live view for tests (selenium) and the console.
    snapshot() {
      const s = JSON.parse(JSON.stringify(this.status));
      s.playing = this.playback ? this.playback.playing : false;
      s.queuedMs = this.playback ? Math.round(this.playback.queuedMs) : 0;
      s.playedMs = this.playback ? Math.round(this.playback.totalPlayedMs) : 0;
      s.items = this.playback ? this.playback.snapshot() : {};
      return s;
    }

    setState(state) {
      this.status.state = state;
      this.panels.state(state);
    }

    async createContext() {
      // Prefer a context at the session rate (the browser resamples the mic); the worklet resamples otherwise.
      try {
        return new AudioContext({ sampleRate: INPUT_RATE, latencyHint: 'interactive' });
      } catch (err) {
        return new AudioContext({ latencyHint: 'interactive' });
      }
    }

    async start() {
      this.button.disabled = true;
      this.truncated.clear();
      this.setState('connecting');
      try {
        const stream = await MicCapture.open();
        this.context = await this.createContext();
        await this.context.resume();
        this.status.audioContextRate = this.context.sampleRate;
        this.playback = new PlaybackQueue(this.context, {
          onItemStarted: (item) => this.reportPlayback(item, 'started'),
          onItemEnded: (item) => this.reportPlayback(item, 'ended'),
        });
        const url = realtimeUrl(window.location);
        this.status.url = url;
        this.socket = new RealtimeSocket(url, {
          onEvent: (e) => this.handle(e),
          onClose: (e) => this.onSocketClosed(e),
          onSend: (e) => { this.status.eventsSent[e.type] = (this.status.eventsSent[e.type] || 0) + 1; },
        });
        await this.socket.open();
        this.status.connected = true;
        this.socket.send({
          type: 'session.update',
          session: {
            type: 'realtime',
            output_modalities: ['audio'],
            audio: {
              input: { format: { type: 'audio/pcm', rate: INPUT_RATE } },
              output: { format: { type: 'audio/pcm', rate: OUTPUT_RATE },
                        ...(this.storedVoice() ? { voice: this.storedVoice() } : {}) },
            },
          },
        });
        this.mic = new MicCapture(this.context, {
          targetRate: INPUT_RATE,
          chunkMs: CHUNK_MS,
          onChunk: (pcm) => this.sendAudio(pcm),
          onLevel: (level) => this.panels.meter(this.status.muted ? 0 : level),
        });
        await this.mic.start(stream);
        this.status.micSettings = this.mic.settings();
        this.button.textContent = 'Stop';
        this.muteButton.disabled = false;
        this.button.setAttribute('aria-pressed', 'true');
        if (this.status.state === 'connecting') this.setState('listening');
      } catch (err) {
        const name = err && err.name ? `${err.name}: ` : '';
        this.note(`Could not start — ${name}${err && err.message ? err.message : err}`);
        this.teardown();
      } finally {
        this.button.disabled = false;
      }
    }

    stop(reason) {
      if (this.socket) this.socket.close();
      this.teardown();
      if (reason && reason !== 'stopped') this.note(reason);
    }

    teardown() {
      const socket = this.socket;
      this.socket = null;
      if (socket) socket.onClose = () => {};
      if (this.mic) this.mic.stop();
      this.mic = null;
      if (this.playback) {
        this.status.finalPlayback = this.playback.snapshot();
        this.status.finalPlayedMs = Math.round(this.playback.totalPlayedMs);
        this.playback.close();
      }
      this.playback = null;
      if (this.context) this.context.close();
      this.context = null;
      this.status.connected = false;
      this.button.textContent = 'Start';
      this.setMuted(false);
      this.muteButton.disabled = true;
      this.button.setAttribute('aria-pressed', 'false');
      this.setState('idle');
    }

    onSocketClosed(event) {
      this.teardown();
      this.note(`Connection closed${event.reason ? `: ${event.reason}` : ''} (code ${event.code})`);
    }

    note(text) {
      this.status.errors.push({ type: 'client', message: text });
      this.panels.message(text, 'error');
    }

    // Muted, the page still streams, but silence: the server's clock and VAD keep running.
    setMuted(muted) {
      this.status.muted = muted;
      this.muteButton.setAttribute('aria-pressed', String(muted));
      this.muteButton.textContent = muted ? 'Unmute' : 'Mute';
    }

    sendAudio(pcm) {
      if (!this.socket || !this.socket.isOpen) return;
      if (this.status.muted) new Int16Array(pcm).fill(0);
      this.socket.send({ type: 'input_audio_buffer.append', audio: bytesToBase64(pcm) });
      this.status.bytesSent += pcm.byteLength;
    }

    reportPlayback(item, state) {
      const playedMs = Math.round(this.playback.playedMs(item));
      this.status.playbackReports.push({ item_id: item.id, state, played_ms: playedMs });
      if (state === 'started' && this.lastSpeechStopped !== null) {
        this.status.lastSpeechStoppedToSoundMs = Math.round(performance.now() - this.lastSpeechStopped);
        this.lastSpeechStopped = null;
      }
      if (this.socket) this.socket.send({ type: 'warmline.playback', item_id: item.id, played_ms: playedMs, state });
    }

    // ---- transcript bookkeeping
    entry(key, role) {
      let entry = this.status.transcript.find((e) => e.key === key);
      if (!entry) {
        entry = { key, item_id: key, role, text: '', pending: true, cut: false };
        this.status.transcript.push(entry);
      }
      return entry;
    }

    updateEntry(entry) {
      this.transcriptView.upsert(entry);
    }

    // ---- barge-in
    bargeIn(trigger) {
      if (!this.playback) return;
      const before = { playing: this.playback.playing, queuedMs: Math.round(this.playback.queuedMs) };
      for (const stopped of this.playback.stopAll()) {
        if (this.truncated.has(stopped.id)) continue;
        this.truncated.add(stopped.id);
        const audioEndMs = Math.floor(stopped.playedMs);
        this.socket.send({
          type: 'conversation.item.truncate', item_id: stopped.id, content_index: 0, audio_end_ms: audioEndMs,
        });
        this.status.truncations.push({
          item_id: stopped.id,
          audio_end_ms: audioEndMs,
          received_ms: Math.round(stopped.receivedMs),
          trigger_event_id: trigger.event_id || null,
          playing_before: before.playing,
          queued_ms_before: before.queuedMs,
          playing_after: this.playback.playing,
          queued_ms_after: Math.round(this.playback.queuedMs),
        });
        const entry = this.entry(stopped.id, 'assistant');
        entry.cut = true;
        this.updateEntry(entry);
      }
    }

    // ---- events
    handle(raw) {
      const type = BETA_TO_GA[raw.type] || raw.type;
      const event = raw;
      this.status.eventsSeen[type] = (this.status.eventsSeen[type] || 0) + 1;
      switch (type) {
        case 'session.created':
        case 'session.updated':
          this.status.session = event.session || null;
          this.adoptOutputRate(event.session);
          this.showVoices(event.session);
          break;
        case 'input_audio_buffer.speech_started': {
          this.status.speechStarted.push({ item_id: event.item_id || null, event_id: event.event_id || null });
          this.bargeIn(event);
          if (event.item_id) this.updateEntry(this.entry(event.item_id, 'user'));
          break;
        }
        case 'input_audio_buffer.speech_stopped':
          this.lastSpeechStopped = performance.now();
          break;
        case 'conversation.item.added':
          this.onItemAdded(event.item);
          break;
        case 'conversation.item.input_audio_transcription.delta': {
          const entry = this.entry(event.item_id, 'user');
          entry.text += event.delta || '';
          this.updateEntry(entry);
          break;
        }
        case 'conversation.item.input_audio_transcription.completed': {
          const entry = this.entry(event.item_id, 'user');
          entry.text = (event.transcript || '').trim();
          entry.pending = false;
          if (entry.text) this.updateEntry(entry);
          else this.transcriptView.remove(entry.key);
          break;
        }
        case 'response.output_item.added':
          if (event.item && event.item.id && event.item.role !== 'user') this.updateEntry(this.entry(event.item.id, 'assistant'));
          break;
        case 'response.output_audio.delta':
          this.onAudio(event);
          break;
        case 'response.output_audio.done':
          if (this.playback && event.item_id) this.playback.markDone(event.item_id);
          break;
        case 'response.output_audio_transcript.delta': {
          const entry = this.entry(event.item_id, 'assistant');
          entry.text += event.delta || '';
          entry.pending = false;
          this.updateEntry(entry);
          break;
        }
        case 'response.output_audio_transcript.done': {
          const entry = this.entry(event.item_id, 'assistant');
          if (typeof event.transcript === 'string' && event.transcript && !entry.cut) entry.text = event.transcript;
          entry.pending = false;
          this.updateEntry(entry);
          break;
        }
        case 'response.done':
          this.onResponseDone(event.response || {});
          break;
        case 'conversation.item.truncated': {
          const entry = this.entry(event.item_id, 'assistant');
          entry.cut = true;
          entry.heard_ms = event.audio_end_ms;
          this.updateEntry(entry);
          break;
        }
        case 'warmline.resumed': {
          // The sound over the reply was a backchannel or a cough: the same item continues from where it stopped.
          this.truncated.delete(event.item_id);
          this.status.resumes = (this.status.resumes || 0) + 1;
          const entry = this.entry(event.item_id, 'assistant');
          entry.cut = false;
          this.updateEntry(entry);
          break;
        }
        case 'warmline.state':
          this.setState(event.state);
          break;
        case 'warmline.thinking':
          this.status.thinking = { response_id: event.response_id, assessment: event.assessment, text: event.text };
          this.panels.assessment(event);
          break;
        case 'warmline.paralinguistics':
          this.status.paralinguistics = event.result || null;
          this.panels.paralinguistics(event.result);
          break;
        case 'warmline.escalation':
          this.status.escalations.push(event);
          this.panels.escalate(event);
          break;
        case 'warmline.turn.timings': {
          const durations = { ...(event.durations || {}) };
          if (this.status.lastSpeechStoppedToSoundMs !== undefined) {
            durations.browser_speech_stopped_to_sound_ms = this.status.lastSpeechStoppedToSoundMs;
            delete this.status.lastSpeechStoppedToSoundMs;
          }
          this.status.timings.push({ item_id: event.item_id, response_id: event.response_id, marks: event.marks, durations });
          this.panels.showTimings(durations);
          break;
        }
        case 'error': {
          const err = event.error || {};
          this.status.errors.push({ type: 'server', code: err.code || null, message: err.message || '' });
          this.panels.message(`${err.code || err.type || 'error'}: ${err.message || ''}`, 'error');
          break;
        }
        default:
          break;
      }
    }

    adoptOutputRate(session) {
      const format = session && session.audio && session.audio.output && session.audio.output.format;
      if (format && format.type === 'audio/pcm' && Number(format.rate) > 0) this.outputRate = Number(format.rate);
    }

    onItemAdded(item) {
      if (!item || !item.id || item.role !== 'user') return;
      const typed = (item.content || []).filter((c) => c.type === 'input_text').map((c) => c.text).join(' ');
      const entry = this.entry(item.id, 'user');
      if (typed) {
        entry.text = typed;
        entry.pending = false;
      }
      this.updateEntry(entry);
    }

    onAudio(event) {
      if (!this.playback || !event.item_id || typeof event.delta !== 'string') return;
      if (this.truncated.has(event.item_id)) {
        // Already cut by barge-in: late chunks stay silent, but count toward the item's full length.
        this.status.audioChunksDropped += 1;
        const ms = ((event.delta.length * 3) / 4 / 2 / this.outputRate) * 1000;
        this.status.droppedMs[event.item_id] = (this.status.droppedMs[event.item_id] || 0) + ms;
        return;
      }
      let samples;
      try {
        samples = base64ToFloat32(event.delta);
      } catch (err) {
        this.note('Received audio that could not be decoded');
        return;
      }
      this.status.audioChunksReceived += 1;
      this.status.audioMsReceived += (samples.length / this.outputRate) * 1000;
      this.playback.enqueue(event.item_id, samples, this.outputRate);
    }

    onResponseDone(response) {
      for (const output of response.output || []) {
        if (!output || !output.id) continue;
        if (this.playback) this.playback.markDone(output.id);
        const entry = this.status.transcript.find((e) => e.key === output.id);
        if (entry && response.status === 'cancelled') {
          entry.cut = true;
          entry.cancelled = true;
          if (entry.text) this.updateEntry(entry);
          else this.transcriptView.remove(entry.key); // nothing of it was said
        }
      }
    }
  }

  const app = new WarmlineApp(document);
  window.warmline = app.status;
  Object.defineProperties(app.status, {
    snapshot: { value: () => app.snapshot(), enumerable: false },
    playing: { get: () => (app.playback ? app.playback.playing : false), enumerable: true },
    playedMs: { get: () => (app.playback ? Math.round(app.playback.totalPlayedMs) : 0), enumerable: true },
    queuedMs: { get: () => (app.playback ? Math.round(app.playback.queuedMs) : 0), enumerable: true },
  });
  window.warmlineApp = app;
})();
