// The device's hand-off page: takes bundle and app key from the URL
// fragment (which never leaves the phone except in this POST to the device
// itself), sends them to /v1/provision, then follows /v1/status.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const frag = new URLSearchParams(location.hash.slice(1));
  const sentences = {
    too_large: 'The setup link is damaged (too large). Go back and start again.',
    bad_request: 'The setup link is damaged or incomplete. Go back and start again.',
    wrong_device: 'This setup link is for a different device. Check that you joined the right Wi-Fi network.',
    replayed: 'This setup link was already used. Go back to the setup page to get a new one.',
    auth_failed: 'The device did not accept this setup link as genuine. Go back and start again.',
    app_key_rejected: 'The Wi-Fi settings could not be unlocked. Go back and start again.',
    invalid_config: 'The Wi-Fi settings are not valid (check the network name and password).',
    busy: 'The device is already applying settings. Wait a moment.',
    setup_closed: 'The device is not in setup mode. Press its setup button and try again.',
    rate_limited: 'Too many failed attempts. Wait a minute and try again.',
  };
  const reasons = {
    wrong_password: 'The Wi-Fi password was refused by the network.',
    network_not_found: 'The device cannot see that network.',
    no_ip: 'The device joined the network but got no address from it.',
    server_unreachable: 'The device joined the network but could not reach the server.',
    apply_failed: 'The device could not apply the settings.',
  };

  function say(text, isError) {
    $('message').textContent = text;
    $('message').className = isError ? 'error' : '';
  }

  function showBack() {
    const back = frag.get('return');
    if (back && /^https?:\/\//.test(back)) {
      $('back').href = back;
      $('back').hidden = false;
    }
  }

  async function follow() {
    for (;;) {
      await new Promise((ok) => setTimeout(ok, 1000));
      let s;
      try {
        const r = await fetch('/v1/status', { cache: 'no-store' });
        s = await r.json();
      } catch (e) {
        // The device leaves its setup network once it has joined.
        say('The device has left its setup network: it is joining your Wi-Fi. Reconnect this phone to your usual network and go back to the setup page.');
        showBack();
        return;
      }
      if (s.state === 'joined') {
        say('The device joined the network.');
        showBack();
        return;
      }
      if (s.state === 'failed') {
        say((reasons[s.reason] || 'Setup failed.') + ' The previous settings were put back; go back to the setup page to try again.', true);
        if (s.visible_networks && s.visible_networks.length) {
          const ul = $('networks');
          ul.textContent = '';
          s.visible_networks.forEach((n) => {
            const li = document.createElement('li');
            li.textContent = n;
            ul.appendChild(li);
          });
          ul.hidden = false;
          $('networks-title').hidden = false;
        }
        showBack();
        return;
      }
    }
  }

  async function send() {
    const bundle = frag.get('bundle');
    const appKey = frag.get('app_key');
    if (!bundle || !appKey) {
      say(sentences.bad_request, true);
      showBack();
      return;
    }
    let r;
    try {
      r = await fetch('/v1/provision', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ bundle: bundle, app_key: appKey }),
      });
    } catch (e) {
      say('The device could not be reached. Check that this phone is on the device\'s Wi-Fi.', true);
      return;
    }
    const answer = await r.json().catch(() => ({}));
    if (r.status !== 202) {
      say(sentences[answer.error] || answer.message || ('The device answered ' + r.status + '.'), true);
      showBack();
      return;
    }
    say('The device is applying the settings…');
    follow();
  }

  fetch('/v1/status', { cache: 'no-store' })
    .then((r) => r.json())
    .then((s) => { $('device-id').textContent = s.device_id; })
    .catch(() => {});
  send();
})();
