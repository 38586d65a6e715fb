// The setup page (GET /s/{id}#c=<claim>). It never sends the claim code
// anywhere but the setup request, never sends the app key to the server,
// and in "my own network" mode seals the Wi-Fi password on the phone
// (libsodium, XChaCha20-Poly1305) so the server never sees it.
// Protocol: PROTOCOL.md, "Inner layer" and "HTTP: provisioning server".
import sodiumModule from './sodium.mjs';
import qrcode from './qrcode.mjs';

const $ = (id) => document.getElementById(id);
const deviceId = decodeURIComponent(location.pathname.split('/').pop());
const frag = new URLSearchParams(location.hash.slice(1));
const claim = frag.get('c') || '';
const TOKEN_KEY = 'owb-installer-token';

const sentences = {
  claim_rejected: 'The claim code does not match this device. Scan the QR code on the device\'s label again.',
  locked: 'Too many wrong claim codes: this device is locked for a while. Try again later.',
  unknown_device: 'The server does not know this device. Check the label, or ask the manufacturer.',
  unauthorized: 'The installer token was not accepted. Check it with your administrator.',
  rate_limited: 'Too many requests. Wait a moment and try again.',
  bad_request: 'The request was refused as malformed. Reload the page and try again.',
  unavailable: 'The server is busy. Try again in a moment.',
};

function say(text, isError) {
  $('status').textContent = text;
  $('status').className = isError ? 'error' : '';
}

function show(...ids) {
  for (const s of document.querySelectorAll('main > section')) s.hidden = !ids.includes(s.id);
}

function b64url(bytes) {
  let s = '';
  bytes.forEach((b) => { s += String.fromCharCode(b); });
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// The rules of W, checked here so the user hears about a mistake at once;
// the device checks them again.
function checkWifi(w) {
  const n = new TextEncoder().encode(w.ssid).length;
  if (n < 1 || n > 32) return 'The network name must be 1 to 32 bytes long.';
  if (/[\u0000-\u001f\u007f]/.test(w.ssid)) return 'The network name cannot hold control characters.';
  if (w.security === 'open') return null;
  if (/^[0-9a-fA-F]{64}$/.test(w.psk)) return null;
  if (!/^[\u0020-\u007e]{8,63}$/.test(w.psk))
    return 'The password must be 8 to 63 plain characters (letters, digits, punctuation, spaces).';
  return null;
}

// wifi_blob = nonce(24) || AEAD(key = A, aad = "OWB1" "W" id_len id, msg = W)
async function sealWifi(appKey, w) {
  await sodiumModule.ready;
  const sodium = sodiumModule;
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

async function poll(session) {
  for (;;) {
    try {
      const r = await fetch('/v1/sessions/' + encodeURIComponent(session), { cache: 'no-store' });
      if (r.ok) {
        const s = await r.json();
        if (s.state === 'online') {
          show('step-done');
          $('online').textContent = s.device_id + ' is online';
          say('');
          return;
        }
      }
    } catch (e) { /* the phone is on the device's Wi-Fi for a while: keep trying */ }
    await new Promise((ok) => setTimeout(ok, 1500));
  }
}

async function requestBundle(body, token) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = 'Bearer ' + token;
  say('Asking the server for a setup bundle…');
  let r;
  try {
    r = await fetch('/v1/setup/' + encodeURIComponent(deviceId), {
      method: 'POST', headers, body: JSON.stringify(body), cache: 'no-store',
    });
  } catch (e) {
    say('The server could not be reached. Check your connection and try again.', true);
    return null;
  }
  const answer = await r.json().catch(() => ({}));
  if (!r.ok) {
    say(sentences[answer.error] || answer.message || ('The server answered ' + r.status + '.'), true);
    return null;
  }
  return answer;
}

function handOff(answer, appKeyText) {
  const ap = answer.device_ap;
  $('ap-ssid').textContent = ap.ssid;
  $('ap-pass').textContent = ap.passphrase;
  drawQr('WIFI:T:WPA;S:' + wifiEscape(ap.ssid) + ';P:' + wifiEscape(ap.passphrase) + ';;');
  // Everything the device needs travels in the fragment, which the browser
  // never sends to any server.
  const back = location.origin + location.pathname + '#s=' + encodeURIComponent(answer.session);
  const hand = new URLSearchParams({
    bundle: answer.bundle, app_key: appKeyText, session: answer.session, return: back,
  });
  $('continue').href = ap.url + '#' + hand.toString();
  $('copy-pass').onclick = async () => {
    try {
      await navigator.clipboard.writeText(ap.passphrase);
      $('copy-pass').textContent = 'Copied';
    } catch (e) {
      getSelection().selectAllChildren($('ap-pass'));
    }
  };
  show('step-join');
  say('Setup bundle ready.');
  poll(answer.session);
}

function newAppKey() {
  const k = new Uint8Array(32);
  crypto.getRandomValues(k);
  return k;
}

async function organisation(ev) {
  ev.preventDefault();
  const token = $('token').value.trim();
  localStorage.setItem(TOKEN_KEY, token);
  const appKey = newAppKey();
  const appKeyText = b64url(appKey);
  appKey.fill(0);
  const answer = await requestBundle({ claim, app_key: appKeyText }, token);
  if (answer) handOff(answer, appKeyText);
}

async function ownNetwork(ev) {
  ev.preventDefault();
  const w = { ssid: $('ssid').value, security: $('security').value };
  if (w.security !== 'open') w.psk = $('psk').value;
  if ($('hidden').checked) w.hidden = true;
  const problem = checkWifi(w);
  if (problem) {
    say(problem, true);
    return;
  }
  const appKey = newAppKey();
  let blob;
  try {
    blob = await sealWifi(appKey, w);
  } catch (e) {
    say('This browser could not seal the settings (' + e.message + ').', true);
    return;
  }
  const appKeyText = b64url(appKey);
  appKey.fill(0);
  $('psk').value = '';
  const answer = await requestBundle({ claim, wifi: blob });
  if (answer) handOff(answer, appKeyText);
}

$('device-id').textContent = deviceId;
$('token').value = localStorage.getItem(TOKEN_KEY) || '';
$('choose-org').onclick = () => show('step-org');
$('choose-own').onclick = () => show('step-own');
$('back-org').onclick = () => show('step-own');
$('back-own').onclick = () => show('step-org');
$('security').onchange = () => {
  const open = $('security').value === 'open';
  $('psk').hidden = open;
  $('psk-label').hidden = open;
};
$('form-org').addEventListener('submit', organisation);
$('form-own').addEventListener('submit', ownNetwork);

if (frag.get('s')) {
  show('step-wait');
  poll(frag.get('s'));
} else if (!claim) {
  say('This link has no claim code: scan the QR code on the device\'s label.', true);
} else {
  show('step-choose');
}
