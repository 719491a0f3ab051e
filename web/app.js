// The Tokex trading screen: the shell (views, connection state, sign-in, theme). Each view is
// a module with mount(el, app) once and show()/hide() when navigated to.

import { Feed, credentials, setCredentials, syncClock, sget, onNetwork } from './js/api.js';
import { $, $$ } from './js/ui.js';
import * as market from './js/market.js';
import * as indexes from './js/indexes.js';
import * as hedge from './js/hedge.js';
import * as operator from './js/operator.js';

const views = { market, indexes, hedge, operator };

// ----- theme ---------------------------------------------------------------------------------

const THEMES = ['auto', 'light', 'dark'];
const themeListeners = new Set();

function applyTheme(t) {
  const root = document.documentElement;
  if (t === 'auto') root.removeAttribute('data-theme');
  else root.setAttribute('data-theme', t);
  const b = $('#theme');
  b.setAttribute('aria-label', `Theme: ${t === 'auto' ? 'follow the system' : t} (change)`);
  b.textContent = t === 'dark' ? '☾' : t === 'light' ? '☀' : '◐';
  for (const f of themeListeners) f();
}

let theme = localStorage.getItem('tokex.theme') || 'auto';
applyTheme(theme);
$('#theme').addEventListener('click', () => {
  theme = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
  localStorage.setItem('tokex.theme', theme);
  applyTheme(theme);
});
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => applyTheme(theme));

// ----- connection ----------------------------------------------------------------------------

const conn = $('#conn');
const banner = $('#banner');
let restDown = false;
let wsState = 'connecting';

function showConn() {
  const down = wsState === 'down' || restDown;
  conn.dataset.state = down ? 'down' : wsState;
  conn.textContent = down ? 'Reconnecting…' : wsState === 'live' ? 'Live' : 'Connecting…';
  if (down) {
    banner.hidden = false;
    banner.textContent = 'Connection to the exchange lost — reconnecting. What you see may be out of date; it refreshes by itself when the exchange answers again.';
  } else {
    banner.hidden = true;
  }
}

const feed = new Feed((state) => {
  wsState = state;
  if (state === 'live') restDown = false; // the server answers again
  showConn();
});

// A REST request that found no server marks the connection down until one succeeds: probe the
// clock every two seconds meanwhile, so the state clears even when nothing else asks.
let probe = null;
onNetwork((ok) => {
  if (restDown === !ok) return;
  restDown = !ok;
  showConn();
  clearInterval(probe);
  if (restDown) probe = setInterval(() => { syncClock().then(() => { restDown = false; clearInterval(probe); showConn(); }).catch(() => {}); }, 2000);
});

// ----- session -------------------------------------------------------------------------------

const sessionListeners = new Set();
const app = {
  feed,
  session: null, // {key, account, role}
  onSession(f) { sessionListeners.add(f); },
  onTheme(f) { themeListeners.add(f); },
  onReconnect(f) { feed.onReconnect(f); },
  navigate(hash) { location.hash = hash; },
  signIn: () => openSignIn(),
};

function setSession(s) {
  app.session = s;
  const b = $('#signin-btn');
  if (s) {
    b.textContent = s.account ? `Account ${s.account} · Sign out` : 'Operator · Sign out';
    b.title = `Signed in with key ${s.key} (${s.role.replace('_', ' ')})`;
    b.setAttribute('aria-label', `Signed in as ${s.account ? 'account ' + s.account : 'operator'}; sign out`);
    b.classList.add('signed');
  } else {
    b.textContent = 'Sign in';
    b.removeAttribute('aria-label');
    b.classList.remove('signed');
  }
  for (const f of sessionListeners) f(s);
}

async function verifyCredentials() {
  const me = await sget('/api/v1/account');
  return { key: me.key, account: me.account, role: me.role };
}

const dialog = $('#signin');
function openSignIn() {
  $('#signin-error').textContent = '';
  $('#signin-form').reset();
  dialog.showModal();
  $('input[name=key]', dialog).focus();
}

$('#signin-btn').addEventListener('click', () => {
  if (app.session) {
    setCredentials(null);
    feed.reauth();
    setSession(null);
  } else {
    openSignIn();
  }
});
$('#signin-cancel').addEventListener('click', () => dialog.close());
$('#signin-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const key = String(f.get('key')).trim();
  const secret = String(f.get('secret')).trim();
  const btn = $('#signin-submit');
  btn.disabled = true;
  setCredentials({ key, secret });
  try {
    const s = await verifyCredentials();
    dialog.close();
    feed.reauth();
    setSession(s);
  } catch (e) {
    setCredentials(null);
    $('#signin-error').textContent = `${e.message}${e.code ? ` (${e.code})` : ''}`;
  } finally {
    btn.disabled = false;
  }
});

// ----- routing -------------------------------------------------------------------------------

const mounted = new Set();
let current = null;

function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('?')[0].split('/');
  const name = views[parts[0]] ? parts[0] : 'market';
  const el = $(`#view-${name}`);
  if (!mounted.has(name)) {
    mounted.add(name);
    views[name].mount(el, app);
  }
  for (const v of $$('.view')) v.hidden = v !== el;
  for (const a of $$('.tabs a')) {
    if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (current !== name && current && views[current].hide) views[current].hide();
  current = name;
  views[name].show(parts.slice(1).map(decodeURIComponent));
  document.title = `Tokex — ${name[0].toUpperCase() + name.slice(1)}`;
}

window.addEventListener('hashchange', route);

// ----- start ---------------------------------------------------------------------------------

async function start() {
  syncClock().catch(() => {});
  feed.connect();
  if (credentials()) {
    try {
      setSession(await verifyCredentials());
    } catch (e) {
      if (e.status === 401 || e.status === 403) setCredentials(null);
      else {
        // The exchange is unreachable: keep the key and try again when it answers.
        const retry = async () => {
          try { setSession(await verifyCredentials()); } catch { setTimeout(retry, 3000); }
        };
        setTimeout(retry, 3000);
      }
    }
  }
  feed.onReconnect(() => { syncClock().catch(() => {}); });
  route();
}

start();
