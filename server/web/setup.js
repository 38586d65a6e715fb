// The setup page: asks the server for a bundle, shows how to join the
// device's access point, hands bundle and app key to the device's own page
// in the URL fragment (never the query string), then waits for check-in.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const deviceId = decodeURIComponent(location.pathname.split('/').pop());
  const frag = new URLSearchParams(location.hash.slice(1));
  const claim = frag.get('c') || '';

  function b64url(bytes) {
    let s = '';
    bytes.forEach((b) => { s += String.fromCharCode(b); });
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function say(text, isError) {
    $('status').textContent = text;
    $('status').className = isError ? 'error' : '';
  }

  async function poll(session) {
    for (;;) {
      try {
        const r = await fetch('/v1/sessions/' + encodeURIComponent(session), { cache: 'no-store' });
        if (r.ok) {
          const s = await r.json();
          if (s.state === 'online') {
            $('step-done').hidden = false;
            $('online').textContent = s.device_id + ' is online';
            say('');
            return;
          }
        }
      } catch (e) { /* offline while on the device's Wi-Fi: keep trying */ }
      await new Promise((ok) => setTimeout(ok, 2000));
    }
  }

  async function getBundle(ev) {
    ev.preventDefault();
    const token = $('token').value.trim();
    localStorage.setItem('owb-installer-token', token);
    const appKey = new Uint8Array(32);
    crypto.getRandomValues(appKey);
    const appKeyText = b64url(appKey);
    say('Asking the server for a bundle…');
    let r;
    try {
      r = await fetch('/v1/setup/' + encodeURIComponent(deviceId), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Authorization': 'Bearer ' + token },
        body: JSON.stringify({ claim: claim, app_key: appKeyText }),
      });
    } catch (e) {
      say('The server could not be reached. Check your connection and try again.', true);
      return;
    }
    const answer = await r.json().catch(() => ({}));
    if (!r.ok) {
      say(answer.message || ('The server answered ' + r.status + '.'), true);
      return;
    }
    $('ap-ssid').textContent = answer.device_ap.ssid;
    $('ap-pass').textContent = answer.device_ap.passphrase;
    const back = location.origin + location.pathname + '#s=' + encodeURIComponent(answer.session);
    const hand = new URLSearchParams({
      bundle: answer.bundle, app_key: appKeyText, session: answer.session, return: back,
    });
    $('continue').href = answer.device_ap.url + '#' + hand.toString();
    $('step-join').hidden = false;
    say('Bundle ready.');
    poll(answer.session);
  }

  $('device-id').textContent = deviceId;
  $('token').value = localStorage.getItem('owb-installer-token') || '';
  $('form-server').addEventListener('submit', getBundle);
  if (frag.get('s')) poll(frag.get('s'));
  if (!claim && !frag.get('s')) say('This link has no claim code: scan the QR code on the device label.', true);
})();
