// Browser tests of the web trading screen against a running `tokex demo`.
//
// playwright-core drives Debian's chromium (no browser download). The test starts the demo
// itself (so it can restart it for the recovery check): TOKEX_BIN is the binary, TOKEX_REPO the
// repository root it runs from (config/ and data/ are read from there). Screenshots of every
// view at laptop (1366×768) and phone (390×844) width, light and dark, go to screenshots/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const REPO = process.env.TOKEX_REPO || join(here, '..', '..');
const BIN = process.env.TOKEX_BIN || join(REPO, 'target', 'release', 'tokex');
const SHOTS = join(here, 'screenshots');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const LAPTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };

let dataDir;
let port;
let server = null;
let keys = {};
let browser;
let page;
let url;
let serverLog = '';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    s.on('error', reject);
  });
}

/** Starts `tokex demo` and resolves once it serves HTTP; reads the demo keys it prints. */
function startServer() {
  return new Promise((resolve, reject) => {
    const p = spawn(BIN, ['demo', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`], {
      cwd: REPO, env: { ...process.env, RUST_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    server = p;
    let out = '';
    const timer = setTimeout(() => reject(new Error(`tokex demo did not start in 60 s:\n${out}`)), 60000);
    const onData = (d) => {
      out += d;
      serverLog += d;
      const t = out.match(/trader, account (\d+):\s+TOKEX_API_KEY=(\S+)\s+TOKEX_API_SECRET=(\S+)/);
      const o = out.match(/operator:\s+TOKEX_API_KEY=(\S+)\s+TOKEX_API_SECRET=(\S+)/);
      if (t) keys.trader = { account: +t[1], key: t[2], secret: t[3] };
      if (o) keys.operator = { key: o[1], secret: o[2] };
      if (/exchange running: http:\/\/\S+/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    p.on('exit', (code) => { if (server === p) server = null; if (code && code !== 0) serverLog += `\n[tokex exited ${code}]`; });
  });
}

function stopServer(signal = 'SIGTERM') {
  return new Promise((resolve) => {
    const p = server;
    if (!p) return resolve();
    const t = setTimeout(() => { try { p.kill('SIGKILL'); } catch { /* gone */ } }, 10000);
    p.once('exit', () => { clearTimeout(t); resolve(); });
    p.kill(signal);
  });
}

async function shot(p, name) {
  await p.waitForTimeout(300);
  await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function signIn(p, who) {
  const k = keys[who];
  if (await p.locator('#signin-btn.signed').count()) await p.click('#signin-btn');
  await p.click('#signin-btn');
  await p.fill('#signin input[name=key]', k.key);
  await p.fill('#signin input[name=secret]', k.secret);
  await p.click('#signin-submit');
  await p.waitForSelector('#signin-btn.signed');
}

/** Text of the ladder's price cells, best bid and ask. */
async function ladder(p) {
  return p.evaluate(() => {
    const px = (sel) => [...document.querySelectorAll(sel)].map((b) => b.dataset.price);
    return { bids: px('.lrow.bid:not(.blank) .px'), asks: px('.lrow.ask:not(.blank) .px'), text: document.querySelector('.ladder').innerText };
  });
}

async function limits(p) {
  const t = await p.textContent('.limits');
  const m = /Limits ([\d.]+) – ([\d.]+)/.exec(t);
  return { lower: m[1], upper: m[2] };
}

async function ticketMessage(p, re) {
  try {
    await p.waitForFunction((src) => new RegExp(src).test(document.querySelector('#ticket-msg').textContent), re.source, { timeout: 15000 });
  } catch (e) {
    throw new Error(`the ticket says ${JSON.stringify(await p.textContent('#ticket-msg'))}, not ${re}`);
  }
  return p.textContent('#ticket-msg');
}

async function fillTicket(p, { side = 'buy', type = 'limit', qty, price, tif = 'gtc', clid, postOnly = false }) {
  await p.click(side === 'buy' ? 'label[for=side-buy]' : 'label[for=side-sell]');
  await p.selectOption('select[name=type]', type);
  await p.fill('input[name=qty]', String(qty));
  if (price !== undefined) await p.fill('input[name=price]', String(price));
  await p.selectOption('select[name=time_in_force]', tif);
  const open = await p.evaluate(() => document.querySelector('details.adv').open);
  if ((clid || postOnly) && !open) await p.click('details.adv summary');
  if (clid || postOnly || open) {
    await p.fill('input[name=client_order_id]', clid || '');
    if ((await p.isChecked('input[name=post_only]')) !== postOnly) await p.click('input[name=post_only]');
  }
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), 'tokex-web-'));
  port = await freePort();
  url = `http://127.0.0.1:${port}/`;
  await startServer();
  assert.ok(keys.trader, 'the demo prints a trader key');
  assert.ok(keys.operator, 'the demo prints an operator key');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  const ctx = await browser.newContext({ viewport: LAPTOP, colorScheme: 'light' });
  page = await ctx.newPage();
  page.on('pageerror', (e) => { console.error('page error:', e.message); });
});

after(async () => {
  if (browser) await browser.close();
  await stopServer();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  if (process.exitCode) console.error(serverLog.slice(-4000));
});

test('the page loads from the binary and goes live', async () => {
  const r = await page.goto(url);
  assert.equal(r.status(), 200);
  assert.match(r.headers()['content-type'], /text\/html/);
  await page.waitForSelector('#conn[data-state=live]');
  await page.waitForSelector('.lrow:not(.blank) .px', { timeout: 20000 });
  await page.waitForSelector('#view-market .stats dd');
  const chartCanvas = await page.locator('#view-market .chart canvas').count();
  assert.ok(chartCanvas > 0, 'the chart draws');
  const vendor = await page.request.get(url + 'vendor/lightweight-charts-5.3.0.standalone.production.mjs');
  assert.match(vendor.headers()['cache-control'], /immutable/);
  assert.match(vendor.headers()['content-type'], /javascript/);
});

test('the ladder fills and updates; a click puts a price in the ticket', async () => {
  const first = await ladder(page);
  assert.ok(first.bids.length + first.asks.length > 0, 'levels shown');
  await page.waitForFunction((before) => document.querySelector('.ladder').innerText !== before, first.text, { timeout: 20000 });
  const l = await ladder(page);
  assert.ok(l.bids.length + l.asks.length > 0);
  // Read and press the same button at once: the rows update in place as the book moves.
  const price = await page.evaluate(() => {
    const b = document.querySelector('.lrow:not(.blank) .px');
    b.click();
    return b.dataset.price;
  });
  assert.equal(await page.inputValue('input[name=price]'), price);
  assert.equal(await page.evaluate(() => document.activeElement.name), 'qty', 'the quantity has the focus next');
});

test('the market view is keyboard reachable', async () => {
  await page.evaluate(() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); });
  const seen = [];
  let price = null;
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab');
    const d = await page.evaluate(() => {
      const e = document.activeElement;
      return { tag: e.tagName, id: e.id, cls: e.className, name: e.getAttribute('name'), text: (e.textContent || '').trim().slice(0, 20), price: e.dataset && e.dataset.price };
    });
    seen.push(d);
    if (d.cls === 'px' && d.price && !price) {
      price = d.price;
      await page.keyboard.press('Enter');
      break;
    }
  }
  assert.ok(seen.some((d) => d.tag === 'A' && d.text === 'Indexes'), 'the navigation');
  assert.ok(seen.some((d) => d.id === 'product'), 'the product picker');
  assert.ok(price, 'a price in the ladder');
  // Enter on a price puts it in the ticket and moves to the quantity.
  assert.equal(await page.inputValue('input[name=price]'), price);
  assert.equal(await page.evaluate(() => document.activeElement.name), 'qty');
  for (let i = 0; i < 10; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(() => document.activeElement.id === 'ticket-submit')) return;
  }
  assert.fail('the ticket button is reachable from the quantity');
});

