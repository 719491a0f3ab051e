// The index view: each index's level and history chart, the constituents of a fixing with
// prices and weights, exclusions with reasons, the full fixing audit for any day, and the
// methodology page generated from the definition.

import { get, request } from './api.js';
import { h, $, fill, fmtNum, table, markdown, chartColors } from './ui.js';
import { createChart, LineSeries } from '../vendor/lightweight-charts-5.3.0.standalone.production.mjs';

let app;
let root;
let list = [];
let current = null;
let fixings = [];
let chart = null;
let line = null;
const els = {};

export function mount(el, a) {
  app = a;
  root = el;
  els.tabs = h('div.seg.index-tabs', { role: 'group', 'aria-label': 'Index' });
  els.head = h('div.index-head');
  els.chart = h('div.chart.index-chart', { role: 'img', 'aria-label': 'Index history chart' });
  els.date = h('input#audit-date', { type: 'date', 'aria-label': 'Fixing date', onchange: () => loadAudit(els.date.value) });
  els.audit = h('div.audit');
  els.method = h('div.method');
  fill(root,
    h('div.ph.row.wrap', h('h1', 'Indexes'), els.tabs),
    els.head,
    h('section.panel', { 'aria-label': 'History' }, h('div.ph.row', h('h2', 'History'), h('span.muted.small', 'click a day to audit its fixing')), els.chart),
    h('section.panel', { 'aria-label': 'Fixing audit' },
      h('div.ph.row.wrap', h('h2', 'Fixing'), h('label.inline', 'Day ', els.date)), els.audit),
    h('section.panel', { 'aria-label': 'Methodology' }, h('details#methodology', h('summary', h('h2.inline', 'Methodology')), els.method)));
  const c = chartColors();
  chart = createChart(els.chart, {
    autoSize: true,
    layout: { background: { color: 'transparent' }, textColor: c.text, fontFamily: 'inherit' },
    grid: { vertLines: { color: c.grid }, horzLines: { color: c.grid } },
    rightPriceScale: { borderColor: c.border },
    timeScale: { borderColor: c.border },
  });
  line = chart.addSeries(LineSeries, { color: c.index, lineWidth: 2, priceLineVisible: false });
  chart.subscribeClick((p) => {
    if (!p || !p.time) return;
    const d = typeof p.time === 'string' ? p.time : `${p.time.year}-${String(p.time.month).padStart(2, '0')}-${String(p.time.day).padStart(2, '0')}`;
    els.date.value = d;
    loadAudit(d);
  });
  app.onTheme(() => {
    const k = chartColors();
    chart.applyOptions({ layout: { textColor: k.text }, grid: { vertLines: { color: k.grid }, horzLines: { color: k.grid } } });
    line.applyOptions({ color: k.index });
  });
  app.onReconnect(() => { if (current) select(current.index, true); });
}

export async function show(params) {
  try {
    if (!list.length) {
      // Token indexes first, in tier order; then the GPU indexes.
      const rank = (d) => (d.kind === 'gpu' ? 10 : ['TPI-F', 'TPI-S', 'TPI-E', 'TPI-CN'].indexOf(d.index) + 1 || 5);
      list = (await get('/api/v1/indexes')).indexes.sort((a, b) => rank(a) - rank(b) || a.index.localeCompare(b.index));
    }
  } catch (e) {
    fill(els.head, h('p.error', `The exchange cannot be reached: ${e.message}`));
    setTimeout(() => show(params), 3000);
    return;
  }
  fill(els.tabs, list.map((d) => h('a', { href: `#/indexes/${d.index}`, 'aria-current': current && current.index === d.index ? 'page' : null }, d.index)));
  const want = params[0] || (current && current.index) || (list[0] && list[0].index);
  if (want && (!current || current.index !== want)) select(want);
  else if (current) markTab();
}

