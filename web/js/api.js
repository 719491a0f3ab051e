// REST client with request signing, and the WebSocket feed with snapshots, sequence checks and
// reconnection.
//
// Signing (docs/API.md, crates/server/src/api/auth.rs): X-TOKEX-SIGNATURE = hex HMAC-SHA256 of
// `timestamp + METHOD + path?query + body`, keyed with SHA-256(secret). WebCrypto does it where
// the page is a secure context (https, localhost, 127.0.0.1); elsewhere (plain http on a LAN
// address) crypto.subtle does not exist and a small SHA-256 below takes over.

const STORE_KEY = 'tokex.key';
const STORE_SECRET = 'tokex.secret';

/** An error the exchange answered with: {code, message} and the HTTP status. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// ----- credentials (session storage only) -------------------------------------------------

let creds = null;
try {
  const k = sessionStorage.getItem(STORE_KEY);
  const s = sessionStorage.getItem(STORE_SECRET);
  if (k && s) creds = { key: k, secret: s };
} catch { /* storage disabled: stay signed out */ }

let signingKey = null; // CryptoKey or Uint8Array (fallback)

export function credentials() { return creds; }

export function setCredentials(c) {
  creds = c;
  signingKey = null;
  try {
    if (c) {
      sessionStorage.setItem(STORE_KEY, c.key);
      sessionStorage.setItem(STORE_SECRET, c.secret);
    } else {
      sessionStorage.removeItem(STORE_KEY);
      sessionStorage.removeItem(STORE_SECRET);
    }
  } catch { /* ignore */ }
}

// ----- SHA-256 / HMAC ----------------------------------------------------------------------

