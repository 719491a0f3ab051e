// The hedge planner page: a forecast of monthly token use (typed row by row or pasted as CSV)
// → the strip of futures to buy, the price locked in, margin, scenarios, basis risk and a
// backtest. The same planner as `tokex hedge`, through POST /api/v1/hedge/plan.

import { get, request } from './api.js';
import { h, $, fill, fmtNum, table, autoTable, field } from './ui.js';

let root;
let tiers = null;
const els = {};
let rows = [];

function nextMonths(n) {
  const out = [];
  const d = new Date();
  for (let i = 1; i <= n; i++) {
    const x = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + i, 1));
    out.push(`${x.getUTCFullYear()}-${String(x.getUTCMonth() + 1).padStart(2, '0')}`);
  }
  return out;
}

export function mount(el) {
  root = el;
  rows = nextMonths(3).map((m, i) => ({ month: m, model: 'TPI-F', input_tokens: String(1500000000 + i * 250000000), output_tokens: String(500000000 + i * 50000000), cached_input_tokens: '0' }));
  els.rows = h('div.fc-rows');
  els.csv = h('textarea#forecast-csv', { rows: 5, spellcheck: 'false', placeholder: 'month,model,input_tokens,output_tokens,cached_input_tokens\n2027-01,claude-sonnet-4,900000000,300000000,0' });
  els.ratio = h('input#hedge-ratio', { inputmode: 'decimal', value: '1' });
  els.source = h('select#price-source', h('option', { value: 'exchange' }, "The exchange's prices"), h('option', { value: 'index' }, 'The index level'));
  els.msg = h('p', { role: 'status', 'aria-live': 'polite' });
  els.out = h('div.hedge-out');
  els.models = h('datalist#hedge-names');
  els.tiers = h('div.small.muted');
  fill(root,
    h('div.ph', h('h1', 'Hedge planner'),
      h('p.muted', 'From a forecast of monthly token use, the strip of futures to buy, the price it locks in, the margin it needs, what happens if prices move, how closely the index tracks your model mix, and how well this hedge would have worked on the real price history.')),
    h('section.panel', { 'aria-label': 'Forecast' },
      h('h2.ph', 'Forecast'),
      h('p.small.muted', 'One row per month and model (or tier: TPI-F, TPI-S, TPI-E, TPI-CN, or a product root). Tokens per month; cached input tokens are cache reads, not counted again in input.'),
      els.rows, els.models,
      h('div.row.wrap.gap', h('button.btn.small.ghost', { type: 'button', onclick: () => { const last = rows[rows.length - 1]; rows.push({ ...(last || {}), month: last ? bump(last.month) : nextMonths(1)[0] }); renderRows(); } }, 'Add a row')),
      h('details', h('summary', 'Or paste CSV'), field('CSV rows (added to the rows above)', els.csv)),
      h('div.row.wrap.gap.end',
        field('Hedge ratio (0–2)', els.ratio), field('Futures prices', els.source),
        h('button.btn.primary#hedge-plan', { type: 'button', onclick: plan }, 'Plan the hedge')),
      els.msg, els.tiers),
    els.out);
  renderRows();
}

function bump(m) {
  const [y, mo] = m.split('-').map(Number);
  const d = new Date(Date.UTC(y, mo, 1));
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

function renderRows() {
  const months = nextMonths(12);
  fill(els.rows, h('div.table-wrap', h('table.fc',
    h('thead', h('tr', ['Month', 'Model or tier', 'Input tokens', 'Output tokens', 'Cached input', ''].map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', rows.map((r, i) => h('tr',
      h('td', h('select', { 'aria-label': `Month of row ${i + 1}`, onchange: (e) => { r.month = e.target.value; } },
        [...new Set([...months, r.month])].map((m) => h('option', { value: m, selected: m === r.month }, m)))),
      h('td', h('input', { value: r.model, list: 'hedge-names', 'aria-label': `Model of row ${i + 1}`, oninput: (e) => { r.model = e.target.value; } })),
      ...['input_tokens', 'output_tokens', 'cached_input_tokens'].map((k) => h('td', h('input.num', { value: r[k], inputmode: 'numeric', 'aria-label': `${k.replace(/_/g, ' ')} of row ${i + 1}`, oninput: (e) => { r[k] = e.target.value.replace(/[,_\s]/g, ''); } }))),
      h('td', h('button.btn.small.ghost', { type: 'button', 'aria-label': `Remove row ${i + 1}`, onclick: () => { rows.splice(i, 1); renderRows(); } }, '✕'))))))));
}

