// End-to-end test of the installer's journey in a real browser: Debian's
// Chromium, driven by playwright-core, on a phone-sized screen, against
// real owb-server and owb-device processes on 127.0.0.1 (world.mjs). It
// types and clicks like a person, walks every state of both pages and
// reads their text: both modes to "online", a typed claim code, a network
// the device cannot see and a refused password each fixed with "Try
// again" (no second scan), a replayed link, the phone losing the device
// mid check-in, a server the device cannot reach, the bound on waiting,
// an unknown and a locked device, German, dark mode, 320 px. Each state
// passes axe-core's WCAG 2 A/AA rules; no page logs a script error under
// its Content-Security-Policy or fetches anything that is not there.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  ARTIFACTS, CHROMIUM, PHONE, SUITE, accessible, axeChecked, bin, check, cleanup, expect, freePort,
  mintDevice, newPage, pageProblems, results, run, snap, start, startDevice, stop, text,
} from './world.mjs';

if (!fs.existsSync(CHROMIUM)) {
  console.log(`SKIP: ${CHROMIUM} is missing (bash tools/install-deps.sh browser installs it)`);
  cleanup();
  process.exit(77);
}
fs.mkdirSync(ARTIFACTS, { recursive: true });

const OFFICE = { ssid: 'Office "Net"', psk: 'office $(secret) 1' };
const HOME = { ssid: 'Home "Net" \\ $(x)', psk: 'phone only p@ss "1"' };
const state = (page) => page.locator('main').getAttribute('data-state');
const said = (page) => text(page, '#status');

async function waitState(page, ...states) {
  await page.waitForFunction((s) => s.includes(document.querySelector('main').dataset.state), states,
    { timeout: 20000 });
  return state(page);
}

