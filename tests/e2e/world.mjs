// The browser test's world: real owb-server and owb-device processes on
// 127.0.0.1, minted devices, a stand-in premises Wi-Fi for the device's
// command backend, and the checks every page gets (script errors, 404s,
// axe-core's WCAG 2 A and AA rules, screenshots).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

export const BUILD = process.env.OWB_BUILD_DIR;
export const ARTIFACTS = process.env.OWB_E2E_ARTIFACTS || path.join(BUILD, 'e2e-artifacts');
export const CHROMIUM = process.env.OWB_CHROMIUM || '/usr/bin/chromium';
export const SUITE = process.env.OWB_E2E_SUITE || 'sym';
// Set to a folder (docs/images) to keep the documented states there too.
const DOC_IMAGES = process.env.OWB_E2E_DOC_IMAGES || '';
export const PHONE = { width: 360, height: 740 };
export const bin = {
  server: path.join(BUILD, 'server/owb-server'),
  device: path.join(BUILD, 'device/owb-device'),
  mint: path.join(BUILD, 'tools/owb-mint'),
  wifi: path.join(BUILD, 'tools/owb-demo-wifi'),
};

export const work = fs.mkdtempSync(path.join(os.tmpdir(), 'owb-e2e-'));
export const env = { ...process.env, OWB_DB: path.join(work, 'owb.db'), OWB_MASTER_KEY_FILE: path.join(work, 'master.key') };
const procs = [];
export const results = { passed: 0, failed: 0 };

export function run(cmd, args, input) {
  return execFileSync(cmd, args, { env, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

export function freePort() {
  return new Promise((ok, fail) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => ok(p)); });
    s.on('error', fail);
  });
}