const enc = new TextEncoder();
const subtle = globalThis.crypto && globalThis.crypto.subtle;

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** SHA-256 in plain JS (only used without WebCrypto). */
export function sha256(data) {
  const l = data.length;
  const n = ((l + 9 + 63) >> 6) << 6;
  const m = new Uint8Array(n);
  m.set(data);
  m[l] = 0x80;
  const dv = new DataView(m.buffer);
  dv.setUint32(n - 4, (l * 8) >>> 0);
  dv.setUint32(n - 8, Math.floor(l / 0x20000000));
  const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const w = new Uint32Array(64);
  const r = (x, k) => (x >>> k) | (x << (32 - k));
  for (let off = 0; off < n; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = dv.getUint32(off + 4 * i);
    for (let i = 16; i < 64; i++) {
      const s0 = r(w[i - 15], 7) ^ r(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = r(w[i - 2], 17) ^ r(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (r(e, 6) ^ r(e, 11) ^ r(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) >>> 0;
      const t2 = ((r(a, 2) ^ r(a, 13) ^ r(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) ov.setUint32(4 * i, h[i]);
  return out;
}

export function hmacFallback(key, msg) {
  const k = new Uint8Array(64);
  k.set(key.length > 64 ? sha256(key) : key);
  const ipad = new Uint8Array(64 + msg.length);
  const opad = new Uint8Array(64 + 32);
  for (let i = 0; i < 64; i++) { ipad[i] = k[i] ^ 0x36; opad[i] = k[i] ^ 0x5c; }
  ipad.set(msg, 64);
  opad.set(sha256(ipad), 64);
  return sha256(opad);
}

async function key() {
  if (signingKey) return signingKey;
  const secret = enc.encode(creds.secret);
  if (subtle) {
    const raw = new Uint8Array(await subtle.digest('SHA-256', secret));
    signingKey = await subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  } else {
    signingKey = sha256(secret);
  }
  return signingKey;
}

/** hex HMAC-SHA256 of the payload with the signed-in key. */
export async function signPayload(payload) {
  const k = await key();
  const msg = enc.encode(payload);
  if (subtle) return hex(new Uint8Array(await subtle.sign('HMAC', k, msg)));
  return hex(hmacFallback(k, msg));
}

// ----- time ----------------------------------------------------------------------------------

let clockOffset = 0; // server − local, ms
let lastTs = 0;

/** Measures the offset to the server's clock so signatures fall inside the receive window. */
export async function syncClock() {
  const t0 = Date.now();
  const r = await fetch('/api/v1/time', { cache: 'no-store' });
  const t1 = Date.now();
  const j = await r.json();
  clockOffset = j.time_ms - Math.round((t0 + t1) / 2);
}

function timestamp() {
  // Strictly increasing: two identical requests in one millisecond would otherwise carry the
  // same signature, and the second would be refused as a replay.
  lastTs = Math.max(Date.now() + clockOffset, lastTs + 1);
  return lastTs;
}

// ----- REST ----------------------------------------------------------------------------------

/** Listeners told when a request fails for want of a connection (and when one succeeds). */
const netListeners = new Set();
export function onNetwork(f) { netListeners.add(f); }
function net(ok) { for (const f of netListeners) f(ok); }

/**
 * A request. `opts.signed` signs it with the session's key; `opts.body` is sent as JSON;
 * `opts.query` is an object of query parameters. Resolves to the parsed JSON (or text), throws
 * ApiError with the exchange's code and message.
 */
export async function request(method, path, opts = {}) {
  let p = path;
  if (opts.query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
    const s = q.toString();
    if (s) p += '?' + s;
  }
  const headers = {};
  const body = opts.body === undefined ? '' : JSON.stringify(opts.body);
  if (body) headers['content-type'] = 'application/json';
  if (opts.signed) {
    if (!creds) throw new ApiError(401, 'UNAUTHENTICATED', 'Sign in with an API key first.');
    const ts = timestamp();
    headers['x-tokex-key'] = creds.key;
    headers['x-tokex-timestamp'] = String(ts);
    headers['x-tokex-signature'] = await signPayload(ts + method.toUpperCase() + p + body);
  }
  let r;
  try {
    r = await fetch(p, { method, headers, body: body || undefined, cache: 'no-store' });
  } catch (e) {
    net(false);
    throw new ApiError(0, 'NETWORK', 'The exchange cannot be reached: check the connection (the screen reconnects by itself).');
  }
  net(true);
  const text = await r.text();
  let data = text;
  if ((r.headers.get('content-type') || '').includes('json')) {
    try { data = JSON.parse(text); } catch { /* leave as text */ }
  }
  if (!r.ok) {
    const code = (data && data.code) || `HTTP_${r.status}`;
    const message = (data && data.message) || text || r.statusText;
    throw new ApiError(r.status, code, message);
  }
  return data;
}

export const get = (path, query) => request('GET', path, { query });
export const sget = (path, query) => request('GET', path, { query, signed: true });

// ----- WebSocket feed ------------------------------------------------------------------------

const PING_MS = 15000;
const SILENCE_MS = 25000;

/**
 * One WebSocket connection, resubscribed after every reconnect. Each channel's handler gets
 * `{type: 'snapshot'|'update', data}`; a sequence gap, a `resync` or a reconnect gives it a
 * fresh snapshot. `onStatus(state, detail)` reports 'connecting', 'live', 'down'.
 */
export class Feed {
  constructor(onStatus) {
    this.onStatus = onStatus;
    this.subs = new Map(); // channel → {handler, seq, private}
    this.ws = null;
    this.authed = false;
    this.attempt = 0;
    this.reconnectHandlers = new Set();
    this.authHandlers = new Set();
    this.heard = Date.now();
    this.everConnected = false;
    setInterval(() => this.tick(), 5000);
  }

  onReconnect(f) { this.reconnectHandlers.add(f); }
  onAuth(f) { this.authHandlers.add(f); }

  connect() {
    if (this.ws && this.ws.readyState <= 1) return;
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/api/v1/ws';
    this.onStatus(this.everConnected ? 'down' : 'connecting', this.attempt);
    let ws;
    try { ws = new WebSocket(url); } catch { this.retry(); return; }
    this.ws = ws;
    this.authed = false;
    ws.onopen = () => {
      this.heard = Date.now();
      const wasDown = this.everConnected;
      this.everConnected = true;
      this.attempt = 0;
      this.onStatus('live');
      for (const s of this.subs.values()) s.seq = null;
      this.sendAuth();
      for (const [ch, s] of this.subs) if (!s.private) this.send({ op: 'subscribe', channel: ch });
      if (wasDown) for (const f of this.reconnectHandlers) f();
    };
    ws.onmessage = (ev) => {
      this.heard = Date.now();
      let m;
      try { m = JSON.parse(ev.data); } catch { return; }
      this.dispatch(m);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.authed = false;
      this.onStatus('down', this.attempt);
      this.retry();
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  retry() {
    const delay = Math.min(5000, 300 * 2 ** this.attempt);
    this.attempt++;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  tick() {
    if (!this.ws || this.ws.readyState !== 1) return;
    if (Date.now() - this.heard > SILENCE_MS) {
      // Nothing heard, not even a heartbeat: the connection is dead without saying so.
      const ws = this.ws;
      this.ws = null;
      try { ws.close(); } catch { /* ignore */ }
      this.onStatus('down', this.attempt);
      this.retry();
      return;
    }
    if (Date.now() - (this.pinged || 0) > PING_MS) {
      this.pinged = Date.now();
      this.send({ op: 'ping' });
    }
  }

  send(obj) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(obj));
  }

  async sendAuth() {
    if (!creds || !this.ws || this.ws.readyState !== 1) return;
    const ts = timestamp();
    const signature = await signPayload(ts + 'GET/api/v1/ws');
    this.send({ op: 'auth', key: creds.key, timestamp: ts, signature });
  }

  /** Re-authenticates after a sign-in or sign-out (drops private channels on sign-out). */
  reauth() {
    this.authed = false;
    for (const [ch, s] of [...this.subs]) if (s.private) {
      this.send({ op: 'unsubscribe', channel: ch });
    }
    if (creds) this.sendAuth();
  }

  subscribe(channel, handler, isPrivate = false) {
    const s = this.subs.get(channel);
    if (s) { s.handler = handler; return; }
    this.subs.set(channel, { handler, seq: null, private: isPrivate });
    if (!isPrivate || this.authed) this.send({ op: 'subscribe', channel });
  }

  unsubscribe(channel) {
    if (!this.subs.delete(channel)) return;
    this.send({ op: 'unsubscribe', channel });
  }

  resubscribe(channel) {
    const s = this.subs.get(channel);
    if (!s) return;
    s.seq = null;
    this.send({ op: 'unsubscribe', channel });
    this.send({ op: 'subscribe', channel });
  }

  dispatch(m) {
    switch (m.type) {
      case 'snapshot': {
        const s = this.subs.get(m.channel);
        if (!s) return;
        s.seq = m.seq;
        s.handler({ type: 'snapshot', data: m.data });
        return;
      }
      case 'update': {
        const s = this.subs.get(m.channel);
        if (!s || s.seq === null) return;
        if (m.seq !== s.seq + 1) {
          // A gap: the book (or list) may be wrong; start again from a snapshot.
          this.resubscribe(m.channel);
          return;
        }
        s.seq = m.seq;
        s.handler({ type: 'update', data: m.data });
        return;
      }
      case 'resync':
        this.resubscribe(m.channel);
        return;
      case 'authenticated':
        this.authed = true;
        for (const [ch, s] of this.subs) if (s.private) { s.seq = null; this.send({ op: 'subscribe', channel: ch }); }
        for (const f of this.authHandlers) f(true, m);
        return;
      case 'error':
        if (m.code && /AUTH|SIGNATURE|KEY|TIMESTAMP|REPLAY/.test(m.code) && !m.channel) {
          for (const f of this.authHandlers) f(false, m);
        }
        if (m.channel && this.subs.has(m.channel)) {
          const s = this.subs.get(m.channel);
          s.handler({ type: 'error', data: m });
        }
        return;
      default:
    }
  }
}