// The claim code goes to POST /v1/setup and nowhere else: no address,
// no other body.
function watchClaim(page, claim) {
  const leaks = [];
  page.on('request', (r) => {
    const where = r.url() + ' ' + (r.postData() || '');
    if (where.includes(claim) && !(r.method() === 'POST' && /\/v1\/setup\//.test(r.url()))) leaks.push(r.url());
  });
  return leaks;
}

// The states the device's page read from /v1/status, in order.
function statusStates(page) {
  const seen = [];
  page.on('response', async (r) => {
    if (r.url().endsWith('/v1/status')) seen.push((await r.json().catch(() => ({}))).state);
  });
  return seen;
}

async function joinStep(page, dev) {
  await waitState(page, 'join');
  expect(await text(page, '#ap-ssid') === `OWB-${dev.id}`, 'the AP SSID');
  expect((await text(page, '#ap-pass')).replace(/ /g, '') === dev.passphrase, 'the AP passphrase');
  expect(await page.locator('#ap-pass > span').count() === Math.ceil(dev.passphrase.length / 4), 'the passphrase in groups of four');
  return page.locator('#continue').getAttribute('href');
}

async function serverSealed(w) {
  const { page, server, deviceUrl, devA, token } = w;
  const dev = await startDevice(devA, w.dport, OFFICE);
  try {
    const leaks = watchClaim(page, devA.claim);
    await page.goto(`${server}/s/${devA.id}#c=${devA.claim}`);
    await page.getByText(`Set up ${devA.id}`).waitFor();
    await waitState(page, 'choose');
    expect(!page.url().includes('#c='), 'the claim code gone from the address bar');
    expect(await page.locator('.steps li[aria-current="step"]').innerText() === 'Network', 'step 1 of 4 current');
    await accessible(page, 'setup: choose');
    await snap(page, 'setup-choose', 'setup-page');
    await page.getByRole('button', { name: "My organisation's network" }).click();
    await page.getByLabel('Installer token').fill('owbt_not-a-real-token');
    await page.getByRole('button', { name: 'Get setup bundle' }).click();
    await page.getByText('The installer token was not accepted').waitFor();
    await accessible(page, 'setup: token refused');
    await snap(page, 'wrong-token');
    await page.getByLabel('Installer token').fill(token);
    await page.getByRole('button', { name: 'Get setup bundle' }).click();
    const href = await joinStep(page, devA);
    expect(href.startsWith(deviceUrl + '#bundle='), 'a hand-off link carrying everything in the fragment');
    expect(!href.includes('?'), 'no query string');
    expect(!(await page.locator('#ap-qr').isVisible()), 'the join QR code folded away');
    await page.getByText('Show this to another phone').click();
    expect(await page.locator('#ap-qr').isVisible(), 'the join QR code shown on request');
    await page.getByText('Show this to another phone').click();
    const join = await text(page, '#step-join');
    expect(join.includes(`This phone is connected to OWB-${devA.id}`) && join.includes('error page'),
      'what to check before leaving, got ' + join);
    await page.getByText("Don't see this network?").click();
    expect((await text(page, '#step-join')).includes('press its setup button briefly'), 'where the setup button is');
    expect((await text(page, '#step-join')).includes('30 minutes'), 'how long setup stays open');
    await accessible(page, 'setup: join the device Wi-Fi');
    await snap(page, 'setup-join', 'setup-join');
    await page.getByText("Don't see this network?").click();
    await page.emulateMedia({ colorScheme: 'dark' });
    await accessible(page, 'setup: join, dark');
    await snap(page, 'setup-join-dark', 'setup-join-dark');
    await page.setViewportSize({ width: 320, height: 640 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth) <= 320, 'nothing wider than 320 px');
    await page.setViewportSize(PHONE);
    await page.emulateMedia({ colorScheme: 'light' });

    await page.getByRole('link', { name: 'Continue on the device' }).click();
    await waitState(page, 'joined');
    expect(await text(page, '#message') === `${devA.id} is online.`, 'the device page says online');
    await accessible(page, 'device: joined');
    await snap(page, 'device-joined', 'device-page');
    await page.getByRole('link', { name: 'Back to the setup page' }).click();
    await page.getByText(`${devA.id} is online`).waitFor({ timeout: 20000 });
    expect(await page.locator('.steps li.done').count() === 4, 'every step done');
    await accessible(page, 'setup: online');
    await snap(page, 'online', 'setup-online');
    const a = dev.applied();
    expect(a.ssid === OFFICE.ssid && a.psk === OFFICE.psk && a.security === 'wpa2-psk',
      `the office network applied, got ${JSON.stringify(a)}`);
    expect((await page.evaluate(() => localStorage.getItem('owb-installer-token'))) === token, 'the token remembered');
    expect((await page.evaluate(() => sessionStorage.length)) === 0, 'the claim forgotten once online');
    expect(leaks.length === 0, 'the claim code sent nowhere but the setup request, got ' + leaks.join(', '));

    const de = await w.browser.newContext({ viewport: PHONE, locale: 'de-DE' });
    const pde = await newPage(de);
    await pde.goto(deviceUrl);
    await pde.getByText('Der Einrichtungslink ist beschädigt oder unvollständig.').waitFor();
    expect(await pde.locator('html').getAttribute('lang') === 'de', 'the device page in German');
    await de.close();
  } finally {
    await dev.stop();
  }
}

// Own network: a wrong claim code, then the code typed by hand; a network
// name the device cannot see, fixed after "Try again"; then the phone
// loses the device's Wi-Fi while it checks in (the device page's status
// answers are scripted for that part: the device here never leaves
// 127.0.0.1), and the setup page learns the outcome from the server.
async function appSealed(w) {
  const { page, server, devB } = w;
  const dev = await startDevice(devB, w.dport, HOME);
  try {
    await page.goto(`${server}/s/${devB.id}#c=0000000000000000`);
    await page.getByRole('button', { name: 'My own network' }).click();
    await page.getByLabel('Network name (SSID)').fill('Home Net');
    await page.getByLabel('Wi-Fi password').fill('phone only p@ss "1"');
    await page.getByRole('button', { name: 'Seal and get setup bundle' }).click();
    await page.getByText('The claim code does not match this device').waitFor();
    await waitState(page, 'code');
    expect(await page.getByLabel('Device id').inputValue() === devB.id, 'the id filled in');
    await accessible(page, 'setup: type the code');
    await snap(page, 'wrong-claim', 'setup-type-code');
    const typed = devB.claim.toLowerCase().replace(/(.{4})(?!$)/g, '$1-');
    await page.getByLabel('Claim code').fill(typed);
    await page.getByRole('button', { name: 'Continue' }).click();
    await waitState(page, 'choose');
    await page.getByRole('button', { name: 'My own network' }).click();
    await page.getByLabel('Network name (SSID)').fill('Home Net');
    await page.getByLabel('Security').selectOption('wpa3-sae');
    await page.getByLabel('Wi-Fi password', { exact: true }).fill('short');
    await page.getByRole('button', { name: 'Seal and get setup bundle' }).click();
    await page.getByText('The password must be 8 to 63').waitFor();
    await page.getByLabel('Security').selectOption('open');
    expect(!(await page.getByLabel('Wi-Fi password', { exact: true }).isVisible()), 'no password field for an open network');
    expect(await said(page) === '', 'the old error cleared');
    await page.getByLabel('Security').selectOption('wpa3-sae');
    await page.getByLabel('Wi-Fi password', { exact: true }).fill(HOME.psk);
    await page.getByLabel('The network is hidden').check();
    await accessible(page, 'setup: own network');
    await snap(page, 'own-network-form', 'setup-own-network');
    await page.getByRole('button', { name: 'Seal and get setup bundle' }).click();
    await joinStep(page, devB);
    await page.getByRole('link', { name: 'Continue on the device' }).click();
    await waitState(page, 'failed');
    expect((await text(page, '#message')) === 'The device cannot see that network.', 'network_not_found said');
    expect((await text(page, '#networks')).includes(HOME.ssid), 'the networks the device sees');
    expect((await text(page, '#detail')).includes('previous settings were put back'), 'the rollback said');
    await accessible(page, 'device: network not found');
    await snap(page, 'device-not-found', 'device-not-found');

    await page.getByRole('link', { name: 'Try again' }).click();
    await waitState(page, 'own');
    expect(await page.getByLabel('Network name (SSID)').inputValue() === 'Home Net', 'the SSID kept to fix');
    expect(await page.getByLabel('Security').inputValue() === 'wpa3-sae', 'the security kept');
    expect(await page.getByLabel('The network is hidden').isChecked(), 'hidden kept');
    expect((await said(page)).includes('cannot see that network') && (await said(page)).includes('Correct the settings below'),
      'the reason and what to fix');
    expect(await page.locator('#ssid-seen option').evaluateAll((o) => o.map((x) => x.value).join('|')) === HOME.ssid,
      'the networks the device saw offered');
    await accessible(page, 'setup: retry own network');
    await snap(page, 'retry-own-network', 'setup-retry');
    await page.getByLabel('Network name (SSID)').fill(HOME.ssid);
    await page.getByLabel('Wi-Fi password', { exact: true }).fill(HOME.psk);
    await page.getByRole('button', { name: 'Seal and get setup bundle' }).click();
    await joinStep(page, devB);

    let scripted = 'checking_in';
    await page.route('**/v1/status', (route) => (scripted === 'gone'
      ? route.abort('internetdisconnected')
      : route.fulfill({ json: { device_id: devB.id, state: scripted, counter: 0, setup_open: true } })));
    await page.getByRole('link', { name: 'Continue on the device' }).click();
    await waitState(page, 'checking_in');
    expect((await text(page, '#message')).includes('checking in with the server'), 'checking in said');
    await accessible(page, 'device: checking in');
    await snap(page, 'device-checking-in', 'device-checking-in');
    scripted = 'gone';
    await waitState(page, 'lost');
    const lost = await text(page, '#result');
    expect(lost.includes('lost the device') && lost.includes('being checked on the setup page') && !lost.includes('is online'),
      'no claim of success once the device is out of reach, got ' + lost);
    await accessible(page, 'device: lost after checking in');
    await snap(page, 'device-lost', 'device-lost');
    await page.unroute('**/v1/status');
    await page.getByRole('link', { name: 'See the result on the setup page' }).click();
    await page.getByText(`${devB.id} is online`).waitFor({ timeout: 20000 });
    const a = dev.applied();
    expect(a.ssid === HOME.ssid && a.psk === HOME.psk && a.security === 'wpa3-sae' && a.hidden === true,
      `the phone's network applied, got ${JSON.stringify(a)}`);
  } finally {
    await dev.stop();
  }
}

// Server-sealed with a refused password, then a replayed link: each "Try
// again" gets a fresh bundle with the remembered claim; the device (its
// premises password fixed and restarted) then takes the last one.
async function retries(w) {
  const { page, server, devC } = w;
  let dev = await startDevice(devC, w.dport, { ssid: OFFICE.ssid, psk: 'not the office password' });
  try {
    await page.goto(`${server}/s/${devC.id}#c=${devC.claim}`);
    await page.getByRole('button', { name: "My organisation's network" }).click();
    await page.getByRole('button', { name: 'Get setup bundle' }).click();
    const first = await joinStep(page, devC);
    await page.getByRole('link', { name: 'Continue on the device' }).click();
    await waitState(page, 'failed');
    expect(await text(page, '#message') === 'The Wi-Fi password was refused by the network.', 'wrong_password said');
    expect((await text(page, '#detail')).includes('previous settings were put back'), 'the rollback said');
    await accessible(page, 'device: wrong password');
    await snap(page, 'device-failed', 'device-failed');
    await page.getByRole('link', { name: 'Try again' }).click();
    const second = await joinStep(page, devC);
    expect(second !== first, 'a fresh bundle');
    expect((await said(page)).includes('refused the Wi-Fi password') && (await said(page)).includes('new setup link'),
      'the reason and the new link said');
    await snap(page, 'retry-org');

    await page.goto('about:blank');
    await page.goto(first);
    await waitState(page, 'refused');
    expect(await text(page, '#message') === 'This setup link was already used.', 'the replay said');
    await accessible(page, 'device: replayed link');
    await snap(page, 'replayed-link', 'device-replayed');
    await page.getByRole('link', { name: 'Try again' }).click();
    const third = await joinStep(page, devC);
    expect(third !== first && third !== second, 'another fresh bundle');
    expect((await said(page)).includes('already used'), 'the replay said on the setup page');

    await dev.stop();
    dev = await startDevice(devC, w.dport, OFFICE);
    await page.getByRole('link', { name: 'Continue on the device' }).click();
    await waitState(page, 'joined');
    await page.getByRole('link', { name: 'Back to the setup page' }).click();
    await page.getByText(`${devC.id} is online`).waitFor({ timeout: 20000 });
  } finally {
    await dev.stop();
  }
}

// A second server over the same database whose check-in address leads
// nowhere: the device joins, cannot check in, and rolls back; the device
// page must follow it to that end. Then the setup page's bound on
// waiting, on a clock moved forward.
async function unreachable(w) {
  const { context, devD, token } = w;
  const sport = await freePort(), dport = await freePort(), dead = await freePort();
  const server = `http://127.0.0.1:${sport}`;
  const srv = await start('server-unreachable', bin.server, ['serve', '--metrics-listen', 'off',
    '--listen', `127.0.0.1:${sport}`, '--public-url', `http://127.0.0.1:${dead}`,
    '--device-ap-url', `http://127.0.0.1:${dport}/`, '--rate-limit', '0']);
  const dev = await startDevice(devD, dport, OFFICE, 2);
  const page = await newPage(context);
  try {
    const seen = statusStates(page);
    await page.goto(`${server}/s/${devD.id}#c=${devD.claim}`);
    await page.getByRole('button', { name: "My organisation's network" }).click();
    await page.getByLabel('Installer token').fill(token);
    await page.getByRole('button', { name: 'Get setup bundle' }).click();
    const href = await joinStep(page, devD);
    await page.getByRole('link', { name: 'Continue on the device' }).click();
    expect(await waitState(page, 'failed', 'joined') === 'failed', 'no success without a check-in');
    expect(await text(page, '#message') === 'The device joined the network but could not reach the server.',
      'server_unreachable said');
    expect(seen.includes('checking_in'), 'the check-in followed, states ' + seen.join(' '));
    expect((await text(page, '#detail')).includes('previous settings were put back'), 'the rollback said');
    await accessible(page, 'device: server unreachable');
    await snap(page, 'device-server-unreachable', 'device-server-unreachable');

    // The same tab, which remembers the claim for "Try again".
    const session = new URLSearchParams(href.split('#')[1]).get('session');
    const waiting = page;
    await waiting.clock.install();
    await waiting.goto(`${server}/s/${devD.id}#s=${session}`);
    await waitState(waiting, 'wait');
    expect((await text(waiting, '#wait-text')).includes(`Waiting for ${devD.id} to check in`), 'waiting said');
    expect(!(await waiting.locator('#wait-slow').isVisible()), 'no warning yet');
    await accessible(waiting, 'setup: waiting');
    await snap(waiting, 'setup-waiting', 'setup-waiting');
    await waiting.clock.fastForward('02:01');
    await waiting.locator('#wait-slow').waitFor();
    const slow = await text(waiting, '#wait-slow');
    expect(slow.includes('may not be on your network') && slow.includes('may not reach the server'), 'what may be wrong, got ' + slow);
    await accessible(waiting, 'setup: waiting too long');
    await snap(waiting, 'setup-slow', 'setup-slow');
    await waiting.getByRole('button', { name: 'Try again' }).click();
    expect(await joinStep(waiting, devD) !== href, 'a fresh bundle after the wait');
  } finally {
    await page.close();
    await dev.stop();
    w.later.push(srv); // stopped once the browser has closed its connections
  }
}

// What the setup page says before anything is sent, and the page without
// a QR code.
async function atOnce(w) {
  const { context, server, devA, devE } = w;
  const page = await newPage(context);
  try {
    await page.goto(`${server}/s/no-such-device`);
    await waitState(page, 'code');
    expect((await said(page)).includes('The server does not know the device "no-such-device"'), 'unknown said at once');
    await snap(page, 'unknown-device', 'setup-unknown');

    const lockedUntil = Math.floor(Date.now() / 1000) + 90;
    await page.route('**/setup-state', (route) => route.fulfill({
      json: { device_id: devA.id, known: true, claim_required: true, locked_until: lockedUntil, now: lockedUntil - 90 },
    }));
    await page.goto(`${server}/s/${devA.id}#c=${devA.claim}`);
    await waitState(page, 'choose');
    const locked = await said(page);
    expect(/^Locked: too many wrong claim codes.* go on at \d\d:\d\d:\d\d \(in (89|90) s\).*administrator/.test(locked), 'locked, until when and what to do, got ' + locked);
    expect(await page.getByRole('button', { name: 'My own network' }).isDisabled(), 'no way on while locked');
    await accessible(page, 'setup: locked');
    await snap(page, 'locked', 'setup-locked');
    await page.unroute('**/setup-state');

    // The page without a QR code: id and claim code typed by hand.
    await page.goto(`${server}/setup`);
    await waitState(page, 'code');
    expect(await text(page, 'h1') === 'Set up a device', 'the typed-code page');
    await page.getByLabel('Device id').fill(devE.id);
    await page.getByLabel('Claim code').fill('not a code');
    await page.getByRole('button', { name: 'Continue' }).click();
    expect((await said(page)).includes('The claim code has 16 letters and digits'), 'a malformed code said');
    await page.getByLabel('Claim code').fill(devE.claim.replace(/(.{4})(?!$)/g, '$1 '));
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(`${server}/s/${devE.id}`);
    await waitState(page, 'choose');
    expect(await text(page, 'h1') === `Set up ${devE.id}`, 'on the device\'s page, no claim in the address');

    await page.emulateMedia({ colorScheme: 'dark' });
    await page.setViewportSize({ width: 320, height: 640 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth) <= 320, 'nothing wider than 320 px');
    await accessible(page, 'setup: choose, dark, 320 px');
    await snap(page, 'dark-320', 'setup-dark');

    const fav = await page.request.get(`${server}/favicon.ico`);
    expect(fav.status() === 200 && fav.headers()['content-type'] === 'image/x-icon', 'the favicon');
    const st = await (await page.request.get(`${server}/v1/devices/${devE.id}/setup-state`)).json();
    expect(st.known === true && st.claim_required === true && st.locked_until === 0, 'setup-state of a known device, got ' + JSON.stringify(st));
  } finally {
    await page.close();
  }
  const de = await w.browser.newContext({ viewport: PHONE, locale: 'de-DE' });
  const pde = await newPage(de);
  await pde.goto(`${server}/s/${devE.id}#c=${devE.claim}`);
  await pde.getByText('Welches WLAN soll das Gerät nutzen?').waitFor();
  expect(await text(pde, 'h1') === `${devE.id} einrichten`, 'the heading in German');
  expect(await pde.locator('html').getAttribute('lang') === 'de', 'lang="de"');
  await accessible(pde, 'setup: German');
  await snap(pde, 'german', 'setup-german');
  await de.close();
}

async function main() {
  const sport = await freePort();
  const dport = await freePort();
  const server = `http://127.0.0.1:${sport}`;
  const deviceUrl = `http://127.0.0.1:${dport}/`;
  run(bin.server, ['init']);
  const devs = {};
  for (const x of ['a', 'b', 'c', 'd', 'e']) devs['dev' + x.toUpperCase()] = mintDevice(server, x + '-');
  run(bin.server, ['device', 'import', path.join(path.dirname(devs.devA.key), 'records.jsonl')]);
  run(bin.server, ['network', 'add', 'office', '--ssid', OFFICE.ssid, '--security', 'wpa2-psk'], OFFICE.psk + '\n');
  run(bin.server, ['device', 'assign', devs.devA.id, devs.devC.id, devs.devD.id, '--network', 'office']);
  const token = run(bin.server, ['token', 'create', '--label', 'e2e']).trim();
  const srv = await start('server', bin.server, ['serve', '--metrics-listen', 'off', '--listen', `127.0.0.1:${sport}`, '--device-ap-url', deviceUrl, '--rate-limit', '0']);

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic'],
  });
  const context = await browser.newContext({ viewport: PHONE, locale: 'en-GB' });
  const w = { browser, context, server, deviceUrl, dport, token, later: [srv], ...devs };

  w.page = await newPage(context);
  await check('server-sealed: a refused token, then the whole journey; join step, dark mode, German', () => serverSealed(w));
  w.page = await newPage(context);
  await check('app-sealed: a typed claim code, a network not found fixed by Try again, the phone losing the device', () => appSealed(w));
  w.page = await newPage(context);
  await check('a refused password and a replayed link: Try again without rescanning, then online', () => retries(w));
  await check('server unreachable: the device page follows the check-in to its end; the bound on waiting', () => unreachable(w));
  await check('said at once: unknown device, locked device, a typed code at /setup; favicon; German', () => atOnce(w));
  await check('no page logged a script error or fetched something missing', async () => {
    expect(pageProblems.length === 0, 'none, got ' + JSON.stringify(pageProblems));
    console.log(`# axe-core (WCAG 2 A, AA) found nothing on ${axeChecked.length} states: ${axeChecked.join('; ')}`);
  });

  await browser.close();
  for (const p of w.later) await stop(p);
}

try {
  await main();
} catch (e) {
  results.failed++;
  console.log('not ok - setup: ' + (e.stack || e));
} finally {
  cleanup();
}
console.log(`${results.passed} passed, ${results.failed} failed (${SUITE} suite)`);
process.exit(results.failed ? 1 : 0);
