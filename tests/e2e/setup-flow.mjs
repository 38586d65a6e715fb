// End-to-end test of the user's journey in a real browser: Debian's
// Chromium, driven by playwright-core, against real owb-server and
// owb-device processes on 127.0.0.1. It types and clicks like a person,
// reads the pages' text, follows the hand-off link, and checks what the
// device applied and that the server page says the device is online.
// Screenshots of every step go to $OWB_E2E_ARTIFACTS.
import { chromium } from 'playwright-core';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const BUILD = process.env.OWB_BUILD_DIR;
const ARTIFACTS = process.env.OWB_E2E_ARTIFACTS || path.join(BUILD, 'e2e-artifacts');
const CHROMIUM = process.env.OWB_CHROMIUM || '/usr/bin/chromium';
const SUITE = process.env.OWB_E2E_SUITE || 'sym';
const bin = {
  server: path.join(BUILD, 'server/owb-server'),
  device: path.join(BUILD, 'device/owb-device'),
  mint: path.join(BUILD, 'tools/owb-mint'),
  wifi: path.join(BUILD, 'tools/owb-demo-wifi'),
};

if (!fs.existsSync(CHROMIUM)) {
  console.log(`SKIP: ${CHROMIUM} is missing (bash tools/install-deps.sh browser installs it)`);
  process.exit(77);
}
fs.mkdirSync(ARTIFACTS, { recursive: true });
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'owb-e2e-'));
const env = { ...process.env, OWB_DB: path.join(work, 'owb.db'), OWB_MASTER_KEY_FILE: path.join(work, 'master.key') };
const procs = [];
let passed = 0, failed = 0;

function run(cmd, args, input) {
  return execFileSync(cmd, args, { env, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => ok(p)); });
    s.on('error', fail);
  });
}

