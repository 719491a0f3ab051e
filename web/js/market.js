// The market view: product and month, session state and countdown, daily statistics, the
// order-book ladder, the candlestick chart with the index overlaid, the trades tape — and the
// trading panels (trading.js) beside them.

import { get } from './api.js';
import { h, $, fill, fmtNum, fmtTime, fmtDuration, phaseLabel, throttled, chartColors, signClass } from './ui.js';
import { createTrading } from './trading.js';
import {
  createChart, CandlestickSeries, LineSeries, HistogramSeries, createSeriesMarkers, LineStyle,
} from '../vendor/lightweight-charts-5.3.0.standalone.production.mjs';

const LADDER_LEVELS = 10;
const TAPE_ROWS = 40;
const INTERVALS = ['1m', '5m', '1h', '1d'];

let app;
let root;
let products = [];
let instruments = [];
let inst = null; // the selected instrument (from /api/v1/instruments)
let trading;
const els = {};

// Live state of the selected instrument.
const book = { bids: new Map(), asks: new Map(), ready: false };
let tape = [];
let stats = null;
let schedule = null;
let interval = localStorage.getItem('tokex.interval') || '1m';
let channels = [];

// ----- mount ---------------------------------------------------------------------------------

export function mount(el, a) {
  app = a;
  root = el;
  els.product = h('select#product', { 'aria-label': 'Product', onchange: () => pickProduct(els.product.value) });
  els.month = h('select#month', { 'aria-label': 'Contract month', onchange: () => app.navigate('#/market/' + els.month.value) });
  els.last = h('div.last', { 'aria-live': 'off' }, '—');
  els.change = h('div.change', '');
  els.phase = h('span.pill.phase', '—');
  els.countdown = h('span.countdown.muted', '');
  els.limits = h('span.limits.muted', '');
  els.stats = h('dl.stats');
  els.spec = h('p.spec.muted.small', '');

  els.ladder = h('div.ladder', { role: 'group', 'aria-label': 'Order book: choose a price to put it in the order ticket' });
  els.tape = h('div.tape');
  els.chart = h('div.chart', { role: 'img', 'aria-label': 'Price chart' });
  els.intervals = h('div.seg', { role: 'group', 'aria-label': 'Bar interval' },
    INTERVALS.map((iv) => h('button', {
      type: 'button', dataset: { iv }, 'aria-pressed': String(iv === interval),
      onclick: () => setInterval_(iv),
    }, iv)));
  els.legend = h('div.legend.small');

  const ticket = h('section.panel.ticket', { 'aria-label': 'Order ticket' });
  const summary = h('section.panel.summary', { 'aria-label': 'Account summary' });
  const account = h('section.panel.account', { 'aria-label': 'Orders, fills, positions and balances' });

  fill(root,
    h('div.instbar',
      h('div.pick', els.product, els.month),
      h('div.quote', els.last, els.change),
      h('div.session', els.phase, els.countdown, els.limits),
      els.stats),
    els.spec,
    // Three independent columns (so a tall panel in one never opens a gap in another); on a
    // narrow screen the columns dissolve and the panels stack in the order set in style.css.
    h('div.market-grid',
      h('div.col.col-left',
        h('section.panel.book', { 'aria-label': 'Order book' }, h('h2.ph', 'Order book'), els.ladder),
        h('section.panel.trades', { 'aria-label': 'Trades' }, h('h2.ph', 'Trades'), els.tape)),
      h('div.col.col-mid',
        h('section.panel.chartp', { 'aria-label': 'Chart' },
          h('div.ph.row', h('h2', 'Chart'), els.legend, els.intervals), els.chart),
        account),
      h('div.col.col-right', ticket, summary)));

  trading = createTrading(app, { ticket, summary, account }, {
    instrument: () => inst,
    instruments: () => instruments,
    onOrders: () => renderLadder(),
    select: (symbol) => app.navigate('#/market/' + symbol),
  });

  initChart();
  app.onTheme(() => themeChart());
  app.onReconnect(() => { loadReference().then(() => { if (inst) { refreshInstrument(); loadIndex(); } }); });
  setInterval(tick, 1000);
}

