// Trading: the order ticket (every order type the API accepts, validated before sending), open
// orders with amend and cancel, fills, positions, balances and margin — all from the private
// WebSocket channels, with REST for the actions.

import { request, sget } from './api.js';
import { h, $, $$, fill, fmtNum, fmtMoney, fmtTime, table, signClass, field, throttled } from './ui.js';

const OPEN = new Set(['new', 'pending_trigger', 'working', 'partially_filled']);
const TYPES = [
  ['limit', 'Limit'], ['market', 'Market (with protection)'], ['stop_limit', 'Stop-limit'], ['stop_market', 'Stop-market'],
];
const TIFS = [
  ['gtc', 'GTC — good till cancelled'], ['gfd', 'GFD — good for the day'], ['gtd', 'GTD — good till a time'],
  ['ioc', 'IOC / FAK — fill and kill'], ['fok', 'FOK — fill or kill'],
];
const STP = [
  ['', 'Account default'], ['cancel_resting', 'Cancel resting'], ['cancel_aggressing', 'Cancel aggressing'], ['cancel_both', 'Cancel both'],
];

/** Readable names of the exchange's reject codes (the message itself comes from the exchange). */
const CODE_TITLES = {
  INSUFFICIENT_MARGIN: 'Not enough margin',
  PRICE_OUTSIDE_LIMITS: 'Price outside the daily limits',
  POST_ONLY_WOULD_TRADE: 'Post-only order would trade',
  DUPLICATE_CLIENT_ORDER_ID: 'Duplicate client order id',
  INSTRUMENT_HALTED: 'Trading halted',
  STOP_WOULD_TRIGGER: 'Stop would trigger at once',
  ORDER_TOO_LARGE: 'Order too large',
  POSITION_LIMIT: 'Position limit',
  NOT_ALLOWED_IN_AUCTION: 'Not allowed in the auction',
  TOO_MANY_ORDERS: 'Too many open orders',
  EXPIRY_IN_PAST: 'Expiry in the past',
  NETWORK: 'Not sent',
  MARKET_CLOSED: 'Market closed',
  RATE_LIMITED: 'Too many requests',
  TIMESTAMP_OUTSIDE_WINDOW: 'Clock out of step',
};