export async function start(name, cmd, args, extraEnv = {}) {
  const log = path.join(work, name + '.log');
  const fd = fs.openSync(log, 'a');
  const from = fs.statSync(log).size;
  const p = spawn(cmd, args, { env: { ...env, ...extraEnv }, stdio: ['ignore', 'ignore', fd] });
  procs.push(p);
  for (let i = 0; i < 200; i++) {
    const text = fs.readFileSync(log, 'utf8').slice(from);
    if (/\(port \d+\)/.test(text)) return p;
    if (p.exitCode !== null) throw new Error(`${name} exited: ${text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${name} did not start`);
}

// SIGTERM waits up to 2 s for the browser's idle keep-alive connections;
// a device is cut off instead (SIGKILL, as a power cut: what it must keep
// is on disk before it answers).
export function stop(p, sig = 'SIGTERM') {
  return new Promise((ok) => {
    if (p.exitCode !== null) return ok();
    p.on('exit', ok);
    p.kill(sig);
  });
}

export function killAll() {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
}

// The pk suite pins the server's public key in the device at minting.
function suiteArgs() {
  if (SUITE !== 'pk') return [];
  const pub = path.join(work, 'server.pub');
  fs.writeFileSync(pub, run(bin.server, ['signing-key', 'public']));
  return ['--suite', 'pk', '--server-public-key', pub];
}

export function mintDevice(server, prefix) {
  const out = run(bin.mint, ['device', '--prefix', prefix, '--server', server, '--out-dir', path.join(work, 'factory'), ...suiteArgs()]);
  const id = /^id:\s+(\S+)/m.exec(out)[1];
  const claim = /#c=([0-9A-Z]+)/.exec(out)[1];
  const key = path.join(work, 'factory', id + '.key');
  const ap = run(bin.mint, ['ap', '--key-file', key]);
  const inspect = run(bin.mint, ['inspect', '--key-file', key]);
  if (!new RegExp(`^suite:\\s+${SUITE}$`, 'm').test(inspect)) throw new Error(`minted a device of another suite than ${SUITE}:\n${inspect}`);
  return { id, claim, passphrase: /passphrase:\s+(\S+)/.exec(ap)[1], key };
}

// The premises Wi-Fi, for the command backend: the device sees one
// network ($OWB_DEMO_SSID, which the scan lists) and joins it only with
// its password ($OWB_E2E_PSK); anything else fails the way a real radio
// reports it (12: not found, 11: wrong password). The rest is
// owb-demo-wifi's.
const premises = path.join(work, 'premises-wifi');
fs.writeFileSync(premises, `#!/bin/sh
d="$OWB_DEMO_DIR"
case "$1" in
apply)
    printf '%s' "$OWB_SSID" > "$d/joining-ssid"
    printf '%s' "$OWB_PSK" > "$d/joining-psk" ;;
check)
    [ "$(cat "$d/joining-ssid")" = "$OWB_DEMO_SSID" ] || exit 12
    [ "$(cat "$d/joining-psk")" = "$OWB_E2E_PSK" ] || exit 11
    exit 0 ;;
esac
exec "$OWB_E2E_DEMO_WIFI" "$@"
`, { mode: 0o700 });

// Starts dev's agent on port with the premises network {ssid, psk};
// restarting keeps its state (the replay counter).
export async function startDevice(dev, port, network, checkinTimeout = 10) {
  const wifiDir = path.join(work, dev.id + '-wifi');
  const stateDir = path.join(work, dev.id + '-state');
  fs.mkdirSync(wifiDir, { mode: 0o700, recursive: true });
  fs.mkdirSync(stateDir, { mode: 0o700, recursive: true });
  const p = await start(dev.id, bin.device, ['--key-file', dev.key, '--state-dir', stateDir,
    '--listen', `127.0.0.1:${port}`, '--wifi-backend', 'command', '--wifi-command', premises,
    '--join-timeout', '5', '--checkin-timeout', String(checkinTimeout)],
  { OWB_DEMO_DIR: wifiDir, OWB_DEMO_SSID: network.ssid, OWB_E2E_PSK: network.psk, OWB_E2E_DEMO_WIFI: bin.wifi });
  return {
    p,
    applied: () => JSON.parse(fs.readFileSync(path.join(wifiDir, 'applied.json'), 'utf8')),
    stop: () => stop(p, 'SIGKILL'),
  };
}

export async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.passed++;
    console.log(`ok - ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    results.failed++;
    console.log(`not ok - ${name}: ${e.stack || e}`);
  }
}

export function expect(cond, what) {
  if (!cond) throw new Error('expected ' + what);
}

// Every page a test opens: script errors (a CSP refusal is one) and
// answers of 404 are collected, and must stay empty.
export const pageProblems = [];
export async function newPage(context) {
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageProblems.push(m.text());
  });
  page.on('pageerror', (e) => pageProblems.push(String(e)));
  page.on('response', (r) => { if (r.status() === 404) pageProblems.push('404 ' + r.url()); });
  return page;
}

let shot = 0;
// A screenshot of the phone's screen in the artifacts; with a doc name,
// also in the documentation's images (once, from the sym suite).
export async function snap(page, name, doc) {
  shot++;
  await page.screenshot({ path: path.join(ARTIFACTS, `${SUITE}-${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
  if (doc && DOC_IMAGES && SUITE === 'sym') {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(DOC_IMAGES, doc + '.png') });
  }
}

const require = createRequire(import.meta.url);
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
export const axeChecked = [];
// axe-core's WCAG 2 level A and AA rules on the page as it is now.
export async function accessible(page, what) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] }, resultTypes: ['violations'],
    });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  axeChecked.push(what);
  expect(violations.length === 0, `no WCAG 2 A/AA violations on ${what}, got\n  ${violations.join('\n  ')}`);
}

// What a phone-sized page shows: its visible text, whitespace folded.
export async function text(page, selector) {
  return (await page.locator(selector).innerText()).replace(/\s+/g, ' ').trim();
}

export function cleanup() {
  killAll();
  if (results.failed) console.log(`logs kept in ${work}`);
  else fs.rmSync(work, { recursive: true, force: true });
}