export async function show() {
  if (tiers) return;
  try {
    tiers = await get('/api/v1/hedge/tiers');
    const names = new Set();
    for (const t of tiers.tiers) { names.add(t.index); names.add(t.product); for (const m of t.models) names.add(m); }
    fill(els.models, [...names].map((n) => h('option', { value: n })));
    fill(els.tiers, 'Tiers: ', tiers.tiers.map((t, i) => [i ? ' · ' : '', `${t.index} (${t.tier}, ${t.product}, ${t.index_level ?? '—'} ${t.currency}/1M tokens)`]));
  } catch (e) {
    tiers = null;
    fill(els.tiers, h('span.error', `Tiers not loaded: ${e.message}`));
  }
}

export function hide() {}

async function plan() {
  const forecast = [];
  for (const [i, r] of rows.entries()) {
    if (!r.model.trim()) continue;
    for (const k of ['input_tokens', 'output_tokens', 'cached_input_tokens']) {
      if (!/^\d+$/.test(String(r[k] || '0'))) { els.msg.className = 'error'; els.msg.textContent = `Row ${i + 1}: ${k.replace(/_/g, ' ')} is a whole number of tokens.`; return; }
    }
    forecast.push({ month: r.month, model: r.model.trim(), input_tokens: +r.input_tokens || 0, output_tokens: +r.output_tokens || 0, cached_input_tokens: +r.cached_input_tokens || 0 });
  }
  const body = { forecast, price_source: els.source.value };
  if (els.csv.value.trim()) body.forecast_csv = els.csv.value;
  const ratio = els.ratio.value.trim();
  if (!/^\d+(\.\d+)?$/.test(ratio) || +ratio > 2) { els.msg.className = 'error'; els.msg.textContent = 'Hedge ratio: a number from 0 to 2 (1 hedges the whole forecast).'; return; }
  body.hedge_ratio = ratio;
  els.msg.className = 'muted';
  els.msg.textContent = 'Planning… (the first plan loads the index history)';
  try {
    const r = await request('POST', '/api/v1/hedge/plan', { body });
    els.msg.textContent = '';
    render(r);
  } catch (e) {
    els.msg.className = 'error pre';
    els.msg.textContent = `${e.message}${e.code ? ` (${e.code})` : ''}`;
  }
}

function money(x, c) {
  const v = parseFloat(x);
  if (Number.isNaN(v)) return '—';
  return `${fmtNum(v.toFixed(2))}${c ? ' ' + c : ''}`;
}

function num(x, dp = 2) {
  return x === null || x === undefined ? '—' : fmtNum(Number(x).toFixed(dp));
}

function pctOf(x) {
  return x === null || x === undefined ? '—' : `${(Number(x) * 100).toFixed(1)}%`;
}

function kv(pairs) {
  return h('dl.kv.small.hedge-kv', pairs.filter(Boolean).flatMap(([k, v]) => [h('dt', k), h('dd', v)]));
}

function basisBlock(b) {
  return h('div.block',
    h('h3', `${b.index_id} · ${b.product}`),
    h('p', b.summary),
    kv([
      ['Your cost change', b.your_change_pct === null ? '—' : `${num(b.your_change_pct, 1)}%`],
      ['Index change', b.index_change_pct === null ? '—' : `${num(b.index_change_pct, 1)}%`],
      ['Correlation', num(b.correlation, 3)],
      ['Beta', num(b.beta, 3)],
      ['Tracking error (monthly)', b.tracking_error_pct === null ? '—' : `${num(b.tracking_error_pct, 2)}%`],
    ]),
    b.months && b.months.length ? h('details', h('summary.small', `Month by month (${b.months.length})`), autoTable(b.months.map(flatten))) : null);
}

function backtestBlock(b) {
  return h('div.block',
    h('h3', `${b.index_id} · ${b.product}`),
    h('p', b.summary),
    kv([
      ['Hedge effectiveness', pctOf(b.effectiveness)],
      ['Bought', b.hedge_month ? `${b.contracts_per_month} a month at ${b.entry_price} (end of ${b.hedge_month})` : '—'],
      ['Monthly cost std. dev., unhedged', num(b.unhedged_std)],
      ['… hedged', num(b.hedged_std)],
      ['Minimum-variance hedge ratio', num(b.min_variance_ratio, 3)],
      ['Effectiveness at that ratio', pctOf(b.effectiveness_at_min_variance)],
    ]),
    b.months && b.months.length ? h('details', h('summary.small', `Month by month (${b.months.length})`), table([
      { label: 'Month', key: 'month' },
      { label: 'Settlement', key: 'settlement', num: true },
      { label: 'Unhedged cost', render: (m) => money(m.unhedged), num: true },
      { label: 'Hedge P&L', render: (m) => h('span', { class: parseFloat(m.hedge_pnl) >= 0 ? 'up' : 'down' }, money(m.hedge_pnl)), num: true },
      { label: 'Hedged cost', render: (m) => money(m.hedged), num: true },
    ], b.months, { caption: `${b.currency} per month` })) : null);
}