export async function show(params) {
  if (!products.length) {
    try { await loadReference(); } catch (e) {
      fill(els.ladder, h('p.error', `The exchange cannot be reached: ${e.message}`));
      setTimeout(() => show(params), 3000);
      return;
    }
  }
  const wanted = params[0] || (inst && inst.symbol) || localStorage.getItem('tokex.symbol');
  let target = instruments.find((i) => i.symbol === wanted) || instruments[0];
  if (!target) return;
  if (!inst || inst.symbol !== target.symbol) select(target);
  // Query string after the symbol (e.g. from the hedge page): ?side=buy&qty=3
  const q = new URLSearchParams(location.hash.split('?')[1] || '');
  if (q.get('qty') || q.get('side')) trading.prefill({ side: q.get('side'), qty: q.get('qty') });
}

export function hide() {}

async function loadReference() {
  const [p, i] = await Promise.all([get('/api/v1/products'), get('/api/v1/instruments')]);
  products = p.products;
  instruments = i.instruments;
  fill(els.product, products.map((x) => h('option', { value: x.root }, `${x.root} — ${x.name.replace(/ futures$/i, '')}`)));
  if (inst) {
    const again = instruments.find((x) => x.symbol === inst.symbol);
    if (again) inst = again;
    els.product.value = inst.product;
    fillMonths(inst.product);
  }
}

function fillMonths(root_) {
  const months = instruments.filter((i) => i.product === root_);
  fill(els.month, months.map((i) => h('option', { value: i.symbol }, monthLabel(i.contract_month))));
  if (inst && inst.product === root_) els.month.value = inst.symbol;
}

function monthLabel(ym) {
  const [y, m] = ym.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, 1)).toLocaleDateString([], { month: 'short', year: 'numeric', timeZone: 'UTC' });
}

function pickProduct(root_) {
  const first = instruments.find((i) => i.product === root_);
  if (first) app.navigate('#/market/' + first.symbol);
}

// ----- selecting an instrument ---------------------------------------------------------------

function select(i) {
  inst = i;
  localStorage.setItem('tokex.symbol', i.symbol);
  els.product.value = i.product;
  fillMonths(i.product);
  const product = products.find((p) => p.root === i.product) || {};
  els.spec.textContent = `${product.name || i.product} · ${i.symbol} · ${product.contract_size ? fmtNum(product.contract_size) + ' × ' + (product.contract_unit || '') : ''} · quoted in ${product.quote_unit || i.currency} · tick ${i.tick_size} = ${i.tick_value} ${i.currency} · last trading day ${i.last_trading_day} · underlying ${i.underlying}`;
  for (const c of channels) app.feed.unsubscribe(c);
  book.bids.clear(); book.asks.clear(); book.ready = false;
  tape = []; stats = null; schedule = null;
  renderLadder(); renderTape(); renderStats();
  const s = i.symbol;
  channels = [`book:${s}`, `trades:${s}`, `stats:${s}`, `bars:${s}:${interval}`, `index:${i.underlying}`];
  app.feed.subscribe(`book:${s}`, onBook);
  app.feed.subscribe(`trades:${s}`, onTrades);
  app.feed.subscribe(`stats:${s}`, onStats);
  app.feed.subscribe(`bars:${s}:${interval}`, onBars);
  app.feed.subscribe(`index:${i.underlying}`, onIndex);
  trading.setInstrument(i);
  resetChart();
  loadIndex();
  loadSchedule();
}

function refreshInstrument() {
  loadSchedule();
}

// ----- order book ----------------------------------------------------------------------------

function onBook(m) {
  if (m.type === 'snapshot') {
    book.bids.clear(); book.asks.clear();
    for (const [p, q, n] of m.data.bids) book.bids.set(p, [q, n]);
    for (const [p, q, n] of m.data.asks) book.asks.set(p, [q, n]);
    book.ready = true;
  } else if (m.type === 'update') {
    for (const [side, map] of [['bids', book.bids], ['asks', book.asks]]) {
      for (const [p, q, n] of m.data[side] || []) {
        if (q === '0') map.delete(p); else map.set(p, [q, n]);
      }
    }
  }
  ladderSoon();
}

const ladderSoon = throttled(() => renderLadder());

function sortedLevels(map, desc) {
  const arr = [...map.entries()].map(([p, v]) => [p, v[0], v[1], parseFloat(p)]);
  arr.sort((a, b) => (desc ? b[3] - a[3] : a[3] - b[3]));
  return arr;
}

// The ladder's rows are built once and updated in place, so a price stays clickable while the
// book moves under the pointer.
let ladderRows = null;

