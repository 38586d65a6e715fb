#!/usr/bin/env python3
"""Writes seed corpora for the fuzz harnesses from the protocol vectors."""
import base64, json, os, sys

vectors, out = sys.argv[1], sys.argv[2]
cases = json.load(open(os.path.join(vectors, 'protocol-v1.json')))['cases']
def put(h, name, data):
    d = os.path.join(out, h)
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, name), 'wb').write(data if isinstance(data, bytes) else data.encode())
for i, c in enumerate(cases):
    put('bundle', f'b64-{i}', c['bundle'])
    pad = '=' * (-len(c['bundle']) % 4)
    put('bundle', f'raw-{i}', base64.urlsafe_b64decode(c['bundle'] + pad))
    put('wifi', f'w-{i}', c['wifi_plaintext'])
    put('wifi', f'p-{i}', c['bundle_plaintext'])
    pad = '=' * (-len(c['wifi_blob']) % 4)
    put('wifi', f'blob-{i}', base64.urlsafe_b64decode(c['wifi_blob'] + pad))
    key = base64.urlsafe_b64encode(bytes.fromhex(c['device_key'])).decode().rstrip('=')
    put('files', f'key-{i}', json.dumps({'device_id': c['device_id'], 'device_key': key,
                                          'server': 'https://prov.example.com', 'claim_code': '0123456789ABCDEF'}))
    put('files', f'rec-{i}', json.dumps({'device_id': c['device_id'], 'device_key': key}) + '\n')
    put('json', f'j-{i}', c['bundle_plaintext'])
for i, c in enumerate(cases):
    ak = base64.urlsafe_b64encode(bytes.fromhex(c['app_key'])).decode().rstrip('=')
    put('provision', f'req-{i}', json.dumps({'bundle': c['bundle'], 'app_key': ak}))
put('provision', 'empty', '{}')
import struct
c = cases[0]
ak = base64.urlsafe_b64encode(bytes.fromhex(c['app_key'])).decode().rstrip('=')
put('server', 'setup-server', 'POST /v1/setup/Omega-2231\nAuthorization: Bearer TOKEN\n' +
    json.dumps({'claim': '0123456789ABCDEF', 'app_key': ak}))
put('server', 'setup-app', 'POST /v1/setup/Omega-2231\n' +
    json.dumps({'claim': '0123456789ABCDEF', 'wifi': c['wifi_blob']}))
put('server', 'checkin', 'POST /v1/devices/Omega-2231/checkin\n' +
    json.dumps({'counter': 1, 'nonce': 'wMHCw8TFxsfIycrLzM3Ozw', 'mac': c['checkin_mac']}))
put('server', 'session', 'GET /v1/sessions/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.1796046390140711.Omega-2231\n')
put('server', 'session-legacy', 'GET /v1/sessions/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n')
put('server', 'page', 'GET /s/Omega-2231\n')
put('server', 'metrics', 'GET /metrics\n')
put('json', 'checkin', '{"counter":1,"nonce":"AAAAAAAAAAAAAAAAAAAAAA","mac":"x"}')

# The pk suite: its bundles, and a pk key file and record.
pk = json.load(open(os.path.join(vectors, 'protocol-v1-pk.json')))['cases']
for i, c in enumerate(pk):
    put('bundle', f'pk-b64-{i}', c['bundle'])
    pad = '=' * (-len(c['bundle']) % 4)
    put('bundle', f'pk-raw-{i}', base64.urlsafe_b64decode(c['bundle'] + pad))
    b64 = lambda h: base64.urlsafe_b64encode(bytes.fromhex(h)).decode().rstrip('=')
    sk = b64(c['device_seed'] + c['device_sign_pk'])
    put('files', f'pk-key-{i}', json.dumps({'suite': 'pk', 'device_id': c['device_id'], 'device_secret_key': sk,
                                             'server_public_key': [b64(c['server_sign_pk'])],
                                             'ap_passphrase': 'AAAAAAAAAAAAAAAAAAAAAA'}))
    put('files', f'pk-rec-{i}', json.dumps({'suite': 'pk', 'device_id': c['device_id'],
                                             'device_public_key': b64(c['device_sign_pk']),
                                             'ap_passphrase': 'AAAAAAAAAAAAAAAAAAAAAA'}) + '\n')

# The heartbeat: requests of both suites, the answers of the vectors (with
# a challenge, and the 409 stale_challenge), and an answer with a rollout.
hbv = json.load(open(os.path.join(vectors, 'heartbeat-v1.json')))
hb = hbv['cases']
for i, a in enumerate(hbv['answers']):
    put('heartbeat', f'answer-{i}', a['answer'])
for i, c in enumerate(hb):
    put('heartbeat', f'req-{i}', c['request'])
    # The server's route: the fuzzed server holds Omega-2231 with this key.
    if c['device_id'] == 'Omega-2231':
        put('server', f'heartbeat-{i}', 'POST /v1/devices/Omega-2231/heartbeat\n' + c['request'])
put('heartbeat', 'answer-empty', '{}')
put('heartbeat', 'answer-rollout', json.dumps({'heartbeat_s': 900,
    'challenge': 'UFFSU1RVVldYWVpbXF1eXw', 'rollout': {
    'counter': 1, 'bundle': cases[0]['bundle'],
    'app_key': base64.urlsafe_b64encode(bytes.fromhex(cases[0]['app_key'])).decode().rstrip('=')}}))

# The device's HTTP client: answers as owb-server sends them, and URLs.
put('http_answer', 'answer-200', 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 19\r\n\r\n{"heartbeat_s":900}')
put('http_answer', 'answer-409', 'HTTP/1.1 409 Conflict\r\nContent-Length: 20\r\n\r\n{"error":"replayed"}')
put('http_answer', 'answer-chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n')
put('http_answer', 'url', 'http://192.168.50.1:8080/v1/devices/Omega-2231/heartbeat')
put('http_answer', 'url-v6', 'http://[fd00::1]:8080/v1/devices/Omega-2231/checkin')