function render(r) {
  const sections = [];
  sections.push(h('section.panel', { 'aria-label': 'The strip' },
    h('h2.ph', 'The strip to buy'),
    h('p.small.muted', `As of ${r.as_of}; hedge ratio ${r.hedge_ratio}; futures prices: ${r.price_source}.`),
    table([
      { label: 'Month', key: 'month' },
      { label: 'Product', key: 'product' },
      { label: 'Contracts', render: (l) => h('strong', String(l.contracts)), num: true },
      { label: 'Exact', key: 'contracts_exact', num: true },
      { label: 'Expected cost', render: (l) => money(l.expected_cost, l.currency), num: true },
      { label: 'Index level', key: 'index_level', num: true },
      { label: 'Futures price (locked)', key: 'futures_price', num: true },
      { label: 'Cost once hedged', render: (l) => money(l.locked_cost, l.currency), num: true },
      { label: 'Notional', render: (l) => money(l.notional, l.currency), num: true },
      { label: 'Initial margin', render: (l) => money(l.initial_margin, l.currency), num: true },
      { label: '', render: (l) => (l.contracts > 0 ? h('a.btn.small.ghost', { href: `#/market/${l.product}-${l.month}?side=buy&qty=${l.contracts}` }, 'Trade') : '') },
    ], r.lines, { caption: 'Contracts per month (rounded to whole contracts)' }),
    h('ul.small.muted', r.lines.filter((l) => l.rounding).map((l) => h('li', `${l.month} ${l.product}: ${l.rounding}`))),
    h('h3', 'Totals'),
    table([
      { label: 'Currency', key: 'currency' },
      { label: 'Expected cost', render: (t) => money(t.expected_cost), num: true },
      { label: 'Cost once hedged', render: (t) => money(t.locked_cost), num: true },
      { label: 'Contracts', key: 'contracts', num: true },
      { label: 'Notional', render: (t) => money(t.notional), num: true },
      { label: 'Initial margin', render: (t) => money(t.initial_margin), num: true },
    ], r.totals)));
  sections.push(h('section.panel', { 'aria-label': 'Scenarios' },
    h('h2.ph', 'Scenarios at settlement'),
    table([
      { label: 'Currency', key: 'currency' },
      { label: 'Index move', render: (s) => `${parseFloat(s.index_move_pct) > 0 ? '+' : ''}${s.index_move_pct}%`, num: true },
      { label: 'Unhedged cost', render: (s) => money(s.unhedged_cost), num: true },
      { label: 'Hedge P&L', render: (s) => h('span', { class: parseFloat(s.hedge_pnl) >= 0 ? 'up' : 'down' }, money(s.hedge_pnl)), num: true },
      { label: 'Net cost', render: (s) => money(s.net_cost), num: true },
    ], r.scenarios, { caption: 'The index at settlement moved by the percentage, your prices by the same' })));
  sections.push(h('section.panel', { 'aria-label': 'Mapping, basis risk and backtest' },
    h('h2.ph', 'How the forecast maps'),
    table([{ label: 'Name', key: 'name' }, { label: 'Index', key: 'index_id' }, { label: 'How', key: 'how' }], r.mappings),
    h('h2.ph.gap-top', 'Basis risk'),
    r.basis.length ? r.basis.map(basisBlock) : h('p.muted.small', 'No model rows: a tier forecast is the index itself.'),
    h('h2.ph.gap-top', 'Backtest on the real price history'),
    r.backtest.length ? r.backtest.map(backtestBlock) : h('p.muted.small', 'Not enough history for a backtest.'),
    r.notes.length ? [h('h3', 'Notes'), h('ul.small', r.notes.map((n) => h('li', n)))] : null));
  fill(els.out, sections);
  els.out.querySelector('h2').scrollIntoView({ block: 'nearest' });
}

function flatten(o) {
  const out = {};
  for (const [k, v] of Object.entries(o)) {
    if (Array.isArray(v)) out[k] = v.length > 6 ? `${v.length} values` : v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : x)).join(', ');
    else if (v && typeof v === 'object') for (const [k2, v2] of Object.entries(v)) out[`${k} ${k2}`] = typeof v2 === 'object' ? JSON.stringify(v2) : v2;
    else out[k] = v;
  }
  return out;
}