function buildLadder() {
  const mk = (side) => {
    const r = { side };
    r.q = h('span.q', { class: `q ${side}q` });
    r.px = h('button.px', { type: 'button', onclick: () => { if (r.price) trading.setPrice(r.price, side === 'ask' ? 'buy' : 'sell'); } });
    r.other = h('span.q');
    r.mine = h('span.mine');
    r.el = side === 'bid' ? h('div.lrow', { class: 'lrow bid' }, r.q, r.px, r.other, r.mine) : h('div.lrow', { class: 'lrow ask' }, r.other, r.px, r.q, r.mine);
    return r;
  };
  ladderRows = {
    asks: Array.from({ length: LADDER_LEVELS }, () => mk('ask')),
    bids: Array.from({ length: LADDER_LEVELS }, () => mk('bid')),
    spread: h('div.spread.muted.small'),
  };
  fill(els.ladder,
    h('div.lrow.lhead', h('span', 'Bids'), h('span', 'Price'), h('span', 'Asks'), h('span', { title: 'your working quantity' }, 'Mine')),
    h('div.lside.asks', ladderRows.asks.slice().reverse().map((r) => r.el)),
    ladderRows.spread,
    h('div.lside.bids', ladderRows.bids.map((r) => r.el)));
}

function setRow(r, level, max, mine) {
  if (!level) {
    // Kept in place (blank) so the ladder does not jump as levels come and go.
    r.el.classList.add('blank');
    r.price = null;
    r.px.textContent = '';
    delete r.px.dataset.price;
    r.px.tabIndex = -1;
    r.q.textContent = '';
    r.mine.textContent = '';
    return;
  }
  const [p, q, n] = level;
  r.el.classList.remove('blank');
  r.px.tabIndex = 0;
  r.price = p;
  if (r.px.textContent !== p) r.px.textContent = p;
  r.px.dataset.price = p;
  r.px.title = `${n} order${n === 1 ? '' : 's'} — put ${p} in the ticket`;
  r.px.setAttribute('aria-label', `${r.side === 'bid' ? 'Bid' : 'Ask'} ${p}, ${q} contracts: put this price in the ticket`);
  r.q.textContent = fmtNum(q);
  r.q.style.setProperty('--w', `${Math.round((+q / max) * 100)}%`);
  const my = mine.get(`${r.side}:${p}`);
  r.mine.textContent = my ? fmtNum(String(my)) : '';
}

function renderLadder() {
  if (!els.ladder) return;
  if (!book.ready) {
    ladderRows = null;
    fill(els.ladder, h('p.muted.pad', inst ? 'Loading the book…' : ''));
    return;
  }
  if (!ladderRows) buildLadder();
  const bids = sortedLevels(book.bids, true).slice(0, LADDER_LEVELS);
  const asks = sortedLevels(book.asks, false).slice(0, LADDER_LEVELS);
  const max = Math.max(1, ...bids.map((l) => +l[1]), ...asks.map((l) => +l[1]));
  const mine = trading ? trading.myOrdersAt(inst && inst.symbol) : new Map();
  ladderRows.bids.forEach((r, k) => setRow(r, bids[k], max, mine));
  ladderRows.asks.forEach((r, k) => setRow(r, asks[k], max, mine));
  const bestBid = bids[0];
  const bestAsk = asks[0];
  let mid;
  if (bestBid && bestAsk) {
    const dec = (inst.tick_size.split('.')[1] || '').length;
    mid = `Spread ${(bestAsk[3] - bestBid[3]).toFixed(dec)}`;
  } else if (!bestBid && !bestAsk) {
    mid = 'The book is empty';
  } else {
    mid = bestBid ? 'No offers' : 'No bids';
  }
  ladderRows.spread.textContent = mid;
}

// ----- trades tape ---------------------------------------------------------------------------

function onTrades(m) {
  if (m.type === 'snapshot') tape = m.data.trades.slice().reverse();
  else if (m.type === 'update' && m.data) {
    tape.unshift(m.data);
    if (tape.length > 200) tape.length = 200;
  }
  tapeSoon();
}

const tapeSoon = throttled(() => renderTape());

