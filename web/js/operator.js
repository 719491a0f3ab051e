// The operator view (operator key): accounts and their cash, deposits and withdrawals, API
// keys, halt and resume per instrument, and the product parameters in force.

import { request } from './api.js';
import { h, fill, fmtNum, table, field } from './ui.js';

let app;
let root;
const els = {};
let data = { accounts: [], keys: [], products: null };
let productFilter = '';

const op = (method, path, body, query) => request(method, path, { body, query, signed: true });

export function mount(el, a) {
  app = a;
  root = el;
  els.body = h('div.op-body');
  els.msg = h('p', { role: 'status', 'aria-live': 'polite', id: 'op-msg' });
  fill(root, h('div.ph.row.wrap', h('h1', 'Operator'), h('button.btn.small.ghost', { type: 'button', onclick: load }, 'Refresh')), els.msg, els.body);
  app.onSession(() => { if (!root.hidden) load(); });
  app.onReconnect(() => { if (!root.hidden) load(); });
}

export function show() { load(); }
export function hide() {}

function say(kind, text) {
  els.msg.className = kind;
  els.msg.textContent = text;
}

async function load() {
  if (!app.session || app.session.role !== 'operator') {
    fill(els.body, h('div.panel.pad.center',
      h('p', app.session ? 'This view needs an operator key; you are signed in with a trading key.' : 'Sign in with an operator key to manage accounts, deposits, keys, halts and product parameters.'),
      h('button.btn.primary', { type: 'button', onclick: () => app.signIn() }, app.session ? 'Sign in with another key' : 'Sign in')));
    return;
  }
  try {
    const [acc, keys, products] = await Promise.all([op('GET', '/api/v1/admin/accounts'), op('GET', '/api/v1/admin/keys'), op('GET', '/api/v1/admin/products')]);
    data = { accounts: acc.accounts, keys: keys.keys, products };
    render();
  } catch (e) {
    say('error', `${e.message} (${e.code})`);
  }
}