export function createTrading(app, els, ctx) {
  let inst = null;
  let stats = null;
  const orders = new Map(); // order_id → order (open only)
  let fills = [];
  let positions = [];
  let balances = { balances: [], liquidating: false };
  let margin = null;
  let tab = 'orders';
  let editing = null; // order id being amended
  let editVals = {}; // what has been typed into its price and quantity

  // ----- ticket ------------------------------------------------------------------------------

  const f = {};
  f.buy = h('input', { type: 'radio', name: 'side', value: 'buy', id: 'side-buy', checked: true });
  f.sell = h('input', { type: 'radio', name: 'side', value: 'sell', id: 'side-sell' });
  f.type = h('select', { name: 'type' }, TYPES.map(([v, l]) => h('option', { value: v }, l)));
  f.qty = h('input', { name: 'qty', inputmode: 'numeric', autocomplete: 'off', value: '1' });
  f.price = h('input', { name: 'price', inputmode: 'decimal', autocomplete: 'off' });
  f.stop = h('input', { name: 'stop_price', inputmode: 'decimal', autocomplete: 'off' });
  f.tif = h('select', { name: 'time_in_force' }, TIFS.map(([v, l]) => h('option', { value: v }, l)));
  f.expire = h('input', { name: 'expire_at', type: 'datetime-local' });
  f.minQty = h('input', { name: 'min_qty', inputmode: 'numeric', autocomplete: 'off' });
  f.display = h('input', { name: 'display_qty', inputmode: 'numeric', autocomplete: 'off' });
  f.postOnly = h('input', { type: 'checkbox', name: 'post_only' });
  f.stp = h('select', { name: 'stp' }, STP.map(([v, l]) => h('option', { value: v }, l)));
  f.clid = h('input', { name: 'client_order_id', autocomplete: 'off', maxlength: 36, placeholder: 'made for you if empty' });
  const submit = h('button.btn.primary.wide', { type: 'submit', id: 'ticket-submit' }, 'Buy');
  const note = h('p.ticket-note.small', { id: 'ticket-msg', role: 'status', 'aria-live': 'polite' });
  const estimate = h('p.small.muted', { id: 'ticket-est' });
  const rows = {
    price: field('Price', f.price), stop: field('Stop (trigger) price', f.stop, 'triggers on the last trade price'),
    expire: field('Expires at (your time)', f.expire), minQty: field('Minimum quantity', f.minQty, 'IOC only: fill at least this or nothing'),
  };
  const adv = h('details.adv', h('summary', 'More: iceberg, post-only, self-match, client id'),
    field('Display quantity (iceberg)', f.display, 'shown in the book at a time'),
    h('label.check', f.postOnly, ' Post-only (rejected if it would trade at once)'),
    field('Self-match prevention', f.stp),
    field('Client order id', f.clid));
  const form = h('form.ticket-form', { novalidate: true, onsubmit: (e) => { e.preventDefault(); place(); } },
    h('fieldset.side', h('legend.sr', 'Side'),
      h('div.seg.sides', f.buy, h('label.buy', { for: 'side-buy' }, 'Buy'), f.sell, h('label.sell', { for: 'side-sell' }, 'Sell'))),
    field('Order type', f.type),
    h('div.two', field('Quantity (contracts)', f.qty), rows.price),
    rows.stop,
    field('Time in force', f.tif),
    rows.expire, rows.minQty,
    adv, estimate, submit, note);
  const ticketHead = h('div.ph.row', h('h2', 'Order ticket'), h('span.muted.small#ticket-inst', ''));
  fill(els.ticket, ticketHead, form);

  for (const el of [f.buy, f.sell, f.type, f.tif]) el.addEventListener('change', () => layout());
  for (const el of [f.qty, f.price, f.stop, f.minQty, f.display, f.postOnly]) el.addEventListener('input', () => { layout(); clearErrors(); });

  function side() { return f.sell.checked ? 'sell' : 'buy'; }

  function layout() {
    const t = f.type.value;
    rows.price.hidden = !(t === 'limit' || t === 'stop_limit');
    rows.stop.hidden = !(t === 'stop_limit' || t === 'stop_market');
    rows.expire.hidden = f.tif.value !== 'gtd';
    rows.minQty.hidden = f.tif.value !== 'ioc';
    submit.textContent = app.session && app.session.account
      ? `${side() === 'buy' ? 'Buy' : 'Sell'} ${f.qty.value || ''} ${inst ? inst.symbol : ''}`
      : app.session ? 'Trading needs a trader key' : 'Sign in to trade';
    submit.className = `btn wide ${side()}`;
    els.ticket.querySelector('#ticket-inst').textContent = inst ? inst.symbol : '';
    estimate.textContent = estimateText();
  }

  function decimals(s) { return (String(s).split('.')[1] || '').length; }

  function estimateText() {
    if (!inst) return '';
    const q = parseInt(f.qty.value, 10);
    const p = parseFloat(f.price.value) || (stats && parseFloat(stats.last || stats.settlement));
    if (!q || !p) return '';
    const mult = parseFloat(inst.tick_value) / parseFloat(inst.tick_size);
    const notional = q * p * mult;
    const im = notional * parseFloat(inst.initial_margin_pct) / 100;
    return `Notional ≈ ${fmtNum(notional.toFixed(2))} ${inst.currency} · initial margin ≈ ${fmtNum(im.toFixed(2))} ${inst.currency}`;
  }

  function clearErrors() {
    for (const el of $$('[aria-invalid]', form)) el.removeAttribute('aria-invalid');
  }

  function bad(el, msg) {
    el.setAttribute('aria-invalid', 'true');
    el.focus();
    return msg;
  }

  /** Client-side checks; returns an error message or the request body. */
  function validate() {
    if (!inst) return { error: 'Choose an instrument.' };
    const t = f.type.value;
    const tif = f.tif.value;
    const body = { instrument: inst.symbol, side: side(), type: t, time_in_force: tif };
    const qty = f.qty.value.trim();
    const max = parseInt(inst.order_qty_max, 10);
    if (!/^[1-9]\d*$/.test(qty)) return { error: bad(f.qty, 'Quantity: a whole number of contracts, at least 1.') };
    if (max && +qty > max) return { error: bad(f.qty, `Quantity: at most ${max} contracts per order.`) };
    body.qty = qty;
    const tick = inst.tick_size;
    const checkPrice = (el, name) => {
      const s = el.value.trim();
      if (!/^\d+(\.\d+)?$/.test(s) || parseFloat(s) <= 0) return bad(el, `${name}: a positive decimal price, e.g. ${stats ? stats.settlement : '7.500'}.`);
      if (decimals(s) > decimals(tick) && !/^0*$/.test(s.split('.')[1].slice(decimals(tick)))) return bad(el, `${name}: a multiple of the tick ${tick}.`);
      const ratio = parseFloat(s) / parseFloat(tick);
      if (Math.abs(ratio - Math.round(ratio)) > 1e-6) return bad(el, `${name}: a multiple of the tick ${tick}.`);
      if (stats && stats.lower_limit && stats.upper_limit && t !== 'stop_market' && name === 'Price') {
        if (parseFloat(s) < parseFloat(stats.lower_limit) || parseFloat(s) > parseFloat(stats.upper_limit)) {
          return bad(el, `${name}: outside today's limits ${stats.lower_limit} – ${stats.upper_limit}.`);
        }
      }
      return null;
    };
    if (t === 'limit' || t === 'stop_limit') {
      const e = checkPrice(f.price, 'Price');
      if (e) return { error: e };
      body.price = f.price.value.trim();
    }
    if (t === 'stop_limit' || t === 'stop_market') {
      const e = checkPrice(f.stop, 'Stop price');
      if (e) return { error: e };
      body.stop_price = f.stop.value.trim();
    }
    if (tif === 'gtd') {
      const at = Date.parse(f.expire.value);
      if (!f.expire.value || Number.isNaN(at)) return { error: bad(f.expire, 'Expiry: choose a date and time for a GTD order.') };
      if (at <= Date.now()) return { error: bad(f.expire, 'Expiry: a time in the future.') };
      body.expire_at = new Date(at).toISOString();
    }
    if (tif === 'ioc' && f.minQty.value.trim()) {
      const m = f.minQty.value.trim();
      if (!/^[1-9]\d*$/.test(m) || +m > +qty) return { error: bad(f.minQty, 'Minimum quantity: a whole number no larger than the quantity.') };
      body.min_qty = m;
    }
    if (f.display.value.trim()) {
      const d = f.display.value.trim();
      if (!/^[1-9]\d*$/.test(d) || +d >= +qty) return { error: bad(f.display, 'Display quantity: a whole number smaller than the quantity.') };
      if (t !== 'limit' && t !== 'stop_limit') return { error: bad(f.display, 'Display quantity: only for limit orders.') };
      body.display_qty = d;
    }
    if (f.postOnly.checked) {
      if (t !== 'limit') return { error: bad(f.postOnly, 'Post-only: only for limit orders.') };
      if (tif === 'ioc' || tif === 'fok') return { error: bad(f.postOnly, 'Post-only: not with IOC or FOK (it must rest).') };
      body.post_only = true;
    }
    if (f.stp.value) body.stp = f.stp.value;
    const clid = f.clid.value.trim();
    if (clid && !/^[\x21-\x7e]{1,36}$/.test(clid)) return { error: bad(f.clid, 'Client order id: 1 to 36 printable characters, no spaces.') };
    // A client order id on every order makes a retry after a time-out safe: the exchange
    // refuses a repeat as a duplicate instead of executing it twice.
    body.client_order_id = clid || `web-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    return { body };
  }

  function say(kind, text) {
    note.className = `ticket-note small ${kind}`;
    note.textContent = text;
  }

  function errText(e) {
    const title = CODE_TITLES[e.code];
    return `${title ? title + ': ' : 'Rejected: '}${e.message}${e.code && e.code !== 'NETWORK' ? ` (${e.code})` : ''}`;
  }

  let placing = false;
  async function place() {
    clearErrors();
    if (!app.session) { app.signIn(); return; }
    if (!app.session.account) { say('error', 'This key is not bound to an account: sign in with a trader or market-maker key to trade.'); return; }
    const v = validate();
    if (v.error) { say('error', v.error); return; }
    if (placing) return;
    placing = true;
    submit.disabled = true;
    say('muted', 'Sending…');
    try {
      const r = await request('POST', '/api/v1/orders', { body: v.body, signed: true });
      const o = r.order;
      upsertOrder(o);
      const filled = (r.fills || []).reduce((a, x) => a + +x.qty, 0);
      const px = [...new Set((r.fills || []).map((x) => x.price))].join(', ');
      let text;
      if (o.status === 'filled') text = `Order ${o.order_id} filled: ${filled} at ${px}`;
      else if (OPEN.has(o.status)) {
        text = `Order ${o.order_id} accepted: ${filled ? `filled ${filled} at ${px}, ` : ''}${o.leaves} working${o.price ? ` at ${o.price}` : ''}`;
        if (o.status === 'pending_trigger') text = `Order ${o.order_id} accepted: waiting for the stop price ${o.stop_price}`;
      } else {
        text = `Order ${o.order_id} accepted; ${filled ? `filled ${filled} at ${px}, the rest` : 'nothing filled, it was'} cancelled${o.cancel_reason ? ` (${o.cancel_reason.replace(/_/g, ' ').toLowerCase()})` : ''}`;
      }
      say('ok', text + '.');
      f.clid.value = '';
    } catch (e) {
      say('error', errText(e));
    } finally {
      placing = false;
      submit.disabled = false;
    }
  }

  // ----- account panels ----------------------------------------------------------------------

  const tabs = [['orders', 'Open orders'], ['fills', 'Fills'], ['positions', 'Positions'], ['balances', 'Balances & margin']];
  const tabBar = h('div.tabbar', { role: 'tablist', 'aria-label': 'Account' });
  const tabBody = h('div.tabbody', { role: 'tabpanel', id: 'account-panel' });
  const orderMsg = h('p.small', { role: 'status', 'aria-live': 'polite', id: 'orders-msg' });
  fill(els.account, tabBar, orderMsg, tabBody);

  const tabButtons = tabs.map(([k, l]) => h('button', {
    type: 'button', role: 'tab', id: `tab-${k}`, 'aria-controls': 'account-panel',
    onclick: () => { tab = k; renderTabs(); renderAccount(); },
    onkeydown: (e) => {
      if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
      const i = tabs.findIndex((x) => x[0] === tab);
      tab = tabs[(i + (e.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length][0];
      renderTabs(); renderAccount();
      $(`#tab-${tab}`).focus();
    },
  }, l));
  fill(tabBar, tabButtons);

  /** Updates the tab buttons in place (they are never rebuilt, so they stay put under a click). */
  function renderTabs() {
    tabs.forEach(([k, l], i) => {
      const b = tabButtons[i];
      b.setAttribute('aria-selected', String(tab === k));
      b.tabIndex = tab === k ? 0 : -1;
      const text = l + (k === 'orders' && orders.size ? ` (${orders.size})` : '');
      if (b.textContent !== text) b.textContent = text;
    });
  }

  const accountSoon = throttled(() => { renderTabs(); renderAccount(); renderSummary(); });

  function signedOut() {
    return h('div.pad.center', h('p.muted', app.session ? 'This operator key has no trading account: sign in with a trader key to see orders and positions.' : 'Sign in with an API key to trade and to see your orders, fills, positions and balances.'),
      app.session ? null : h('button.btn.primary', { type: 'button', onclick: () => app.signIn() }, 'Sign in'));
  }

  let shown = null; // what the panel shows now: re-rendered only when it changes

  function renderAccount() {
    const key = JSON.stringify([app.session && app.session.account, tab, editing, inst && inst.symbol,
      tab === 'orders' ? [...orders.values()] : tab === 'fills' ? fills.slice(0, 100) : tab === 'positions' ? positions : [balances, margin]]);
    if (key === shown) return;
    const editingRow = editing && tab === 'orders' && orders.has(editing) && tabBody.querySelector(`tr[data-order="${editing}"]`);
    if (editingRow && editingRow.querySelector('input') && editingRow.contains(document.activeElement)) {
      // The user is amending this order: leave the row alone while it has the focus.
      return;
    }
    shown = key;
    if (!app.session || !app.session.account) { fill(tabBody, signedOut()); return; }
    if (tab === 'orders') renderOrders();
    else if (tab === 'fills') {
      fill(tabBody, table([
        { label: 'Time', render: (x) => fmtTime(x.time, true) },
        { label: 'Instrument', key: 'instrument' },
        { label: 'Side', render: (x) => h('span', { class: x.side === 'buy' ? 'up' : 'down' }, x.side) },
        { label: 'Price', key: 'price', num: true },
        { label: 'Qty', key: 'qty', num: true },
        { label: 'Liquidity', key: 'liquidity' },
        { label: 'Fee', render: (x) => fmtMoney(x.fee, x.currency), num: true },
        { label: 'Order', key: 'order_id', num: true },
      ], fills, { empty: 'No fills yet.', caption: 'Fills, newest first' }));
    } else if (tab === 'positions') {
      fill(tabBody, table([
        { label: 'Instrument', render: (x) => h('a', { href: `#/market/${x.instrument}` }, x.instrument) },
        { label: 'Net', render: (x) => h('span', { class: signClass(x.net) }, fmtNum(x.net)), num: true },
        { label: 'Avg price', key: 'avg_price', num: true },
        { label: 'Mark', key: 'mark_price', num: true },
        { label: 'Unrealised P&L', render: (x) => h('span', { class: signClass(x.unrealised_pnl) }, fmtMoney(x.unrealised_pnl, x.currency)), num: true },
        { label: 'Realised P&L', render: (x) => h('span', { class: signClass(x.realised_pnl) }, fmtMoney(x.realised_pnl, x.currency)), num: true },
        { label: 'Since settlement', render: (x) => fmtMoney(x.variation_since_settlement, x.currency), num: true },
        { label: 'Working buy / sell', render: (x) => `${x.working_buy} / ${x.working_sell}`, num: true },
      ], positions, { empty: 'No positions.', caption: 'Positions (net per instrument)' }));
    } else {
      const m = new Map((margin ? margin.margin : []).map((x) => [x.currency, x]));
      fill(tabBody,
        balances.liquidating ? h('p.error', 'This account is being liquidated by the risk engine.') : null,
        table([
          { label: 'Currency', key: 'currency' },
          { label: 'Cash', render: (x) => fmtNum(x.cash), num: true },
          { label: 'Equity', render: (x) => fmtNum(x.equity), num: true },
          { label: 'Margin used', render: (x) => fmtNum(x.initial_margin), num: true },
          { label: 'Available', render: (x) => fmtNum(x.available), num: true },
          { label: 'Maintenance', render: (x) => fmtNum(x.maintenance_margin), num: true },
          { label: 'Over maintenance', render: (x) => (m.get(x.currency) ? fmtNum(m.get(x.currency).excess_over_maintenance) : '—'), num: true },
          { label: 'Margin call', render: (x) => (x.margin_call ? h('span.pill.warn', `Shortfall ${fmtNum(x.margin_call.shortfall)} since ${fmtTime(x.margin_call.issued_at, true)}`) : h('span.muted', 'none')) },
        ], balances.balances, { empty: 'No balances.', caption: 'Cash, equity and margin per currency' }));
    }
  }

  function renderOrders() {
    const list = [...orders.values()].sort((a, b) => +b.order_id - +a.order_id);
    const head = h('div.row.between',
      h('span.muted.small', `${list.length} open order${list.length === 1 ? '' : 's'}`),
      list.length ? h('button.btn.small.ghost', { type: 'button', onclick: cancelAll }, inst ? `Cancel all in ${inst.symbol}` : 'Cancel all') : null);
    fill(tabBody, head, table([
      { label: 'Order', key: 'order_id', num: true },
      { label: 'Instrument', render: (o) => h('a', { href: `#/market/${o.instrument}` }, o.instrument) },
      { label: 'Side', render: (o) => h('span', { class: o.side === 'buy' ? 'up' : 'down' }, o.side) },
      { label: 'Type', render: (o) => o.type.replace('_', ' ') + (o.time_in_force ? ` · ${o.time_in_force.toUpperCase()}` : '') },
      list.some((o) => o.stop_price) && { label: 'Stop', render: (o) => (editing === o.order_id && o.stop_price && o.status === 'pending_trigger' ? h('input.amend-stop', { value: editVals.stop_price ?? o.stop_price, oninput: (e) => { editVals.stop_price = e.target.value; }, 'aria-label': `New stop price for order ${o.order_id}`, inputmode: 'decimal', size: 7 }) : o.stop_price), num: true },
      { label: 'Price', render: (o) => (editing === o.order_id && o.price ? h('input.amend-price', { value: editVals.price ?? o.price, oninput: (e) => { editVals.price = e.target.value; }, 'aria-label': `New price for order ${o.order_id}`, inputmode: 'decimal', size: 7 }) : (o.price || 'market')), num: true },
      { label: 'Qty', cls: 'qty', render: (o) => (editing === o.order_id ? h('input.amend-qty', { value: editVals.qty ?? o.qty, oninput: (e) => { editVals.qty = e.target.value; }, 'aria-label': `New quantity for order ${o.order_id}`, inputmode: 'numeric', size: 4 }) : fmtNum(o.qty)), num: true },
      { label: 'Filled', render: (o) => fmtNum(o.filled), num: true },
      { label: 'Working', render: (o) => fmtNum(o.leaves), num: true },
      { label: 'Status', render: (o) => o.status.replace('_', ' ') },
      { label: '', cls: 'actions', render: (o) => (editing === o.order_id
        ? h('span.row', h('button.btn.small.primary', { type: 'button', onclick: () => amend(o) }, 'Save'), h('button.btn.small.ghost', { type: 'button', onclick: () => { editing = null; renderAccount(); } }, 'Back'))
        : h('span.row', h('button.btn.small.ghost', { type: 'button', 'aria-label': `Amend order ${o.order_id}`, onclick: () => { editing = o.order_id; editVals = {}; renderAccount(); const i = $('.amend-price', tabBody) || $('.amend-stop', tabBody) || $('.amend-qty', tabBody); if (i) i.focus(); } }, 'Amend'),
          h('button.btn.small.danger', { type: 'button', 'aria-label': `Cancel order ${o.order_id}`, onclick: () => cancel(o) }, 'Cancel'))) },
    ].filter(Boolean), list, { empty: 'No open orders.', caption: 'Open orders', rowAttrs: (o) => ({ dataset: { order: o.order_id } }) }));
  }

  function orderSay(kind, text) {
    orderMsg.className = `small ${kind}`;
    orderMsg.textContent = text;
  }

  async function amend(o) {
    const body = {};
    const p = editVals.price !== undefined ? String(editVals.price).trim() : undefined;
    const q = editVals.qty !== undefined ? String(editVals.qty).trim() : undefined;
    if (p !== undefined && p !== o.price) body.price = p;
    if (q !== undefined && q !== o.qty) body.qty = q;
    const st = editVals.stop_price !== undefined ? String(editVals.stop_price).trim() : undefined;
    if (st !== undefined && st !== o.stop_price) body.stop_price = st;
    if (!Object.keys(body).length) { editing = null; renderAccount(); return; }
    if (body.qty !== undefined && !/^[1-9]\d*$/.test(body.qty)) { orderSay('error', 'Quantity: a whole number of contracts, at least 1.'); return; }
    if (body.price !== undefined && !(parseFloat(body.price) > 0)) { orderSay('error', 'Price: a positive decimal.'); return; }
    if (body.stop_price !== undefined && !(parseFloat(body.stop_price) > 0)) { orderSay('error', 'Stop price: a positive decimal.'); return; }
    try {
      const r = await request('PATCH', `/api/v1/orders/${o.order_id}`, { body, signed: true });
      editing = null;
      upsertOrder(r.order);
      orderSay('ok', `Order ${o.order_id} amended${r.priority_kept === true ? ' (time priority kept)' : r.priority_kept === false ? ' (time priority lost: price changed or quantity raised)' : ''}.`);
    } catch (e) {
      orderSay('error', errText(e));
    }
  }

  async function cancel(o) {
    try {
      const r = await request('DELETE', `/api/v1/orders/${o.order_id}`, { signed: true });
      upsertOrder(r.order);
      orderSay('ok', `Order ${o.order_id} cancelled.`);
    } catch (e) {
      orderSay('error', errText(e));
    }
  }

  async function cancelAll() {
    try {
      const r = await request('DELETE', '/api/v1/orders', { signed: true, query: inst ? { instrument: inst.symbol } : {} });
      for (const id of r.order_ids || []) orders.delete(id);
      orderSay('ok', `${r.cancelled} order${r.cancelled === 1 ? '' : 's'} cancelled.`);
      accountSoon();
      ctx.onOrders();
    } catch (e) {
      orderSay('error', errText(e));
    }
  }

  function upsertOrder(o) {
    if (!o) return;
    if (OPEN.has(o.status)) {
      const old = orders.get(o.order_id);
      if (!old || (o.seq || 0) >= (old.seq || 0)) orders.set(o.order_id, o);
    } else {
      orders.delete(o.order_id);
      if (editing === o.order_id) editing = null;
    }
    accountSoon();
    ctx.onOrders();
  }

  // ----- account summary (beside the ticket) -------------------------------------------------

  function renderSummary() {
    if (!app.session || !app.session.account) {
      fill(els.summary, h('h2.ph', 'Account'), h('p.muted.small.pad', app.session ? 'Operator key: no trading account.' : 'Not signed in.'));
      return;
    }
    const cur = inst ? inst.currency : 'USD';
    const b = balances.balances.find((x) => x.currency === cur);
    const pos = inst && positions.find((x) => x.instrument === inst.symbol && x.net !== '0');
    const item = (k, v, cls) => [h('dt', k), h('dd', { class: cls || '' }, v)];
    fill(els.summary,
      h('h2.ph', `Account ${app.session.account}`, h('span.muted.small', ` · ${cur}`)),
      b ? h('dl.kv',
        item('Equity', fmtNum(b.equity)),
        item('Available', fmtNum(b.available)),
        item('Margin used', fmtNum(b.initial_margin)),
        item('Margin call', b.margin_call ? `shortfall ${fmtNum(b.margin_call.shortfall)}` : 'none', b.margin_call ? 'down' : ''),
        pos ? item(`Position ${inst.symbol}`, `${fmtNum(pos.net)} @ ${pos.avg_price || '—'}`, signClass(pos.net)) : item(`Position ${inst ? inst.symbol : ''}`, 'flat'),
        pos ? item('Unrealised P&L', fmtNum(pos.unrealised_pnl), signClass(pos.unrealised_pnl)) : null,
        pos ? item('Realised P&L', fmtNum(pos.realised_pnl), signClass(pos.realised_pnl)) : null)
        : h('p.muted.small.pad', `No ${cur} balance.`),
      balances.liquidating ? h('p.error.small', 'Being liquidated by the risk engine.') : null);
  }

  // ----- streams -----------------------------------------------------------------------------

  const PRIVATE = ['orders', 'fills', 'positions', 'balances'];
  let marginTimer = null;
  function loadMargin() {
    clearTimeout(marginTimer);
    marginTimer = setTimeout(async () => {
      try { margin = await sget('/api/v1/margin'); accountSoon(); } catch { /* shown next time */ }
    }, 400);
  }

  function subscribe() {
    app.feed.subscribe('orders', (m) => {
      if (m.type === 'snapshot') {
        orders.clear();
        for (const o of m.data.orders) if (OPEN.has(o.status)) orders.set(o.order_id, o);
        accountSoon(); ctx.onOrders();
      } else if (m.type === 'update') upsertOrder(m.data);
    }, true);
    app.feed.subscribe('fills', (m) => {
      if (m.type === 'snapshot') fills = m.data.fills.slice().reverse();
      else if (m.type === 'update' && m.data) fills.unshift(m.data);
      if (fills.length > 200) fills.length = 200;
      accountSoon();
    }, true);
    app.feed.subscribe('positions', (m) => {
      if (m.type === 'snapshot' || m.type === 'update') { positions = m.data.positions; accountSoon(); }
    }, true);
    app.feed.subscribe('balances', (m) => {
      if (m.type === 'snapshot' || m.type === 'update') { balances = m.data; accountSoon(); loadMargin(); }
    }, true);
  }

  app.onSession((s) => {
    orders.clear(); fills = []; positions = []; balances = { balances: [], liquidating: false }; margin = null;
    for (const c of PRIVATE) app.feed.unsubscribe(c);
    if (s && s.account) subscribe();
    layout(); accountSoon(); ctx.onOrders();
  });
  if (app.session && app.session.account) subscribe();

  renderTabs(); renderAccount(); renderSummary(); layout();

  return {
    setInstrument(i) {
      inst = i;
      f.price.value = '';
      f.stop.value = '';
      layout();
      renderSummary();
    },
    setStats(s) {
      const first = !stats || stats.instrument !== s.instrument;
      stats = s;
      if (first && !f.price.value && s.settlement && +s.settlement > 0) f.price.placeholder = s.last || s.settlement;
      estimate.textContent = estimateText();
    },
    setPrice(p, sideHint) {
      f.price.value = p;
      if (f.type.value === 'market' || f.type.value === 'stop_market') f.type.value = 'limit';
      if (sideHint) (sideHint === 'buy' ? f.buy : f.sell).checked = true;
      clearErrors();
      layout();
      f.qty.focus();
      f.qty.select();
    },
    prefill({ side: s, qty }) {
      if (s === 'buy' || s === 'sell') (s === 'buy' ? f.buy : f.sell).checked = true;
      if (qty && /^\d+$/.test(qty)) f.qty.value = qty;
      layout();
    },
    /** Working quantity of the signed-in account per `side:price` of an instrument. */
    myOrdersAt(symbol) {
      const m = new Map();
      for (const o of orders.values()) {
        if (o.instrument !== symbol || !o.price || o.status === 'pending_trigger') continue;
        const k = `${o.side === 'buy' ? 'bid' : 'ask'}:${o.price}`;
        m.set(k, (m.get(k) || 0) + +o.leaves);
      }
      return m;
    },
  };
}