function renderTape() {
  if (!tape.length) {
    fill(els.tape, h('p.muted.pad', 'No trades yet.'));
    return;
  }
  fill(els.tape, h('table.tape-t',
    h('thead', h('tr', h('th', { scope: 'col' }, 'Time'), h('th.num', { scope: 'col' }, 'Price'), h('th.num', { scope: 'col' }, 'Qty'))),
    h('tbody', tape.slice(0, TAPE_ROWS).map((t) => h('tr', { class: t.aggressor === 'buy' ? 'up' : t.aggressor === 'sell' ? 'down' : '' },
      h('td', fmtTime(t.time)), h('td.num', t.price), h('td.num', fmtNum(t.qty)))))));
}

// ----- statistics, session, countdown --------------------------------------------------------

function onStats(m) {
  if (m.type === 'snapshot' || m.type === 'update') {
    stats = m.data;
    renderStats();
    updatePriceLines();
    trading.setStats(stats);
  }
}

function renderStats() {
  if (!stats) {
    els.last.textContent = '—';
    els.change.textContent = '';
    fill(els.stats);
    return;
  }
  const last = stats.last || stats.close;
  els.last.textContent = last || stats.settlement || '—';
  const ref = parseFloat(stats.settlement);
  if (last && ref) {
    const d = parseFloat(last) - ref;
    const dec = (inst.tick_size.split('.')[1] || '').length;
    els.change.textContent = `${d >= 0 ? '+' : ''}${d.toFixed(dec)} (${d >= 0 ? '+' : ''}${((d / ref) * 100).toFixed(2)}%)`;
    els.change.className = 'change ' + signClass(d);
  } else {
    els.change.textContent = 'no trade today';
    els.change.className = 'change muted';
  }
  els.phase.textContent = phaseLabel(stats.phase) + (stats.limit_locked ? ' · limit locked' : '');
  els.phase.dataset.phase = stats.phase || '';
  els.limits.textContent = `Limits ${stats.lower_limit} – ${stats.upper_limit}`;
  const item = (k, v, title) => [h('dt', { title }, k), h('dd', v ?? '—')];
  fill(els.stats,
    item('Open', stats.open), item('High', stats.high), item('Low', stats.low),
    item('Settle', stats.settlement, 'previous daily settlement price (the reference of the daily limits)'),
    item('VWAP', stats.vwap), item('Volume', fmtNum(stats.volume)), item('Trades', fmtNum(String(stats.trades))),
    item('Open int.', fmtNum(stats.open_interest)));
  tick();
}

async function loadSchedule() {
  if (!inst) return;
  try {
    schedule = await get(`/api/v1/products/${inst.product}/schedule`);
  } catch {
    schedule = null;
  }
  tick();
}

function tick() {
  if (!inst || !els.countdown) return;
  const now = Date.now();
  const parts = [];
  if (stats && stats.phase === 'pre_open' && stats.auction_until) {
    parts.push(`Auction uncrosses in ${fmtDuration(Date.parse(stats.auction_until) - now)}`);
  }
  if (schedule) {
    const future = schedule.events.filter((e) => Date.parse(e.time) > now);
    if (future.length < schedule.events.length && (!future.length || Date.parse(schedule.events[0].time) < now - 1000)) {
      schedule.events = future;
      if (!future.length || future.length < 3) loadSchedule();
    }
    const auction = future.find((e) => e.kind === 'phase' && e.to === 'pre_open');
    const settle = future.find((e) => e.kind === 'settlement');
    const next = future.find((e) => e.kind === 'phase');
    if (auction) parts.push(`Auction in ${fmtDuration(Date.parse(auction.time) - now)}`);
    else if (next && !(stats && stats.phase === 'pre_open')) parts.push(`${phaseLabel(next.to)} in ${fmtDuration(Date.parse(next.time) - now)}`);
    if (settle) parts.push(`Settlement in ${fmtDuration(Date.parse(settle.time) - now)}`);
  }
  if (stats && stats.phase === 'halted') parts.unshift('Trading halted by the operator');
  els.countdown.textContent = parts.join(' · ');
  els.countdown.title = schedule ? `Calendar ${schedule.calendar} (${schedule.time_zone})` : '';
}

// ----- chart ---------------------------------------------------------------------------------

let chart = null;
let candles = null;
let volume = null;
let indexLine = null;
let markers = null;
let priceLines = [];
let bars = new Map(); // time (s) → bar
let fixings = []; // [{date, value}]
let indicative = null;