function markTab() {
  for (const a of els.tabs.children) {
    if (a.textContent === current.index) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
}

async function select(id, refresh = false) {
  let d;
  try {
    d = await get(`/api/v1/indexes/${id}`);
  } catch (e) {
    fill(els.head, h('p.error', e.message));
    return;
  }
  current = d;
  markTab();
  const latest = d.latest || {};
  fill(els.head, h('div.index-card',
    h('div', h('h2', `${d.index} — ${d.name}`), h('p.muted', d.description)),
    h('div.level', h('span.big', latest.value ? fmtNum(latest.value) : '—'), h('span.muted', ` ${d.unit}`),
      h('div.muted.small', latest.date ? `fixing of ${latest.date} at ${d.fixing_time_utc} UTC` : 'no fixing yet')),
    h('dl.kv.small',
      h('dt', 'Kind'), h('dd', d.kind === 'gpu' ? 'GPU compute' : 'AI tokens'),
      h('dt', 'Currency'), h('dd', d.currency),
      h('dt', 'Base date'), h('dd', d.base_date),
      h('dt', 'Method'), h('dd', `${d.method_version} (definition v${d.definition_version})`))));
  try {
    fixings = (await get(`/api/v1/indexes/${id}/fixings`, { limit: 10000 })).fixings;
  } catch { fixings = []; }
  line.setData(fixings.filter((f) => f.value !== null).map((f) => ({ time: f.date, value: +f.value })));
  chart.timeScale().fitContent();
  if (!refresh || !els.date.value) {
    const last = fixings[fixings.length - 1];
    if (last) {
      els.date.value = last.date;
      els.date.min = fixings[0].date;
      els.date.max = last.date;
    }
  }
  if (els.date.value) loadAudit(els.date.value);
  loadMethodology(id);
}

async function loadMethodology(id) {
  try {
    const md = await request('GET', `/api/v1/indexes/${id}/methodology`);
    fill(els.method, markdown(String(md)));
  } catch (e) {
    fill(els.method, h('p.error', e.message));
  }
}

const REASONS = {
  alias: 'alias name (re-points to new models)', removed: 'removed by the provider', not_yet_eligible: 'listed too recently',
  no_price_at_review: 'no price at the review', zero_price: 'zero price (a promotion)', withdrawn: 'price withdrawn',
  stale: 'stale quote', outlier: 'outlier (far from the median)', carry_forward_expired: 'carried too long: left the basket',
  unknown_lease_type: 'unknown lease type', trimmed: 'trimmed tail',
};

function lease(l) {
  if (typeof l === 'string') return l.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase();
  const [k, v] = Object.entries(l)[0] || ['', ''];
  return `${k.toLowerCase()} ${v} month${v === 1 ? '' : 's'}`;
}

function modelName(m) {
  return typeof m === 'string' ? m : `${m.provider}/${m.model}`;
}

function pct(x) {
  return x === null || x === undefined ? '—' : `${(parseFloat(x) * 100).toFixed(2)}%`;
}

async function loadAudit(date) {
  if (!current || !date) return;
  const id = current.index;
  fill(els.audit, h('p.muted', `Loading the fixing of ${date}… (the first one recomputes the index history)`));
  let f;
  try {
    f = await get(`/api/v1/indexes/${id}/fixings/${date}`);
  } catch (e) {
    fill(els.audit, h('p.error', e.message));
    return;
  }
  if (!current || current.index !== id) return;
  const a = f.audit;
  const state = (c) => (typeof c.state === 'string' ? c.state : Object.keys(c.state)[0] + (c.state.carried ? ` since ${c.state.carried.since}` : ''));
  const parts = [
    h('div.row.wrap.gap',
      h('span.big', f.value ?? '—'), h('span.muted', `${f.currency} · ${f.method} · fixed ${new Date(f.fixing_time).toUTCString()}`),
      h('span.pill', { class: `pill ${f.status === 'ok' ? 'ok' : 'warn'}` }, f.status === 'ok' ? 'OK' : 'Insufficient data — previous value carried'),
      f.recorded_by_exchange !== null && f.recorded_by_exchange !== undefined ? h('span.muted.small', `recorded by the exchange: ${f.recorded_by_exchange}`) : null),
    f.values && f.values.length > 1 ? h('p.small.muted', 'Published methods: ' + f.values.map((v) => `${v.method} ${v.value ?? '—'}`).join(' · ')) : null,
  ];
  if (a.basket) {
    parts.push(h('p.small.muted', `Basket from ${a.basket.rebalance_date} (reviewed ${new Date(a.basket.review_time).toUTCString()}); weights: ${a.basket.weights_source}; caps ${pct(a.basket.model_cap)} per model, ${pct(a.basket.provider_cap)} per provider; blend ${a.basket.blend_input}:${a.basket.blend_output}.`));
  }
  if (a.constituents && a.constituents.length) {
    const rows = a.constituents.slice().sort((x, y) => parseFloat(y.weight) - parseFloat(x.weight));
    parts.push(h('h3', `Constituents (${rows.length})`), table([
      { label: 'Model', render: (c) => h('code', modelName(c.model)) },
      { label: 'Weight', render: (c) => pct(c.weight), num: true },
      { label: 'Usage share', render: (c) => fmtNum(String(c.share)), num: true },
      { label: 'Price', render: (c) => c.price ?? '—', num: true },
      { label: 'Reference price', key: 'reference_price', num: true },
      { label: 'State', render: state },
      { label: 'Sources', render: (c) => c.quotes.map((q) => `${q.source} ${q.input}/${q.output}${q.used ? '' : ' (excluded)'}`).join('; ') || '—' },
    ], rows, { caption: `Constituents of ${id} on ${date}: blended price per 1M tokens (input/output list prices per source)` }));
  }
  if (a.gpu) {
    parts.push(h('h3', `Observations kept (${a.gpu.kept.length} of ${a.gpu.observations_in_window}; ${a.gpu.trim_count_each_end} trimmed at each end)`),
      table([
        { label: 'Provider', key: 'provider' }, { label: 'Lease', render: (q) => lease(q.lease) },
        { label: 'Price', key: 'price', num: true }, { label: 'Factor', key: 'factor', num: true },
        { label: 'Normalised', key: 'normalised', num: true }, { label: 'GPUs', key: 'gpu_count', num: true },
        { label: 'Volume weight', render: (q) => fmtNum(String(q.weight)), num: true }, { label: 'Origin', key: 'origin' },
      ], a.gpu.kept.slice(0, 200), { caption: 'GPU observations (on-demand equivalent)' }));
  }
  parts.push(h('h3', `Exclusions (${a.exclusions.length})`), table([
    { label: 'Subject', render: (x) => h('code', x.subject) },
    { label: 'Source', key: 'source' },
    { label: 'Reason', render: (x) => REASONS[x.reason] || x.reason },
    { label: 'Detail', key: 'detail' },
  ], a.exclusions, { empty: 'Nothing excluded.', caption: 'Observations and models left out, with reasons' }));
  const extra = [];
  if (a.fx) extra.push(h('dt', 'FX'), h('dd', `${a.fx.pair} ${a.fx.rate} (${a.fx.label})`));
  if (a.chain) extra.push(h('dt', 'Chain link'), h('dd', `${a.chain.link_date} at ${a.chain.link_level}`));
  if (a.carried_from) extra.push(h('dt', 'Carried from'), h('dd', a.carried_from));
  extra.push(h('dt', 'Method version'), h('dd', `${a.method_version} · definition v${a.definition_version}`));
  extra.push(h('dt', 'Definition SHA-256'), h('dd', h('code.hash', a.definition_sha256)));
  extra.push(h('dt', 'Record hash'), h('dd', h('code.hash', a.hash)));
  parts.push(h('h3', 'Audit'), h('dl.kv.small', extra));
  if (a.notes && a.notes.length) parts.push(h('ul.small', a.notes.map((n) => h('li', n))));
  fill(els.audit, parts);
}

export function hide() {}
