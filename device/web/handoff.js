// The device's hand-off page: takes bundle and app key from the URL
// fragment (which never leaves the phone except in this POST to the device
// itself), sends them to /v1/provision, then follows /v1/status to the
// end: joined (the device checked in with the server), or failed with a
// reason. It never says more than it knows: when the phone loses the
// device's Wi-Fi it says so and sends the person to the setup page, which
// learns the outcome from the server. Every string is in
// handoff-strings.js.
import strings from './handoff-strings.js';
import { step, translator } from './page.js';

const t = translator(strings);
step(3);
const $ = (id) => document.getElementById(id);
const frag = new URLSearchParams(location.hash.slice(1));
const POLL_MS = 1000;
// Status requests that fail in a row before the page says it lost the
// device (one may fail while the radio changes channel).
const LOST_AFTER = 2;
// How long the page keeps looking for the device once it lost it.
const GIVE_UP_MS = 10 * 60 * 1000;
const REASONS = ['wrong_password', 'network_not_found', 'no_ip', 'server_unreachable', 'apply_failed'];
const ERRORS = ['too_large', 'bad_request', 'wrong_device', 'replayed', 'auth_failed', 'app_key_rejected',
  'invalid_config', 'busy', 'setup_closed', 'rate_limited'];
let deviceId = '';

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

// The setup page's address, with what it should know added to its
// fragment (the reason, the networks the device could see).
function setupPage(params) {
  const back = frag.get('return');
  if (!back || !/^https?:\/\//.test(back)) return null;
  if (!params) return back;
  return back + (back.includes('#') ? '&' : '#') + params.toString();
}

function link(id, href, text) {
  $(id).hidden = !href;
  if (!href) return;
  $(id).href = href;
  if (text) $(id).textContent = text;
}

// One state on screen: its words, a progress bar while it is not over, a
// mark when it is, and the step indicator (5: all done).
function view(state, message, detail, n) {
  const mark = { joined: 'ok', failed: 'bad', refused: 'bad', lost: 'unsure' }[state];
  $('main').dataset.state = state;
  $('message').textContent = message;
  $('detail').textContent = detail || '';
  $('progress').hidden = !!mark;
  $('result').className = 'card' + (mark ? ' result ' + mark : '');
  step(n);
  link('retry', null);
  link('back', null);
  $('networks').hidden = true;
  $('networks-title').hidden = true;
}

function refused(code, status) {
  const known = ERRORS.includes(code);
  view('refused', known ? t('error_' + code) : t('error_status', { status }),
    t('refused_detail') + ' ' + t('retry_hint'), 3);
  link('retry', setupPage(new URLSearchParams({ r: known ? code : 'other' })));
}

function failed(s) {
  const reason = REASONS.includes(s.reason) ? s.reason : 'apply_failed';
  const names = (s.visible_networks || []).slice(0, 20);
  view('failed', t('reason_' + reason), t('rolled_back') + ' ' + t('retry_hint'), 3);
  // The list answers "which network, then?"; the setup page offers it too.
  if (names.length && reason === 'network_not_found') {
    $('networks').textContent = '';
    for (const n of names) {
      const li = document.createElement('li');
      li.textContent = n;
      $('networks').append(li);
    }
    $('networks').hidden = false;
    $('networks-title').hidden = false;
  }
  const p = new URLSearchParams({ r: reason });
  names.forEach((n) => p.append('n', n));
  link('retry', setupPage(p));
}

// The phone cannot reach the device any more. After "checking_in" that
// is expected (the device closes its Wi-Fi once it is done), but whether
// the check-in worked only the server knows: the setup page asks it.
function lost(seen) {
  const ssid = 'OWB-' + deviceId;
  if (seen === 'checking_in') view('lost', t('lost_checking'), t('lost_checking_detail'), 4);
  else view('lost', t('lost_applying'), t('lost_applying_detail', { ssid }), 3);
  link('back', setupPage(), t('see_result'));
}

async function status() {
  try {
    const r = await fetch('/v1/status', { cache: 'no-store' });
    return r.ok ? await r.json() : null;
  } catch (e) {
    return null;
  }
}

// Follows the device until it says how it ended; looks for it a while
// longer when the phone loses it, in case the phone comes back.
async function follow() {
  let seen = 'applying', misses = 0, lostAt = 0;
  view('applying', t('applying'), t('applying_detail'), 3);
  for (;;) {
    await sleep(POLL_MS);
    const s = await status();
    if (!s) {
      if (++misses === LOST_AFTER) {
        lost(seen);
        lostAt = Date.now();
      }
      if (lostAt && Date.now() - lostAt > GIVE_UP_MS) return;
      continue;
    }
    misses = 0;
    lostAt = 0;
    if (s.state === 'joined') {
      view('joined', t('joined', { id: deviceId }), t('joined_detail'), 5);
      return link('back', setupPage(), t('back'));
    }
    if (s.state === 'failed') return failed(s);
    if (s.state === 'setup') return refused('setup_closed');
    if (s.state !== seen) {
      seen = s.state;
      if (seen === 'checking_in') view('checking_in', t('checking_in'), t('checking_in_detail'), 3);
      else view('applying', t('applying'), t('applying_detail'), 3);
    }
  }
}

async function send() {
  const bundle = frag.get('bundle');
  const appKey = frag.get('app_key');
  if (!bundle || !appKey) return refused('bad_request');
  view('sending', t('sending'), '', 3);
  let r;
  try {
    r = await fetch('/v1/provision', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ bundle: bundle, app_key: appKey }),
    });
  } catch (e) {
    view('refused', t('unreachable'), t('retry_hint'), 3);
    return link('retry', setupPage(new URLSearchParams({ r: 'other' })));
  }
  const answer = await r.json().catch(() => ({}));
  if (r.status === 202 || answer.error === 'busy') return follow();
  refused(answer.error, r.status);
}

async function start() {
  const s = await status();
  deviceId = (s && s.device_id) || '';
  $('title').textContent = deviceId ? t('heading', { id: deviceId }) : t('heading_any');
  send();
}

start();
