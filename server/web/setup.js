// The setup page: GET /s/{id}#c=<claim> (the label's QR code), or /setup
// for an id and claim code typed by hand. It never sends the claim code
// anywhere but the setup request, never sends the app key to the server,
// and in "my own network" mode seals the Wi-Fi password on the phone
// (libsodium, XChaCha20-Poly1305) so the server never sees it.
// Protocol: docs/protocol.md, "Inner layer" and "HTTP: provisioning
// server"; the flow: docs/web-flow.md. Every string is in setup-strings.js.
import qrcode from './qrcode.mjs';
import strings from './setup-strings.js';
import { step, translator } from './page.js';

const t = translator(strings);
const $ = (id) => document.getElementById(id);
const TOKEN_KEY = 'owb-installer-token';
// How long the page waits for a check-in before it says what may be
// wrong: longer than a device's join and check-in take when they work.
const WAIT_BOUND_MS = 120000;
const POLL_MS = 1500;
const JOIN_REASONS = ['wrong_password', 'network_not_found', 'no_ip', 'server_unreachable', 'apply_failed'];
// Failures the person can fix in the own-network form.
const FIXABLE = ['wrong_password', 'network_not_found', 'invalid_config'];
const KNOWN_REASONS = JOIN_REASONS.concat(['replayed', 'setup_closed', 'wrong_device', 'auth_failed',
  'app_key_rejected', 'invalid_config', 'bad_request', 'too_large']);

const deviceId = location.pathname.startsWith('/s/') ? decodeURIComponent(location.pathname.slice(3)) : '';
const frag = new URLSearchParams(location.hash.slice(1));
let claim = '';
let generation = 0; // a newer attempt stops the older one's polling

// The tab's memory of this device's setup: the claim code and the choices
// made, so that "Try again" needs no second scan. sessionStorage only:
// it stays in this tab and is never sent anywhere.
const memoryKey = (id) => 'owb-setup:' + id;
function recall(id) {
  try {
    return JSON.parse(sessionStorage.getItem(memoryKey(id))) || {};
  } catch (e) {
    return {};
  }
}
function remember(id, patch) {
  sessionStorage.setItem(memoryKey(id), JSON.stringify({ ...recall(id), ...patch }));
}

function say(text, kind) {
  $('status').textContent = text || '';
  $('status').className = 'notice' + (kind ? ' ' + kind : '');
}

// Shows one section and marks the step it belongs to (5: all done).
function show(id, n) {
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== id;
  $('main').dataset.state = id.replace('step-', '');
  step(n);
}