test('signing in shows the account', async () => {
  await signIn(page, 'trader');
  await page.waitForSelector('.summary dl.kv');
  assert.match(await page.textContent('.summary'), new RegExp(`Account ${keys.trader.account}`));
});

test('an order placed in the ticket appears in open orders, is amended, then cancelled', async () => {
  const { lower } = await limits(page);
  // A buy at the lower daily limit rests: nobody sells that low in the demo.
  await fillTicket(page, { side: 'buy', qty: 3, price: lower, tif: 'gtc' });
  await page.click('#ticket-submit');
  const msg = await ticketMessage(page, /accepted|Rejected|:/);
  assert.match(msg, /Order (\d+) accepted: 3 working/, msg);
  const id = /Order (\d+)/.exec(msg)[1];
  const row = page.locator(`#account-panel tr[data-order="${id}"]`);
  await row.waitFor();
  assert.match(await row.innerText(), /working/);
  await shot(page, 'market-laptop-light');

  await row.getByRole('button', { name: `Amend order ${id}` }).click();
  await page.fill('#account-panel .amend-qty', '2');
  await page.click('#account-panel button:has-text("Save")');
  await page.waitForFunction(() => /amended/.test(document.querySelector('#orders-msg').textContent));
  await page.waitForFunction((oid) => {
    const r = document.querySelector(`#account-panel tr[data-order="${oid}"]`);
    return r && r.querySelector('td.qty').textContent.trim() === '2';
  }, id);
  assert.match(await page.textContent('#orders-msg'), /priority kept/);

  await row.getByRole('button', { name: `Cancel order ${id}` }).click();
  await page.waitForFunction(() => /cancelled/.test(document.querySelector('#orders-msg').textContent));
  await row.waitFor({ state: 'detached' });
});