function render() {
  const currencies = [...new Set(data.accounts.flatMap((a) => Object.keys(a.cash)))].sort((a, b) => (a === 'USD' ? -1 : b === 'USD' ? 1 : a.localeCompare(b)));
  const cash = {
    account: h('input#dep-account', { inputmode: 'numeric', required: true }),
    currency: h('select#dep-currency', currencies.map((c) => h('option', c))),
    amount: h('input#dep-amount', { inputmode: 'decimal', required: true }),
  };
  const newAcc = { role: h('select#acc-role', ['trader', 'market_maker', 'operator'].map((r) => h('option', r))) };
  const newKey = { account: h('input#key-account', { inputmode: 'numeric', placeholder: 'empty for an operator key' }), role: h('select#key-role', ['trader', 'market_maker', 'operator'].map((r) => h('option', r))), label: h('input#key-label') };
  const secretOut = h('div.secret', { role: 'status', 'aria-live': 'polite' });

  const moveCash = async (deposit) => {
    const account = cash.account.value.trim();
    const amount = cash.amount.value.trim();
    if (!/^\d+$/.test(account)) return say('error', 'Account: a number.');
    if (!/^\d+(\.\d{1,2})?$/.test(amount) || !(parseFloat(amount) > 0)) return say('error', 'Amount: a positive amount with at most 2 decimals.');
    try {
      const r = await op('POST', deposit ? '/api/v1/admin/deposits' : '/api/v1/admin/withdrawals', { account: +account, currency: cash.currency.value, amount });
      say('ok', `${deposit ? 'Deposited' : 'Withdrew'} ${r.amount} ${r.currency} ${deposit ? 'to' : 'from'} account ${r.account}; cash now ${r.balance}.`);
      load();
    } catch (e) { say('error', `${e.message} (${e.code})`); }
  };

  const roots = (data.products.products || []).map((p) => p.root);
  if (!productFilter && roots.length) productFilter = roots[0];
  const instruments = (data.products.instruments || []).filter((i) => productFilter === '*' || i.symbol.startsWith(productFilter + '-'));
  const filter = h('select#op-product', { 'aria-label': 'Product', onchange: (e) => { productFilter = e.target.value; render(); } },
    [...roots.map((r) => h('option', { value: r, selected: r === productFilter }, r)), h('option', { value: '*', selected: productFilter === '*' }, 'All products')]);
  fill(els.body,
    h('div.op-grid',
      h('section.panel', { 'aria-label': 'Deposits and withdrawals' },
        h('h2.ph', 'Cash'),
        h('div.row.wrap.gap', field('Account', cash.account), field('Currency', cash.currency), field('Amount', cash.amount)),
        h('div.row.gap', h('button.btn.primary', { type: 'button', onclick: () => moveCash(true) }, 'Deposit'), h('button.btn.ghost', { type: 'button', onclick: () => moveCash(false) }, 'Withdraw')),
        h('p.small.muted', 'A withdrawal never takes equity below the margin requirement: the exchange refuses it.')),
      h('section.panel', { 'aria-label': 'New account and key' },
        h('h2.ph', 'Accounts and keys'),
        h('div.row.wrap.gap', field('New account role', newAcc.role),
          h('button.btn.ghost', { type: 'button', onclick: async () => {
            try { const r = await op('POST', '/api/v1/admin/accounts', { role: newAcc.role.value }); say('ok', `Account ${r.account} created (${r.role}).`); load(); } catch (e) { say('error', `${e.message} (${e.code})`); }
          } }, 'Create account')),
        h('div.row.wrap.gap', field('Key for account', newKey.account), field('Role', newKey.role), field('Label', newKey.label),
          h('button.btn.ghost', { type: 'button', onclick: async () => {
            const body = { role: newKey.role.value, label: newKey.label.value };
            if (newKey.account.value.trim()) body.account = +newKey.account.value.trim();
            try {
              const r = await op('POST', '/api/v1/admin/keys', body);
              fill(secretOut, h('p.ok', 'Key created. The secret is shown once — copy it now:'), h('code.hash', `TOKEX_API_KEY=${r.key}`), h('br'), h('code.hash', `TOKEX_API_SECRET=${r.secret}`));
              load();
            } catch (e) { say('error', `${e.message} (${e.code})`); }
          } }, 'Create key')),
        secretOut)),
    h('section.panel', { 'aria-label': 'Accounts' }, h('h2.ph', `Accounts (${data.accounts.length})`),
      table([
        { label: 'Account', key: 'account', num: true },
        { label: 'Role', render: (a) => a.role.replace('_', ' ') },
        ...currencies.map((c) => ({ label: `Cash ${c}`, render: (a) => fmtNum(a.cash[c]), num: true })),
        { label: 'Working orders', key: 'working_orders', num: true },
        { label: 'State', render: (a) => (a.liquidating ? h('span.pill.warn', 'liquidating') : a.margin_call ? h('span.pill.warn', 'margin call') : 'ok') },
        { label: '', render: (a) => h('button.btn.small.ghost', { type: 'button', onclick: () => { cash.account.value = a.account; cash.amount.focus(); } }, 'Cash…') },
      ], data.accounts)),
    h('section.panel', { 'aria-label': 'Instruments' }, h('div.ph.row', h('h2', 'Instruments: halt and resume'), filter),
      table([
        { label: 'Instrument', render: (i) => h('a', { href: `#/market/${i.symbol}` }, i.symbol) },
        { label: 'Phase', render: (i) => h('span.pill', { class: `pill ${i.phase === 'halted' ? 'warn' : ''}` }, i.phase.replace('_', ' ')) },
        { label: 'Limit % in force', key: 'limit_pct_in_force', num: true },
        { label: 'Initial margin %', key: 'initial_margin_pct_in_force', num: true },
        { label: 'Maintenance %', key: 'maintenance_margin_pct_in_force', num: true },
        { label: 'Limit locked', render: (i) => (i.limit_locked ? 'yes' : 'no') },
        { label: '', render: (i) => (i.phase === 'halted'
          ? h('button.btn.small.primary', { type: 'button', onclick: () => halt(i.symbol, false) }, 'Resume')
          : h('button.btn.small.danger', { type: 'button', onclick: () => halt(i.symbol, true) }, 'Halt')) },
      ], instruments, { caption: 'Resume starts a 60-second pre-open auction before continuous trading' })),
    h('section.panel', { 'aria-label': 'Product parameters' }, h('h2.ph', 'Product parameters'),
      h('p.small.muted', data.products.note || ''),
      table([
        { label: 'Product', key: 'root' }, { label: 'Underlying', key: 'underlying' }, { label: 'Size', render: (p) => `${p.contract_size} × ${p.contract_unit}` },
        { label: 'Tick', render: (p) => `${p.tick_size} (${p.tick_value} ${p.currency})` },
        { label: 'Limit %', key: 'price_limit_pct', num: true }, { label: 'IM %', key: 'initial_margin_pct', num: true }, { label: 'MM %', key: 'maintenance_margin_pct', num: true },
        { label: 'Max order', key: 'order_qty_max', num: true }, { label: 'Position limit', render: (p) => `${p.position_limit_all_months} / spot ${p.position_limit_spot_month}`, num: true },
        { label: 'Fees maker / taker', render: (p) => `${p.fee_maker} / ${p.fee_taker}`, num: true },
        { label: 'Calendar', key: 'calendar' }, { label: 'Trade price', key: 'trade_price_rule' },
      ], data.products.products)),
    h('section.panel', { 'aria-label': 'API keys' }, h('h2.ph', 'API keys'),
      table([
        { label: 'Key', render: (k) => h('code', k.key) }, { label: 'Account', key: 'account' }, { label: 'Role', key: 'role' },
        { label: 'Label', key: 'label' }, { label: 'Created', key: 'created' },
        { label: '', render: (k) => (k.revoked ? h('span.muted', 'revoked') : h('button.btn.small.danger', { type: 'button', onclick: async () => {
          if (app.session && k.key === app.session.key) return say('error', 'That is the key you are signed in with.');
          try { await op('DELETE', `/api/v1/admin/keys/${k.key}`); say('ok', `Key ${k.key} revoked.`); load(); } catch (e) { say('error', `${e.message} (${e.code})`); }
        } }, 'Revoke')) },
      ], data.keys)));
}

async function halt(symbol, stop) {
  try {
    await op('POST', `/api/v1/admin/instruments/${symbol}/${stop ? 'halt' : 'resume'}`, stop ? undefined : {});
    say('ok', stop ? `${symbol} halted: orders are refused until it is resumed.` : `${symbol} resumed: a pre-open auction runs first.`);
    load();
  } catch (e) { say('error', `${e.message} (${e.code})`); }
}