function b64url(bytes) {
  let s = '';
  bytes.forEach((b) => { s += String.fromCharCode(b); });
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// A claim code as typed: Crockford base32, so case, I/L for 1, O for 0,
// spaces and hyphens do not matter. null unless 16 characters are left.
function normalizeClaim(text) {
  const c = text.toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
  return /^[0-9A-HJKMNP-TV-Z]{16}$/.test(c) ? c : null;
}

// The rules of W, checked here so the user hears about a mistake at once;
// the device checks them again.
function checkWifi(w) {
  const n = new TextEncoder().encode(w.ssid).length;
  if (n < 1 || n > 32) return t('rule_ssid_length');
  if (/[\u0000-\u001f\u007f]/.test(w.ssid)) return t('rule_ssid_control');
  if (w.security === 'open') return null;
  if (/^[0-9a-fA-F]{64}$/.test(w.psk)) return null;
  if (!/^[\u0020-\u007e]{8,63}$/.test(w.psk)) return t('rule_psk');
  return null;
}

// wifi_blob = nonce(24) || AEAD(key = A, aad = "OWB1" "W" id_len id, msg = W)
// libsodium (400 kB with its WebAssembly) is loaded only when needed.
async function sealWifi(appKey, w) {
  const sodium = (await import('./sodium.mjs')).default;
  await sodium.ready;
  const id = new TextEncoder().encode(deviceId);
  const aad = new Uint8Array(6 + id.length);
  aad.set(new TextEncoder().encode('OWB1W'), 0);
  aad[5] = id.length;
  aad.set(id, 6);
  const msg = new TextEncoder().encode(JSON.stringify(w));
  const nonce = new Uint8Array(24);
  crypto.getRandomValues(nonce);
  const ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(msg, aad, null, nonce, appKey);
  msg.fill(0);
  const blob = new Uint8Array(24 + ct.length);
  blob.set(nonce, 0);
  blob.set(ct, 24);
  return b64url(blob);
}

function drawQr(text) {
  const qr = qrcode(0, 'M');
  qr.addData(text, 'Byte');
  qr.make();
  const canvas = $('ap-qr');
  const n = qr.getModuleCount() + 8;
  const px = Math.floor(canvas.width / n);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = '#000';
  for (let r = 0; r < qr.getModuleCount(); r++)
    for (let c = 0; c < qr.getModuleCount(); c++)
      if (qr.isDark(r, c)) ctx.fillRect((c + 4) * px, (r + 4) * px, px, px);
}

function wifiEscape(s) {
  return s.replace(/([\\;,:"])/g, '\\$1');
}

// The device's Wi-Fi password in groups of four, digits and symbols
// marked, so that 0/O and 1/l/I are told apart when typing it.
function showPassword(el, pass) {
  el.textContent = '';
  for (let i = 0; i < pass.length; i += 4) {
    const group = document.createElement('span');
    for (const ch of pass.slice(i, i + 4)) {
      if (/[A-Za-z]/.test(ch)) {
        group.append(ch);
      } else {
        const mark = document.createElement('span');
        mark.className = /[0-9]/.test(ch) ? 'd' : 's';
        mark.textContent = ch;
        group.append(mark);
      }
    }
    el.append(group);
  }
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

async function sessionState(session) {
  try {
    const r = await fetch('/v1/sessions/' + encodeURIComponent(session), { cache: 'no-store' });
    return r.ok ? await r.json() : null;
  } catch (e) {
    return null; // the phone is on the device's Wi-Fi for a while
  }
}

function done(id) {
  generation++;
  show('step-done', 5);
  $('online').textContent = t('online', { id });
  say('');
  sessionStorage.removeItem(memoryKey(deviceId));
}

// Polls the session until the device has checked in, or a newer attempt
// (or the result) ends this one.
async function poll(session) {
  const mine = ++generation;
  while (mine === generation) {
    const s = await sessionState(session);
    if (mine !== generation) return;
    if (s && s.state === 'online') return done(s.device_id);
    await sleep(POLL_MS);
  }
}

function wait(session) {
  show('step-wait', 4);
  $('wait-text').textContent = t('wait_text', { id: deviceId });
  $('wait-slow').hidden = true;
  poll(session);
  const mine = generation;
  setTimeout(() => {
    if (mine !== generation) return;
    $('wait-slow').hidden = false;
    say('');
  }, WAIT_BOUND_MS);
}

// What the device reported, in words, for the notice above the retry.
function reasonText(reason) {
  if (!reason || reason === 'slow') return '';
  if (!KNOWN_REASONS.includes(reason)) return t('reason_other');
  return t('reason_' + reason) + (JOIN_REASONS.includes(reason) ? ' ' + t('retry_rolled_back') : '');
}

// Back from the device's page with the session (and, after a failure,
// its reason and the networks the device could see).
async function returned(session, reason, seen) {
  if (!reason) return wait(session);
  const s = await sessionState(session); // a replayed link may have worked the first time
  if (s && s.state === 'online') return done(s.device_id);
  retry(reason, seen);
}

// "Try again": a fresh bundle with the claim this tab remembers; in
// own-network mode the form comes back filled in (the password excepted)
// so the person can fix what the device reported first.
function retry(reason, seen) {
  generation++;
  const mem = recall(deviceId);
  const why = reasonText(reason);
  const and = (key) => (why ? why + ' ' : '') + t(key);
  history.replaceState(null, '', location.pathname);
  claim = mem.claim || '';
  if (!claim) {
    say(and('retry_no_claim'), 'warn');
    return showCode();
  }
  if (mem.mode === 'own') {
    $('ssid').value = mem.ssid || '';
    $('security').value = mem.security || 'wpa2-psk';
    $('hidden').checked = !!mem.hidden;
    securityChanged();
    offerNetworks(seen || []);
    show('step-own', 1);
    say(and(FIXABLE.includes(reason) ? 'retry_fix' : 'retry_own'), 'warn');
    (reason === 'network_not_found' ? $('ssid') : $('psk')).focus();
    return;
  }
  if (mem.mode === 'org' && localStorage.getItem(TOKEN_KEY)) return organisation(null, why);
  show(mem.mode === 'org' ? 'step-org' : 'step-choose', 1);
  say(why, why ? 'warn' : '');
}

function offerNetworks(names) {
  const list = $('ssid-seen');
  list.textContent = '';
  for (const n of names) {
    const o = document.createElement('option');
    o.value = n;
    list.append(o);
  }
}

// Locked after wrong claim codes: until when, counting down, then on.
let lockTimer = null;
function lock(seconds) {
  const until = Date.now() + seconds * 1000;
  // The browser's own locale when it speaks the page's language (en-GB
  // writes 24-hour times, en-US does not).
  const locale = (navigator.languages || []).find((l) => l.toLowerCase().split('-')[0] === t.lang) || t.lang;
  const time = new Date(until).toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const buttons = ['choose-org', 'choose-own', 'get-org', 'get-own'].map($);
  clearInterval(lockTimer);
  const tick = () => {
    const left = Math.ceil((until - Date.now()) / 1000);
    buttons.forEach((b) => { b.disabled = left > 0; });
    if (left > 0) return say(t('locked', { time, seconds: left }), 'error');
    clearInterval(lockTimer);
    say(t('unlocked'), 'ok');
  };
  tick();
  lockTimer = setInterval(tick, 1000);
}

// What the server answered instead of a bundle, in words, and where the
// person goes from there.
function refused(r, answer) {
  const code = answer.error;
  if (code === 'locked') return lock(Number(r.headers.get('Retry-After')) || 60);
  if (code === 'unknown_device') {
    say(t('err_unknown_device', { id: deviceId }), 'error');
    return showCode();
  }
  if (code === 'claim_rejected') {
    say(t('err_claim_rejected'), 'error');
    return showCode();
  }
  const known = ['unauthorized', 'rate_limited', 'bad_request', 'unavailable', 'conflict'];
  say(known.includes(code) ? t('err_' + code) : t('err_status', { status: r.status }), 'error');
}

async function requestBundle(body, token) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = 'Bearer ' + token;
  say(t('asking'));
  let r;
  try {
    r = await fetch('/v1/setup/' + encodeURIComponent(deviceId), {
      method: 'POST', headers, body: JSON.stringify(body), cache: 'no-store',
    });
  } catch (e) {
    say(t('err_network'), 'error');
    return null;
  }
  const answer = await r.json().catch(() => ({}));
  if (!r.ok) {
    refused(r, answer);
    return null;
  }
  return answer;
}

function handOff(answer, appKeyText, notice) {
  const ap = answer.device_ap;
  $('ap-ssid').textContent = ap.ssid;
  showPassword($('ap-pass'), ap.passphrase);
  drawQr('WIFI:T:WPA;S:' + wifiEscape(ap.ssid) + ';P:' + wifiEscape(ap.passphrase) + ';;');
  $('before-1').textContent = t('join_before_1', { ssid: ap.ssid });
  $('before-3').textContent = t('join_before_3');
  // Everything the device needs travels in the fragment, which the browser
  // never sends to any server.
  const back = location.origin + location.pathname + '#s=' + encodeURIComponent(answer.session);
  const hand = new URLSearchParams({
    bundle: answer.bundle, app_key: appKeyText, session: answer.session, return: back,
  });
  $('continue').href = ap.url + '#' + hand.toString();
  $('copy-pass').textContent = t('join_copy');
  $('copy-pass').onclick = async () => {
    try {
      await navigator.clipboard.writeText(ap.passphrase);
      $('copy-pass').textContent = t('join_copied');
    } catch (e) {
      getSelection().selectAllChildren($('ap-pass'));
    }
  };
  show('step-join', 2);
  if (notice) say(notice + ' ' + t('retry_ready'), 'warn');
  else say(t('bundle_ready'), 'ok');
  poll(answer.session); // another phone may finish the hand-off
}

function newAppKey() {
  const k = new Uint8Array(32);
  crypto.getRandomValues(k);
  return k;
}

// ev: the form sent; none: a retry with the remembered token, and notice
// what went wrong before.
async function organisation(ev, notice) {
  if (ev) ev.preventDefault();
  const token = ev ? $('token').value.trim() : localStorage.getItem(TOKEN_KEY);
  localStorage.setItem(TOKEN_KEY, token);
  remember(deviceId, { mode: 'org' });
  const appKey = newAppKey();
  const appKeyText = b64url(appKey);
  appKey.fill(0);
  const answer = await requestBundle({ claim, app_key: appKeyText }, token);
  if (answer) handOff(answer, appKeyText, notice);
  else if ($('main').dataset.state !== 'code') show('step-org', 1);
}

async function ownNetwork(ev) {
  ev.preventDefault();
  const w = { ssid: $('ssid').value, security: $('security').value };
  if (w.security !== 'open') w.psk = $('psk').value;
  if ($('hidden').checked) w.hidden = true;
  const problem = checkWifi(w);
  if (problem) return say(problem, 'error');
  remember(deviceId, { mode: 'own', ssid: w.ssid, security: w.security, hidden: !!w.hidden });
  const appKey = newAppKey();
  let blob;
  try {
    blob = await sealWifi(appKey, w);
  } catch (e) {
    return say(t('err_seal', { why: e.message }), 'error');
  } finally {
    if (w.psk) w.psk = '';
  }
  const appKeyText = b64url(appKey);
  appKey.fill(0);
  $('psk').value = '';
  const answer = await requestBundle({ claim, wifi: blob });
  if (answer) handOff(answer, appKeyText);
}

function securityChanged() {
  const open = $('security').value === 'open';
  $('psk-row').hidden = open;
  $('psk').required = !open;
  say('');
}

function showCode() {
  $('code-id').value = deviceId;
  show('step-code', 1);
  (deviceId ? $('code-claim') : $('code-id')).focus();
}

// A code typed by hand: kept in this tab, then the device's own page.
function codeTyped(ev) {
  ev.preventDefault();
  const id = $('code-id').value.trim();
  const code = normalizeClaim($('code-claim').value);
  if (!/^[A-Za-z0-9._-]{1,32}$/.test(id)) return say(t('err_code_id'), 'error');
  if (!code) return say(t('err_code_claim'), 'error');
  remember(id, { claim: code });
  $('code-claim').value = '';
  if (id !== deviceId) return location.assign('/s/' + encodeURIComponent(id));
  claim = code;
  checkDevice();
}

// What a setup attempt would say, said at once: an unknown device, a
// missing claim code, a device locked after wrong claim codes.
async function checkDevice() {
  let st = null;
  try {
    const r = await fetch('/v1/devices/' + encodeURIComponent(deviceId) + '/setup-state', { cache: 'no-store' });
    if (r.ok) st = await r.json();
  } catch (e) { /* the setup request will say what is wrong */ }
  if (st && !st.known) {
    say(t('err_unknown_device', { id: deviceId }), 'error');
    return showCode();
  }
  if (!claim && (!st || st.claim_required)) {
    say(t('need_claim'), 'warn');
    return showCode();
  }
  show('step-choose', 1);
  say('');
  if (st && st.locked_until > st.now) lock(st.locked_until - st.now);
}

function start() {
  $('title').textContent = deviceId ? t('heading', { id: deviceId }) : t('heading_any');
  if (!deviceId) return showCode();
  // The claim leaves the address bar (and the history) once it is read.
  if (frag.get('c')) {
    remember(deviceId, { claim: frag.get('c') });
    history.replaceState(null, '', location.pathname);
  }
  claim = recall(deviceId).claim || '';
  const session = frag.get('s');
  // The server's token: a secret, then ".<counter>.<device id>" (server.md).
  const shape = /^[A-Za-z0-9_-]{43}(\.[1-9][0-9]{0,15}\.[A-Za-z0-9._-]{1,32})?$/;
  if (session && shape.test(session)) return returned(session, frag.get('r'), frag.getAll('n'));
  checkDevice();
}

$('token').value = localStorage.getItem(TOKEN_KEY) || '';
$('choose-org').onclick = () => { show('step-org', 1); say(''); };
$('choose-own').onclick = () => { show('step-own', 1); say(''); };
$('back-org').onclick = () => { show('step-own', 1); say(''); };
$('back-own').onclick = () => { show('step-org', 1); say(''); };
$('security').onchange = securityChanged;
$('psk-show').onchange = () => { $('psk').type = $('psk-show').checked ? 'text' : 'password'; };
$('retry-slow').onclick = () => retry('slow', []);
$('form-org').addEventListener('submit', organisation);
$('form-own').addEventListener('submit', ownNetwork);
$('form-code').addEventListener('submit', codeTyped);
// A second scan in this tab changes only the fragment: start again.
window.addEventListener('hashchange', () => location.reload());
start();
