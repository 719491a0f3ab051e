// Small DOM helpers, formatting, a table builder and a Markdown renderer (for the methodology
// pages). No framework: elements are built with h() and replaced in place.

/** h('div.card#id', {attrs}, ...children) — strings become text nodes (never HTML). */
export function h(tag, attrs, ...children) {
  const m = /^([a-z0-9]+)?((?:[.#][\w-]+)*)$/i.exec(tag);
  const el = document.createElement((m && m[1]) || 'div');
  if (m && m[2]) {
    for (const part of m[2].match(/[.#][\w-]+/g)) {
      if (part[0] === '.') el.classList.add(part.slice(1));
      else el.id = part.slice(1);
    }
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// ----- formatting ----------------------------------------------------------------------------

export function fmtTime(iso, withDate = false) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const t = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  if (!withDate) return t;
  return d.toLocaleDateString([], { month: 'short', day: 'numeric' }) + ' ' + t;
}

export function fmtDuration(ms) {
  if (ms < 0) ms = 0;
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  const hh = String(Math.floor((s % 86400) / 3600)).padStart(2, '0');
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return (d ? `${d}d ` : '') + `${hh}:${mm}:${ss}`;
}

/** Thousands separators on a decimal string, keeping every digit it has. */
export function fmtNum(s) {
  if (s === null || s === undefined || s === '') return '—';
  const str = String(s);
  const m = /^(-?)(\d+)(\.\d+)?$/.exec(str);
  if (!m) return str;
  return m[1] + m[2].replace(/\B(?=(\d{3})+(?!\d))/g, ',') + (m[3] || '');
}

/** Money: 2 decimals shown unless the value has fewer. */
export function fmtMoney(s, cur) {
  if (s === null || s === undefined) return '—';
  return fmtNum(s) + (cur ? ' ' + cur : '');
}

export function signClass(s) {
  const x = parseFloat(s);
  if (!x) return '';
  return x > 0 ? 'up' : 'down';
}

export const PHASES = {
  continuous: 'Continuous trading',
  pre_open: 'Pre-open auction',
  uncross: 'Auction uncross',
  break: 'Break',
  closed: 'Closed',
  halted: 'Halted',
};

export function phaseLabel(p) {
  return PHASES[p] || (p ? p.replace(/_/g, ' ') : 'Unknown');
}

// ----- tables --------------------------------------------------------------------------------

/**
 * table(columns, rows): columns are {label, key | render(row), cls, num}. Returns a scrollable
 * wrapper with a real <table> (headers, captions) so screen readers can follow it.
 */
export function table(columns, rows, opts = {}) {
  const head = h('thead', h('tr', columns.map((c) => h('th', { scope: 'col', class: (c.num ? 'num ' : '') + (c.cls || '') }, c.label))));
  const body = h('tbody');
  if (!rows.length) {
    body.append(h('tr.empty', h('td', { colspan: columns.length }, opts.empty || 'Nothing yet.')));
  }
  for (const r of rows) {
    const tr = h('tr', opts.rowAttrs ? opts.rowAttrs(r) : null);
    for (const c of columns) {
      const v = c.render ? c.render(r) : r[c.key];
      tr.append(h('td', { class: (c.num ? 'num ' : '') + (c.cls || '') }, v === undefined || v === null || v === '' ? '—' : v));
    }
    body.append(tr);
  }
  const t = h('table', opts.caption ? h('caption', opts.caption) : null, head, body);
  return h('div.table-wrap', t);
}

/** A table of objects with their own keys as columns (for records whose shape may grow). */
export function autoTable(rows, opts = {}) {
  const keys = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!keys.includes(k)) keys.push(k);
  const cols = keys.map((k) => ({
    label: k.replace(/_/g, ' '),
    render: (r) => show(r[k]),
    num: rows.some((r) => typeof r[k] === 'number' || /^-?\d+(\.\d+)?$/.test(String(r[k] ?? 'x'))),
  }));
  return table(cols, rows, opts);
}

function show(v) {
  if (v === null || v === undefined) return '—';
  if (Array.isArray(v)) return v.map(show).join(', ');
  if (typeof v === 'object') return Object.entries(v).map(([k, x]) => `${k}: ${show(x)}`).join('; ');
  return String(v);
}

// ----- Markdown (headings, paragraphs, lists, tables, code, emphasis, links) -----------------

function inline(text) {
  const out = [];
  const re = /(`[^`]+`|\*\*[^*]+\*\*|\*[^*]+\*|\[[^\]]+\]\([^)]+\))/g;
  let last = 0;
  let m;
  while ((m = re.exec(text))) {
    if (m.index > last) out.push(text.slice(last, m.index));
    const t = m[0];
    if (t[0] === '`') out.push(h('code', t.slice(1, -1)));
    else if (t.startsWith('**')) out.push(h('strong', t.slice(2, -2)));
    else if (t[0] === '*') out.push(h('em', t.slice(1, -1)));
    else {
      const lm = /^\[([^\]]+)\]\(([^)]+)\)$/.exec(t);
      const href = /^(https?:|\/|#)/.test(lm[2]) ? lm[2] : null;
      out.push(href ? h('a', { href, rel: 'noopener' }, lm[1]) : lm[1]);
    }
    last = m.index + t.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

export function markdown(src) {
  const root = h('div.md');
  const lines = src.replace(/\r/g, '').split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) { i++; continue; }
    let m;
    if ((m = /^(#{1,6})\s+(.*)$/.exec(line))) {
      root.append(h('h' + Math.min(6, m[1].length + 2), inline(m[2])));
      i++;
    } else if (line.startsWith('```')) {
      const buf = [];
      i++;
      while (i < lines.length && !lines[i].startsWith('```')) buf.push(lines[i++]);
      i++;
      root.append(h('pre', h('code', buf.join('\n'))));
    } else if (/^\s*\|/.test(line)) {
      const rows = [];
      while (i < lines.length && /^\s*\|/.test(lines[i])) rows.push(lines[i++]);
      const cells = (r) => r.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim());
      const head = cells(rows[0]);
      const body = rows.slice(/^[\s|:-]+$/.test(rows[1] || '') ? 2 : 1).map(cells);
      root.append(h('div.table-wrap', h('table', h('thead', h('tr', head.map((c) => h('th', inline(c))))),
        h('tbody', body.map((r) => h('tr', r.map((c) => h('td', inline(c)))))))));
    } else if (/^\s*([-*]|\d+\.)\s+/.test(line)) {
      const ordered = /^\s*\d+\./.test(line);
      const list = h(ordered ? 'ol' : 'ul');
      while (i < lines.length && /^\s*([-*]|\d+\.)\s+/.test(lines[i])) {
        let item = lines[i++].replace(/^\s*([-*]|\d+\.)\s+/, '');
        while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !/^\s*([-*]|\d+\.)\s+/.test(lines[i])) item += ' ' + lines[i++].trim();
        list.append(h('li', inline(item)));
      }
      root.append(list);
    } else if (line.startsWith('>')) {
      const buf = [];
      while (i < lines.length && lines[i].startsWith('>')) buf.push(lines[i++].replace(/^>\s?/, ''));
      root.append(h('blockquote', inline(buf.join(' '))));
    } else {
      const buf = [];
      while (i < lines.length && lines[i].trim() && !/^(#|```|\s*\||\s*([-*]|\d+\.)\s|>)/.test(lines[i])) buf.push(lines[i++].trim());
      if (!buf.length) { buf.push(lines[i++]); }
      root.append(h('p', inline(buf.join(' '))));
    }
  }
  return root;
}

// ----- misc ----------------------------------------------------------------------------------

/** Runs f at most once per animation frame. */
export function throttled(f) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; f(); });
  };
}

/** A labelled field. */
export function field(label, input, hint) {
  return h('label.field', h('span.label', label), input, hint ? h('span.hint', hint) : null);
}

/** The chart colours of the current theme (read from CSS variables). */
export function chartColors() {
  const cs = getComputedStyle(document.documentElement);
  const v = (n) => cs.getPropertyValue(n).trim();
  return {
    bg: v('--panel'), text: v('--muted'), grid: v('--grid'), up: v('--up'), down: v('--down'),
    index: v('--index'), accent: v('--accent'), border: v('--border'),
  };
}