function initChart() {
  const c = chartColors();
  chart = createChart(els.chart, {
    autoSize: true,
    layout: { background: { color: 'transparent' }, textColor: c.text, fontFamily: 'inherit', attributionLogo: true },
    grid: { vertLines: { color: c.grid }, horzLines: { color: c.grid } },
    rightPriceScale: { borderColor: c.border },
    timeScale: { borderColor: c.border, timeVisible: true, secondsVisible: false, rightOffset: 4 },
    crosshair: { mode: 0 },
    localization: { timeFormatter: (t) => new Date(t * 1000).toLocaleString([], { hour12: false }) },
  });
  chart.timeScale().applyOptions({
    tickMarkFormatter: (t, type) => {
      const d = new Date(t * 1000);
      if (type <= 2) return d.toLocaleDateString([], { month: 'short', day: 'numeric' });
      return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });
    },
  });
  candles = chart.addSeries(CandlestickSeries, {
    upColor: c.up, downColor: c.down, borderUpColor: c.up, borderDownColor: c.down,
    wickUpColor: c.up, wickDownColor: c.down, title: '',
  });
  volume = chart.addSeries(HistogramSeries, {
    priceScaleId: 'vol', priceFormat: { type: 'volume' }, lastValueVisible: false, priceLineVisible: false,
  });
  chart.priceScale('vol').applyOptions({ scaleMargins: { top: 0.82, bottom: 0 } });
  indexLine = chart.addSeries(LineSeries, {
    color: c.index, lineWidth: 2, lineType: 1, priceLineVisible: false, lastValueVisible: true,
    crosshairMarkerVisible: false, title: '',
  });
  markers = createSeriesMarkers(candles, []);
  chart.subscribeCrosshairMove((p) => legend(p));
}

function themeChart() {
  if (!chart) return;
  const c = chartColors();
  chart.applyOptions({
    layout: { textColor: c.text },
    grid: { vertLines: { color: c.grid }, horzLines: { color: c.grid } },
    rightPriceScale: { borderColor: c.border },
    timeScale: { borderColor: c.border },
  });
  candles.applyOptions({ upColor: c.up, downColor: c.down, borderUpColor: c.up, borderDownColor: c.down, wickUpColor: c.up, wickDownColor: c.down });
  indexLine.applyOptions({ color: c.index });
  redrawBars();
  updatePriceLines();
}

function setInterval_(iv) {
  if (iv === interval) return;
  if (inst) app.feed.unsubscribe(`bars:${inst.symbol}:${interval}`);
  channels = channels.filter((c) => !c.startsWith('bars:'));
  interval = iv;
  localStorage.setItem('tokex.interval', iv);
  for (const b of els.intervals.children) b.setAttribute('aria-pressed', String(b.dataset.iv === iv));
  resetChart();
  if (inst) {
    channels.push(`bars:${inst.symbol}:${iv}`);
    app.feed.subscribe(`bars:${inst.symbol}:${iv}`, onBars);
  }
}

function resetChart() {
  bars = new Map();
  candles.setData([]);
  volume.setData([]);
  redrawIndex();
}

const toTime = (iso) => Math.floor(Date.parse(iso) / 1000);

function barOf(b) {
  return { time: toTime(b.start), open: +b.open, high: +b.high, low: +b.low, close: +b.close, volume: +b.volume };
}

async function onBars(m) {
  if (m.type === 'snapshot') {
    const sym = inst.symbol;
    const iv = interval;
    for (const b of m.data.bars) bars.set(toTime(b.start), barOf(b));
    redrawBars();
    try {
      const r = await get(`/api/v1/instruments/${sym}/bars`, { interval: iv, limit: 500 });
      if (!inst || inst.symbol !== sym || interval !== iv) return;
      for (const b of r.bars) if (!bars.has(toTime(b.start))) bars.set(toTime(b.start), barOf(b));
      redrawBars();
    } catch { /* the snapshot's bars stay */ }
  } else if (m.type === 'update' && m.data && m.data.interval === interval) {
    const b = barOf(m.data);
    const lastT = bars.size ? Math.max(...bars.keys()) : 0;
    bars.set(b.time, b);
    if (b.time >= lastT) {
      const c = chartColors();
      candles.update(b);
      volume.update({ time: b.time, value: b.volume, color: b.close >= b.open ? c.up + '66' : c.down + '66' });
      if (b.time > lastT) redrawIndex();
    } else {
      redrawBars();
    }
  }
}

