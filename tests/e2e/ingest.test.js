// Ingest over HTTP with Node's fetch: good events are accepted once durable, every kind of bad
// input gets a precise 4xx error, and the server keeps serving (and keeps the good records).
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import { getJson, makeEvent, ndjson, postEvents, startSluice } from './lib/sluice.js';

describe('ingest', () => {
  let sluice;
  before(async () => { sluice = await startSluice(); });
  after(async () => { await sluice.stop(); });

  async function stillServing() {
    const health = await getJson(`${sluice.url}/healthz`);
    assert.equal(health.status, 200);
    const ok = await postEvents(sluice.url, 'fulfilment', ndjson([makeEvent()]));
    assert.equal(ok.status, 200);
    assert.equal(ok.body.accepted, 1);
  }

  test('NDJSON: every event accepted', async () => {
    const events = [makeEvent(), makeEvent({ event_type: 'order.received' }), makeEvent()];
    const res = await postEvents(sluice.url, 'fulfilment', ndjson(events));
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { accepted: 3, duplicates: 0, rejected: [] });
  });

  test('a JSON array is accepted', async () => {
    const res = await postEvents(sluice.url, 'fulfilment',
        JSON.stringify([makeEvent(), makeEvent()]), 'application/json');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { accepted: 2, duplicates: 0, rejected: [] });
  });

  test('bad records are rejected one by one, with their index and reason; the good ones stay',
      async () => {
        const lines = [
          JSON.stringify(makeEvent()),
          JSON.stringify({ ...makeEvent(), event_id: undefined }),   // missing event_id
          '{"event_id": "x", "occurred_at": ',                       // invalid JSON
          JSON.stringify(makeEvent({ occurred_at: 'yesterday' })),   // bad time
          JSON.stringify(makeEvent({ event_id: 42 })),               // wrong type
          JSON.stringify(makeEvent()),
          '[1,2,3]',                                                 // not an object
        ];
        const res = await postEvents(sluice.url, 'fulfilment', lines.join('\n'));
        assert.equal(res.status, 200);
        assert.equal(res.body.accepted, 2);
        const byIndex = Object.fromEntries(res.body.rejected.map((r) => [r.index, r.error]));
        assert.deepEqual(Object.keys(byIndex).map(Number), [1, 2, 3, 4, 6]);
        assert.match(byIndex[1], /event_id/);
        assert.match(byIndex[2], /JSON/i);
        assert.match(byIndex[3], /occurred_at/);
        assert.match(byIndex[4], /event_id/);
        assert.match(byIndex[6], /object/);
        // Rejected records are counted (and kept in the dead-letter stream).
        const metrics = await (await fetch(`${sluice.url}/metrics`)).text();
        const rejected = metrics.match(/sluice_events_rejected_total\{stream="fulfilment"\} (\d+)/);
        assert.ok(rejected && Number(rejected[1]) >= 5, metrics);
      });

  test('whole-request errors are precise 4xx answers', async () => {
    const unknown = await postEvents(sluice.url, 'no_such_stream', ndjson([makeEvent()]));
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error, /unknown stream 'no_such_stream'/);

    const wrongType = await postEvents(sluice.url, 'fulfilment', ndjson([makeEvent()]),
        'text/plain');
    assert.equal(wrongType.status, 415);
    assert.match(wrongType.body.error, /Content-Type/);

    const brokenArray = await postEvents(sluice.url, 'fulfilment', '[{"event_id":"a"}, {',
        'application/json');
    assert.equal(brokenArray.status, 400);
    assert.match(brokenArray.body.error, /byte/);

    const empty = await postEvents(sluice.url, 'fulfilment', '');
    assert.equal(empty.status, 400);

    const getOnPost = await fetch(`${sluice.url}/v1/streams/fulfilment/events`);
    assert.equal(getOnPost.status, 405);

    const noRoute = await fetch(`${sluice.url}/v2/nothing`);
    assert.equal(noRoute.status, 404);
    await stillServing();
  });

  test('a body over 16 MiB is refused with 413', async () => {
    const event = JSON.stringify(makeEvent({ note: 'x'.repeat(1000) }));
    const body = `${event}\n`.repeat(Math.ceil((17 << 20) / (event.length + 1)));
    // The server answers 413 from the headers, then drains the rest of the body before it
    // closes, so the client reads the answer instead of a reset.
    const res = await postEvents(sluice.url, 'fulfilment', body);
    assert.equal(res.status, 413);
    assert.match(res.body.error, /too large/);
    await stillServing();
  });

  test('garbage bytes, truncated requests and early disconnects never hurt the server',
      async () => {
        const { port } = sluice;
        const send = (bytes, { end = true } = {}) => new Promise((resolve) => {
          const socket = net.connect(port, '127.0.0.1', () => {
            socket.write(bytes);
            if (end) socket.end();
            else setTimeout(() => socket.destroy(), 50);
          });
          let answer = '';
          socket.on('data', (d) => { answer += d; });
          socket.on('close', () => resolve(answer));
          socket.on('error', () => resolve(answer));
        });
        const garbage = await send(Buffer.from([0, 1, 2, 0xff, 0xfe, 13, 10, 13, 10]));
        assert.ok(garbage === '' || /^HTTP\/1\.1 400/.test(garbage), garbage);
        // A body shorter than its Content-Length, then the client goes away.
        await send('POST /v1/streams/fulfilment/events HTTP/1.1\r\nHost: x\r\n' +
                   'Content-Type: application/x-ndjson\r\nContent-Length: 1000\r\n\r\n{"event_id"',
                   { end: false });
        // A huge declared Content-Length.
        const huge = await send('POST /v1/streams/fulfilment/events HTTP/1.1\r\nHost: x\r\n' +
                                'Content-Type: application/x-ndjson\r\nContent-Length: 999999999999\r\n\r\n');
        assert.match(huge, /^HTTP\/1\.1 413/);
        // Header flood.
        const flood = await send(`GET /healthz HTTP/1.1\r\nX: ${'a'.repeat(100000)}\r\n\r\n`);
        assert.ok(flood === '' || /^HTTP\/1\.1 4\d\d/.test(flood), flood.slice(0, 100));
        // Chunked transfer encoding is a valid way to send a body.
        const chunkBody = `${JSON.stringify(makeEvent())}\n`;
        const chunked = await send('POST /v1/streams/fulfilment/events HTTP/1.1\r\nHost: x\r\n' +
            'Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' +
            `${chunkBody.length.toString(16)}\r\n${chunkBody}\r\n0\r\n\r\n`);
        assert.match(chunked, /^HTTP\/1\.1 200/);
        assert.match(chunked, /"accepted":1/);
        await stillServing();
      });

  test('rejected records are listed in the dead-letter stream with reason and raw bytes',
      async () => {
        const marker = `dl-${Date.now()}`;
        const bad = `{"event_id":"${marker}","occurred_at":"not a time","note":"héllo"}`;
        const res = await postEvents(sluice.url, 'fulfilment',
            `${JSON.stringify(makeEvent())}\n${bad}\n`);
        assert.equal(res.body.accepted, 1);
        const page = await getJson(`${sluice.url}/v1/streams/fulfilment/dead-letters?limit=10000`);
        assert.equal(page.status, 200);
        const letter = page.body.dead_letters.find((d) => d.raw.includes(marker));
        assert.ok(letter, JSON.stringify(page.body).slice(0, 500));
        assert.equal(letter.raw, bad);
        assert.equal(letter.index, 1);
        assert.match(letter.error, /occurred_at/);
        assert.ok(!Number.isNaN(Date.parse(letter.received_at)));
        assert.equal(letter.replayed, false);
        // Paging: from/limit.
        const one = await getJson(
            `${sluice.url}/v1/streams/fulfilment/dead-letters?from=${letter.offset}&limit=1`);
        assert.equal(one.body.dead_letters.length, 1);
        assert.equal(one.body.dead_letters[0].offset, letter.offset);
        assert.equal(one.body.next_offset, letter.offset + 1);
        const badParam = await fetch(`${sluice.url}/v1/streams/fulfilment/dead-letters?limit=x`);
        assert.equal(badParam.status, 400);
        const unknown = await fetch(`${sluice.url}/v1/streams/nope/dead-letters`);
        assert.equal(unknown.status, 404);

        // Replaying records that are still bad keeps them (not duplicated) and reports them;
        // the cursor moves on, so a second replay has nothing left to do.
        const replay = await fetch(`${sluice.url}/v1/streams/fulfilment/dead-letters/replay`,
            { method: 'POST' });
        assert.equal(replay.status, 200);
        const answer = await replay.json();
        assert.ok(answer.replayed >= 1);
        assert.equal(answer.accepted, 0);
        assert.ok(answer.rejected.some((r) => r.offset === letter.offset));
        assert.equal(answer.next_offset, page.body.end_offset);
        const again = await (await fetch(`${sluice.url}/v1/streams/fulfilment/dead-letters/replay`,
            { method: 'POST' })).json();
        assert.equal(again.replayed, 0);
        const after = await getJson(`${sluice.url}/v1/streams/fulfilment/dead-letters?limit=10000`);
        assert.equal(after.body.dead_letters.length, page.body.dead_letters.length);
        assert.equal(after.body.dead_letters.find((d) => d.offset === letter.offset).replayed, true);
      });

  test('many concurrent producers share fsyncs and all get their answer', async () => {
    const requests = [];
    for (let i = 0; i < 50; i++) {
      requests.push(postEvents(sluice.url, 'fulfilment',
          ndjson([makeEvent(), makeEvent(), makeEvent()])));
    }
    const answers = await Promise.all(requests);
    for (const a of answers) {
      assert.equal(a.status, 200);
      assert.equal(a.body.accepted, 3);
    }
  });
});