test("a rejected order shows the exchange's message", async () => {
  const { lower } = await limits(page);
  const clid = `dup-${Date.now()}`;
  await fillTicket(page, { side: 'buy', qty: 1, price: lower, clid });
  await page.click('#ticket-submit');
  await ticketMessage(page, /accepted/);
  await fillTicket(page, { side: 'buy', qty: 1, price: lower, clid });
  await page.click('#ticket-submit');
  const msg = await ticketMessage(page, /DUPLICATE_CLIENT_ORDER_ID/);
  assert.match(msg, /Duplicate client order id: .+/);
  // Client-side validation stops a price off the tick before it is sent.
  await fillTicket(page, { side: 'buy', qty: 1, price: '7.0005' });
  await page.click('#ticket-submit');
  assert.match(await ticketMessage(page, /tick/), /multiple of the tick/);
  assert.equal(await page.getAttribute('input[name=price]', 'aria-invalid'), 'true');
  await shot(page, 'ticket-rejected-laptop-light');
  // Tidy up: cancel what is left.
  await page.click('#tab-orders');
  await page.click('#account-panel button:has-text("Cancel all")');
  await page.waitForFunction(() => /cancelled/.test(document.querySelector('#orders-msg').textContent));
});

test('a fill updates positions and balances', async () => {
  await page.click('#tab-balances');
  await page.waitForSelector('#account-panel tbody tr td.num');
  const usdRow = () => page.evaluate(() => {
    const r = [...document.querySelectorAll('#account-panel tbody tr')].find((x) => x.children[0].textContent === 'USD');
    return r ? [...r.children].map((c) => c.textContent) : null;
  });
  const before = await usdRow();
  let filled = false;
  const said = [];
  for (let i = 0; i < 20 && !filled; i++) {
    const { upper } = await limits(page);
    // An IOC buy at the upper limit takes the best offer whatever it is.
    await fillTicket(page, { side: 'buy', qty: 1, price: upper, tif: 'ioc' });
    await page.click('#ticket-submit');
    const msg = await ticketMessage(page, /accepted|Rejected|:/);
    said.push(msg);
    filled = /filled:? 1 at/.test(msg);
    if (!filled) await page.waitForTimeout(1000);
  }
  assert.ok(filled, `an IOC buy at the upper limit fills against the market makers: ${said.join(' / ')}`);
  await page.waitForFunction((b) => {
    const r = [...document.querySelectorAll('#account-panel tbody tr')].find((x) => x.children[0].textContent === 'USD');
    return r && [...r.children].map((c) => c.textContent).join('|') !== b.join('|');
  }, before, { timeout: 15000 });
  const after_ = await usdRow();
  assert.notEqual(after_[3], before[3], 'margin used changes');
  await page.click('#tab-positions');
  const pos = page.locator('#account-panel tbody tr', { hasText: 'TK' });
  await pos.first().waitFor();
  assert.match(await pos.first().innerText(), /\d/);
  await page.click('#tab-fills');
  await page.waitForSelector('#account-panel tbody tr td.num');
  await page.click('#tab-positions');
  await shot(page, 'positions-laptop-light');
});

test('the index page shows constituents, exclusions and the methodology', async () => {
  await page.goto(url + '#/indexes/TPI-F');
  await page.waitForSelector('.audit table tbody tr td code', { timeout: 60000 });
  const rows = await page.locator('.audit table').first().locator('tbody tr').count();
  assert.ok(rows >= 2, `constituents listed (${rows})`);
  assert.match(await page.textContent('.audit'), /Weight/);
  assert.match(await page.textContent('.audit'), /Exclusions/);
  await page.click('#methodology summary');
  await page.waitForSelector('.method .md h3');
  await shot(page, 'indexes-laptop-light');
});