function redrawBars() {
  const c = chartColors();
  const list = [...bars.values()].sort((a, b) => a.time - b.time);
  candles.setData(list);
  volume.setData(list.map((b) => ({ time: b.time, value: b.volume, color: b.close >= b.open ? c.up + '66' : c.down + '66' })));
  redrawIndex();
  updateMarkers();
}

async function loadIndex() {
  if (!inst) return;
  const id = inst.underlying;
  try {
    const r = await get(`/api/v1/indexes/${id}/fixings`, { limit: 400 });
    if (!inst || inst.underlying !== id) return;
    fixings = r.fixings.filter((f) => f.value !== null).map((f) => ({ t: Date.parse(f.date + 'T00:00:00Z') / 1000, date: f.date, value: +f.value }));
    redrawIndex();
  } catch { /* no index line */ }
}

function onIndex(m) {
  if ((m.type === 'snapshot' || m.type === 'update') && m.data && m.data.value) {
    indicative = { date: m.data.date, value: +m.data.value };
    const t = Date.parse(m.data.date + 'T00:00:00Z') / 1000;
    if (!fixings.some((f) => f.date === m.data.date)) fixings.push({ t, date: m.data.date, value: +m.data.value });
    redrawIndex();
  }
}

function redrawIndex() {
  if (!indexLine || !inst) return;
  const times = [...bars.keys()].sort((a, b) => a - b);
  const fx = fixings.slice().sort((a, b) => a.t - b.t);
  let data = [];
  if (interval === '1d' || !times.length) {
    // Daily: the index history itself (the last 120 fixings), and one point per bar day.
    const from = times.length ? Math.min(times[0], fx.length ? fx[Math.max(0, fx.length - 120)].t : times[0]) : (fx.length ? fx[Math.max(0, fx.length - 120)].t : 0);
    data = fx.filter((f) => f.t >= from).map((f) => ({ time: f.t, value: f.value }));
    if (times.length && fx.length) {
      const lastFix = fx[fx.length - 1];
      const tEnd = times[times.length - 1];
      if (tEnd > lastFix.t) data.push({ time: tEnd, value: lastFix.value });
    }
  } else {
    let j = -1;
    for (const t of times) {
      while (j + 1 < fx.length && fx[j + 1].t <= t) j++;
      if (j >= 0) data.push({ time: t, value: fx[j].value });
    }
  }
  const seen = new Set();
  data = data.filter((d) => (seen.has(d.time) ? false : seen.add(d.time)));
  indexLine.setData(data);
  indexLine.applyOptions({ title: inst.underlying });
  legend();
}

function updatePriceLines() {
  if (!candles) return;
  for (const l of priceLines) candles.removePriceLine(l);
  priceLines = [];
  if (!stats) return;
  const c = chartColors();
  if (stats.settlement && +stats.settlement > 0) {
    priceLines.push(candles.createPriceLine({ price: +stats.settlement, color: c.accent, lineWidth: 1, lineStyle: LineStyle.Dashed, axisLabelVisible: true, title: 'Settle' }));
  }
  updateMarkers();
}

function updateMarkers() {
  if (!markers) return;
  const list = [];
  if (stats && stats.settlement_time && bars.size) {
    const t = toTime(stats.settlement_time);
    const times = [...bars.keys()].sort((a, b) => a - b);
    const at = times.filter((x) => x <= t).pop();
    if (at !== undefined) list.push({ time: at, position: 'aboveBar', color: chartColors().accent, shape: 'arrowDown', text: `Settled ${stats.settlement}` });
  }
  markers.setMarkers(list);
}

function legend(p) {
  if (!inst) return;
  const c = chartColors();
  let bar = null;
  let idx = null;
  if (p && p.time !== undefined && p.seriesData) {
    bar = p.seriesData.get(candles);
    const iv = p.seriesData.get(indexLine);
    idx = iv ? iv.value : null;
  } else {
    const list = [...bars.values()].sort((a, b) => a.time - b.time);
    bar = list[list.length - 1] || null;
    const fx = fixings.slice().sort((a, b) => a.t - b.t);
    idx = fx.length ? fx[fx.length - 1].value : null;
  }
  fill(els.legend,
    bar ? h('span', `O ${bar.open} H ${bar.high} L ${bar.low} C ${bar.close}`) : h('span.muted', 'No trades in this interval yet'),
    h('span.swatch', { style: `--c:${c.index}` }, `${inst.underlying} ${idx !== null && idx !== undefined ? idx : '—'}`));
}