async function start(name, cmd, args, extraEnv = {}) {
  const log = path.join(work, name + '.log');
  const fd = fs.openSync(log, 'w');
  const p = spawn(cmd, args, { env: { ...env, ...extraEnv }, stdio: ['ignore', 'ignore', fd] });
  procs.push(p);
  for (let i = 0; i < 200; i++) {
    const text = fs.readFileSync(log, 'utf8');
    if (/\(port \d+\)/.test(text)) return p;
    if (p.exitCode !== null) throw new Error(`${name} exited: ${text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${name} did not start`);
}

function stop(p) {
  return new Promise((ok) => {
    if (p.exitCode !== null) return ok();
    p.on('exit', ok);
    p.kill('SIGTERM');
  });
}

// The pk suite pins the server's public key in the device at minting.
function suiteArgs() {
  if (SUITE !== 'pk') return [];
  const pub = path.join(work, 'server.pub');
  fs.writeFileSync(pub, run(bin.server, ['signing-key', 'public']));
  return ['--suite', 'pk', '--server-public-key', pub];
}

function mintDevice(server, prefix) {
  const out = run(bin.mint, ['device', '--prefix', prefix, '--server', server, '--out-dir', path.join(work, 'factory'), ...suiteArgs()]);
  const id = /^id:\s+(\S+)/m.exec(out)[1];
  const claim = /#c=([0-9A-Z]+)/.exec(out)[1];
  const ap = run(bin.mint, ['ap', '--key-file', path.join(work, 'factory', id + '.key')]);
  const inspect = run(bin.mint, ['inspect', '--key-file', path.join(work, 'factory', id + '.key')]);
  if (!new RegExp(`^suite:\\s+${SUITE}$`, 'm').test(inspect)) throw new Error(`minted a device of another suite than ${SUITE}:\n${inspect}`);
  return { id, claim, passphrase: /passphrase:\s+(\S+)/.exec(ap)[1], key: path.join(work, 'factory', id + '.key') };
}

async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok - ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${name}: ${e.stack || e}`);
  }
}

function expect(cond, what) {
  if (!cond) throw new Error('expected ' + what);
}

let shot = 0;
async function snap(page, name) {
  shot++;
  await page.screenshot({ path: path.join(ARTIFACTS, `${SUITE}-${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
}

async function text(page, selector) {
  return (await page.locator(selector).innerText()).trim();
}

async function main() {
  const sport = await freePort();
  const dport = await freePort();
  const server = `http://127.0.0.1:${sport}`;
  const deviceUrl = `http://127.0.0.1:${dport}/`;
  run(bin.server, ['init']);
  const devA = mintDevice(server, 'a-');
  const devB = mintDevice(server, 'b-');
  const devC = mintDevice(server, 'c-');
  run(bin.server, ['device', 'import', path.join(work, 'factory', 'records.jsonl')]);
  run(bin.server, ['network', 'add', 'office', '--ssid', 'Office "Net"', '--security', 'wpa2-psk'], 'office $(secret) 1\n');
  run(bin.server, ['device', 'assign', devA.id, devC.id, '--network', 'office']);
  const token = run(bin.server, ['token', 'create', '--label', 'e2e']).trim();
  const srv = await start('server', bin.server, ['serve', '--metrics-listen', 'off', '--listen', `127.0.0.1:${sport}`, '--device-ap-url', deviceUrl, '--rate-limit', '0']);

  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'owb-e2e-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 390, height: 844 },
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic'],
  });
  const page = context.pages()[0] || await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  const startDevice = async (dev, name, extra = {}) => {
    const wifiDir = path.join(work, name + '-wifi');
    const stateDir = path.join(work, name + '-state');
    fs.mkdirSync(wifiDir, { mode: 0o700 });
    fs.mkdirSync(stateDir, { mode: 0o700 });
    const p = await start(name, bin.device, ['--key-file', dev.key, '--state-dir', stateDir,
      '--listen', `127.0.0.1:${dport}`, '--wifi-backend', 'command', '--wifi-command', bin.wifi,
      '--join-timeout', '5', '--checkin-timeout', '10'],
    { OWB_DEMO_DIR: wifiDir, OWB_DEMO_SSID: 'Office "Net"', ...extra });
    return { p, applied: () => JSON.parse(fs.readFileSync(path.join(wifiDir, 'applied.json'), 'utf8')) };
  };

  await check('server-sealed: wrong installer token, then the whole journey', async () => {
    const dev = await startDevice(devA, 'device-a');
    await page.goto(`${server}/s/${devA.id}#c=${devA.claim}`);
    await page.getByText(`Set up ${devA.id}`).waitFor();
    await snap(page, 'setup-page');
    await page.getByRole('button', { name: "My organisation's network" }).click();
    await page.getByLabel('Installer token').fill('owbt_not-a-real-token');
    await page.getByRole('button', { name: 'Get setup bundle' }).click();
    await page.getByText('The installer token was not accepted').waitFor();
    await snap(page, 'wrong-token');
    await page.getByLabel('Installer token').fill(token);
    await page.getByRole('button', { name: 'Get setup bundle' }).click();
    await page.getByText('Join Wi-Fi').waitFor();
    expect(await text(page, '#ap-ssid') === `OWB-${devA.id}`, 'the AP SSID');
    expect(await text(page, '#ap-pass') === devA.passphrase, 'the AP passphrase');
    const href = await page.locator('#continue').getAttribute('href');
    expect(href.startsWith(deviceUrl + '#bundle='), 'a hand-off link carrying everything in the fragment');
    expect(!href.includes('?'), 'no query string');
    await snap(page, 'join-device-wifi');
    await page.getByRole('link', { name: 'Continue on the device' }).click();
    await page.getByText('The device joined the network.').waitFor({ timeout: 15000 });
    await snap(page, 'device-joined');
    await page.getByRole('link', { name: 'Back to the setup page' }).click();
    await page.getByText(`${devA.id} is online`).waitFor({ timeout: 20000 });
    await snap(page, 'online');
    const a = dev.applied();
    expect(a.ssid === 'Office "Net"' && a.psk === 'office $(secret) 1' && a.security === 'wpa2-psk',
      `the office network applied, got ${JSON.stringify(a)}`);
    expect((await page.evaluate(() => localStorage.getItem('owb-installer-token'))) === token, 'the token remembered');
    await stop(dev.p);
  });

  await check('app-sealed: wrong claim code, then the whole journey', async () => {
    const dev = await startDevice(devB, 'device-b');
    await page.goto(`${server}/s/${devB.id}#c=0000000000000000`);
    await page.getByRole('button', { name: 'My own network' }).click();
    await page.getByLabel('Network name (SSID)').fill('Home "Net" \\ $(x)');
    await page.getByLabel('Wi-Fi password').fill('phone only p@ss "1"');
    await page.getByRole('button', { name: 'Seal and get setup bundle' }).click();
    await page.getByText('The claim code does not match this device').waitFor();
    await snap(page, 'wrong-claim');
    await page.goto(`${server}/s/${devB.id}#c=${devB.claim}`);
    await page.reload();
    await page.getByRole('button', { name: 'My own network' }).click();
    await page.getByLabel('Network name (SSID)').fill('Home "Net" \\ $(x)');
    await page.getByLabel('Security').selectOption('wpa3-sae');
    await page.getByLabel('Wi-Fi password').fill('short');
    await page.getByRole('button', { name: 'Seal and get setup bundle' }).click();
    await page.getByText('The password must be 8 to 63').waitFor();
    await page.getByLabel('Wi-Fi password').fill('phone only p@ss "1"');
    await page.getByLabel('The network is hidden').check();
    await snap(page, 'own-network-form');
    await page.getByRole('button', { name: 'Seal and get setup bundle' }).click();
    await page.getByText('Join Wi-Fi').waitFor();
    await page.getByRole('link', { name: 'Continue on the device' }).click();
    await page.getByText('The device joined the network.').waitFor({ timeout: 15000 });
    await page.getByRole('link', { name: 'Back to the setup page' }).click();
    await page.getByText(`${devB.id} is online`).waitFor({ timeout: 20000 });
    await snap(page, 'own-network-online');
    const a = dev.applied();
    expect(a.ssid === 'Home "Net" \\ $(x)' && a.psk === 'phone only p@ss "1"' && a.security === 'wpa3-sae' && a.hidden === true,
      `the phone's network applied, got ${JSON.stringify(a)}`);
    await stop(dev.p);
  });

  await check('join failure: the device rolls back and says why; the link cannot be replayed', async () => {
    const dev = await startDevice(devC, 'device-c', { OWB_DEMO_FAIL: '1' });
    await page.goto(`${server}/s/${devC.id}#c=${devC.claim}`);
    await page.getByRole('button', { name: "My organisation's network" }).click();
    await page.getByRole('button', { name: 'Get setup bundle' }).click();
    await page.getByText('Join Wi-Fi').waitFor();
    const href = await page.locator('#continue').getAttribute('href');
    await page.getByRole('link', { name: 'Continue on the device' }).click();
    await page.getByText('The Wi-Fi password was refused by the network.').waitFor({ timeout: 15000 });
    expect((await page.locator('body').innerText()).includes('previous settings were put back'), 'the rollback said');
    await snap(page, 'join-failed');
    await page.goto('about:blank');
    await page.goto(href);
    await page.getByText('This setup link was already used.').waitFor({ timeout: 10000 });
    await snap(page, 'replayed-link');
    await stop(dev.p);
  });

  await check('the pages load with no script error under their Content-Security-Policy', async () => {
    expect(consoleErrors.filter((e) => !/Failed to load resource/.test(e)).length === 0,
      'no console errors, got ' + JSON.stringify(consoleErrors));
  });

  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
  await stop(srv);
}

try {
  await main();
} catch (e) {
  failed++;
  console.log('not ok - setup: ' + (e.stack || e));
} finally {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  if (failed) console.log(`logs kept in ${work}`);
  else fs.rmSync(work, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