test('the hedge planner answers through the API', async () => {
  await page.goto(url + '#/hedge');
  await page.click('#hedge-plan');
  await page.waitForSelector('.hedge-out table', { timeout: 60000 });
  assert.match(await page.textContent('.hedge-out'), /The strip to buy/);
  assert.match(await page.textContent('.hedge-out'), /TKF/);
  await shot(page, 'hedge-laptop-light');
  // A line's Trade link opens its month in the market view with the ticket filled in.
  const link = page.locator('.hedge-out a', { hasText: 'Trade' }).first();
  const href = await link.getAttribute('href');
  const [, symbol, qty] = /#\/market\/([^?]+)\?side=buy&qty=(\d+)/.exec(href);
  await link.click();
  await page.waitForFunction((s) => document.querySelector('#month').value === s, symbol);
  assert.equal(await page.inputValue('input[name=qty]'), qty);
});

test('the operator view lists accounts and instruments', async () => {
  await signIn(page, 'operator');
  await page.goto(url + '#/operator');
  await page.waitForSelector('#view-operator table tbody tr td.num');
  assert.match(await page.textContent('#view-operator'), /Accounts \(\d+\)/);
  assert.match(await page.textContent('#view-operator'), /Halt/);
  await shot(page, 'operator-laptop-light');
  await signIn(page, 'trader');
});

test('after the server restarts the page recovers by itself', async () => {
  await page.goto(url + '#/market');
  await page.waitForSelector('#conn[data-state=live]');
  await page.waitForSelector('.lrow:not(.blank) .px');
  const { lower } = await limits(page);
  await fillTicket(page, { side: 'buy', qty: 1, price: lower });
  await page.click('#ticket-submit');
  const msg = await ticketMessage(page, /accepted/);
  const id = /Order (\d+)/.exec(msg)[1];
  await page.click('#tab-orders');
  await page.locator(`#account-panel tr[data-order="${id}"]`).waitFor();

  await stopServer('SIGKILL');
  await page.waitForSelector('#conn[data-state=down]', { timeout: 30000 });
  assert.equal(await page.isVisible('#banner'), true);
  // Nothing blocks: the ticket still answers, with the reason.
  await page.click('#ticket-submit');
  await ticketMessage(page, /reached|Rejected|Network|NETWORK/);
  await shot(page, 'market-offline-laptop-light');

  await startServer();
  await page.waitForSelector('#conn[data-state=live]', { timeout: 30000 });
  await page.waitForSelector('#banner', { state: 'hidden' });
  await page.waitForSelector('.lrow:not(.blank) .px', { timeout: 20000 });
  // The private streams come back with a fresh snapshot: the resting order is still listed.
  await page.locator(`#account-panel tr[data-order="${id}"]`).waitFor({ timeout: 20000 });
  // And the streams flow again: the tape and the book move.
  const t1 = await page.textContent('.tape');
  const l1 = (await ladder(page)).text;
  await page.waitForFunction(([b, t]) => document.querySelector('.ladder').innerText !== b || document.querySelector('.tape').textContent !== t, [l1, t1], { timeout: 30000 });
});

test('screenshots of every view: laptop and phone, light and dark', async () => {
  for (const [size, viewport] of [['laptop', LAPTOP], ['phone', PHONE]]) {
    for (const scheme of ['light', 'dark']) {
      const ctx = await browser.newContext({ viewport, colorScheme: scheme, isMobile: size === 'phone', hasTouch: size === 'phone' });
      const p = await ctx.newPage();
      const errors = [];
      p.on('pageerror', (e) => errors.push(e.message));
      for (const [view, who] of [['market', 'trader'], ['indexes', null], ['hedge', null], ['operator', 'operator']]) {
        await p.goto(url + '#/' + view);
        if (who) {
          const signed = await p.locator('#signin-btn.signed').count();
          if (!signed) await signIn(p, who);
          else {
            const isOp = /Operator/.test(await p.textContent('#signin-btn'));
            if (isOp !== (who === 'operator')) await signIn(p, who);
          }
        }
        if (view === 'market') {
          await p.waitForSelector('.lrow:not(.blank) .px');
          await p.waitForSelector('.summary dl.kv');
        }
        if (view === 'indexes') await p.waitForSelector('.audit table', { timeout: 60000 });
        if (view === 'hedge') {
          await p.click('#hedge-plan');
          await p.waitForSelector('.hedge-out table', { timeout: 60000 });
          await p.evaluate(() => window.scrollTo(0, 0));
        }
        if (view === 'operator') await p.waitForSelector('#view-operator table tbody tr td.num');
        await p.waitForTimeout(500);
        await p.screenshot({ path: join(SHOTS, `${view}-${size}-${scheme}.png`), fullPage: true });
        if (size === 'phone') {
          const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
          assert.ok(overflow <= 1, `${view} at phone width scrolls sideways by ${overflow}px`);
        }
      }
      assert.deepEqual(errors, [], 'no script errors');
      await ctx.close();
    }
  }
});
