// The WebSocket connection of a subscription (docs/http-api.md, "Subscriptions"): the server
// frames its messages itself (websocket_frames.h), so these check it against clients we did not
// write: the `ws` package for ping/pong, the closing handshake, ?batch_ms= pacing and the
// server's keep-alive pings; a raw TCP client for a frame that breaks RFC 6455.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';

import {
  freshDataDir, makeEvent, ndjson, postEvents, runSql, sleep, startSluice,
} from './lib/sluice.js';

function subscribe(url, query) {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/subscribe?${query}`);
  const client = { ws, messages: [], arrivals: [], closed: null, pings: 0 };
  ws.on('message', (data) => {
    client.messages.push(JSON.parse(data.toString()));
    client.arrivals.push(performance.now());
  });
  ws.on('ping', () => { client.pings += 1; });
  client.closedPromise = new Promise((resolve) => {
    ws.on('close', (code, reason) => {
      client.closed = { code, reason: reason.toString() };
      resolve(client.closed);
    });
  });
  client.opened = new Promise((resolve, reject) => {
    ws.on('open', resolve);
    ws.on('error', reject);
  });
  return client;
}

// Groups of messages that arrived together (less than `gapMs` apart).
function bursts(arrivals, gapMs) {
  let count = 0;
  for (let i = 0; i < arrivals.length; i++)
    if (i === 0 || arrivals[i] - arrivals[i - 1] > gapMs) count += 1;
  return count;
}

describe('WebSocket connection', () => {
  let sluice;
  before(async () => {
    const dataDir = freshDataDir();
    const config = path.join(dataDir, 'sluice.toml');
    writeFileSync(config, '[http]\nwebsocket_ping_seconds = 1\n');
    sluice = await startSluice({ dataDir, args: ['--config', config] });
  });
  after(async () => { await sluice.stop(); });

  test('a ping is answered with a pong carrying its payload', async () => {
    const client = subscribe(sluice.url, 'view=events_per_minute');
    await client.opened;
    const pong = new Promise((resolve) => client.ws.on('pong', (data) => resolve(data.toString())));
    client.ws.ping('are you there');
    assert.equal(await pong, 'are you there');
    client.ws.close();
    await client.closedPromise;
  });

  test("a client's close is echoed with its code, then the server hangs up", async () => {
    const client = subscribe(sluice.url, 'view=events_per_minute');
    await client.opened;
    client.ws.close(4001, 'bye');
    const closed = await client.closedPromise;
    assert.equal(closed.code, 4001);
  });

  test('an idle subscriber is pinged every websocket_ping_seconds', async () => {
    const client = subscribe(sluice.url, 'view=events_per_minute');
    await client.opened;
    await sleep(3500);
    assert.ok(client.pings >= 2, `pings in 3.5 s with a 1 s interval: ${client.pings}`);
    assert.equal(client.closed, null);  // `ws` answers with pongs: the connection stays
    client.ws.close();
    await client.closedPromise;
  });

  test('a frame that breaks the protocol gets close 1002 with the reason', async () => {
    const { port } = sluice;
    const socket = net.connect(port, '127.0.0.1');
    const received = [];
    const ended = new Promise((resolve) => socket.on('close', resolve));
    socket.on('data', (chunk) => received.push(chunk));
    await new Promise((resolve) => socket.on('connect', resolve));
    socket.write('GET /v1/subscribe?view=events_per_minute HTTP/1.1\r\nHost: x\r\n' +
        'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    for (let i = 0; i < 100 && !Buffer.concat(received).includes('\r\n\r\n'); i++) await sleep(20);
    socket.write(Buffer.from([0x81, 0x02, 0x68, 0x69]));  // "hi", unmasked: clients must mask
    await Promise.race([ended, sleep(5000)]);
    const bytes = Buffer.concat(received);
    const head = bytes.indexOf('\r\n\r\n');
    assert.match(bytes.subarray(0, head).toString(), /^HTTP\/1\.1 101/);
    // After the 101: the snapshot (a text frame), then our close frame.
    let pos = head + 4;
    const frames = [];
    while (pos + 2 <= bytes.length) {
      let length = bytes[pos + 1] & 0x7f;
      let header = 2;
      if (length === 126) { length = bytes.readUInt16BE(pos + 2); header = 4; }
      else if (length === 127) { length = Number(bytes.readBigUInt64BE(pos + 2)); header = 10; }
      frames.push({ opcode: bytes[pos] & 0x0f, payload: bytes.subarray(pos + header, pos + header + length) });
      pos += header + length;
    }
    const close = frames.find((f) => f.opcode === 0x8);
    assert.ok(close, `a close frame among opcodes ${frames.map((f) => f.opcode)}`);
    assert.equal(close.payload.readUInt16BE(0), 1002);
    assert.match(close.payload.subarray(2).toString(), /not masked/);
    socket.destroy();
    const metrics = await (await fetch(`${sluice.url}/metrics`)).text();
    assert.match(metrics, /^sluice_websocket_protocol_errors_total [1-9]/m);
  });

  test('batch_ms paces the writes: deltas arrive in bursts, still one message per version',
      async () => {
    const paced = subscribe(sluice.url, 'view=events_per_minute&batch_ms=300');
    const unpaced = subscribe(sluice.url, 'view=events_per_minute');
    await Promise.all([paced.opened, unpaced.opened]);
    await sleep(200);  // both have their snapshot
    const posts = 14;
    for (let i = 0; i < posts; i++) {
      const res = await postEvents(sluice.url, 'fulfilment', ndjson([makeEvent()]));
      assert.equal(res.status, 200);
      await sleep(50);
    }
    await sleep(800);
    const deltas = (c) => c.messages.filter((m) => m.type === 'delta');
    for (const client of [paced, unpaced]) {
      const ds = deltas(client);
      assert.ok(ds.length >= posts / 2, `deltas: ${ds.length}`);
      for (let i = 1; i < ds.length; i++) {
        assert.equal(ds[i].since, ds[i - 1].version, 'consecutive, never coalesced');
        assert.equal(ds[i].coalesced, undefined);
      }
    }
    // Both received the same versions.
    assert.deepEqual(deltas(paced).map((d) => d.version), deltas(unpaced).map((d) => d.version));
    const pacedArrivals = paced.arrivals.slice(1);  // after the snapshot
    const unpacedArrivals = unpaced.arrivals.slice(1);
    // ~1.4 s of posts in writes at most 300 ms apart: at most ~6 bursts, while the unpaced
    // client gets each delta as it comes (about one burst per post).
    assert.ok(bursts(pacedArrivals, 100) <= 7,
        `paced bursts: ${bursts(pacedArrivals, 100)} for ${pacedArrivals.length} deltas`);
    assert.ok(bursts(unpacedArrivals, 25) >= posts / 2,
        `unpaced bursts: ${bursts(unpacedArrivals, 25)} for ${unpacedArrivals.length} deltas`);
    for (let i = 1; i < pacedArrivals.length; i++) {
      const gap = pacedArrivals[i] - pacedArrivals[i - 1];
      assert.ok(gap < 20 || gap > 250, `writes at least batch_ms apart (a gap of ${gap} ms)`);
    }
    paced.ws.close();
    unpaced.ws.close();
    await Promise.all([paced.closedPromise, unpaced.closedPromise]);
  });

  test('DROP VIEW sends "dropped" last, then closes normally with the reason', async () => {
    const created = await runSql(sluice.url, `CREATE MATERIALIZED VIEW short_lived AS
        SELECT warehouse_id, count(*) AS events FROM fulfilment GROUP BY warehouse_id`);
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const client = subscribe(sluice.url, 'view=short_lived&batch_ms=200');
    await client.opened;
    const res = await postEvents(sluice.url, 'fulfilment', ndjson([makeEvent()]));
    assert.equal(res.status, 200);
    const dropped = await runSql(sluice.url, 'DROP VIEW short_lived');
    assert.equal(dropped.status, 200, JSON.stringify(dropped.body));
    const closed = await Promise.race([client.closedPromise, sleep(5000).then(() => null)]);
    assert.ok(closed, 'the server closed the subscription');
    assert.equal(closed.code, 1000);
    assert.equal(closed.reason, 'view dropped');
    const types = client.messages.map((m) => m.type);
    assert.equal(types[0], 'snapshot');
    assert.deepEqual(types.at(-1), 'dropped');
    assert.equal(client.messages.at(-1).view, 'short_lived');
  });

  test('a batch_ms that is not 0..1000 whole milliseconds is refused with 400', async () => {
    for (const bad of ['abc', '-1', '1001', '2.5']) {
      const res = await fetch(`${sluice.url}/v1/subscribe?view=events_per_minute&batch_ms=${bad}`);
      assert.equal(res.status, 400, bad);
      assert.match((await res.json()).error, /batch_ms: '.*' is not a whole number of milliseconds/);
    }
  });
});
