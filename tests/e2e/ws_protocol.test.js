// The WebSocket push protocol (docs/http-api.md, "Subscriptions"), with the `ws` package as the
// client: every delta carries `since`; a client that stops reading gets one coalesced delta or a
// fresh snapshot in place when it reads again (no close), while another client receives every
// version and ingest is not slowed; where= filters keep only their rows with a consistent
// `since` chain, and refuse columns whose values change.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';

import {
  ViewSubscription, getJson, makeEvent, ndjson, postEvents, runSql, sleep, startSluice,
} from './lib/sluice.js';

const ORDERS = 2000;  // rows of per_order: each batch below updates a quarter of them
const BATCH = 500;
const TYPES = ['pick.started', 'pick.completed', 'pack.completed', 'order.allocated'];

function keyOf(row) {
  return JSON.stringify([row.order_id, row.warehouse_id, row.window_start]);
}

function sortedRows(rows) {
  return [...rows].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
}

// A raw client that records every message and whether the server closed the connection.
function rawClient(url, view) {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/subscribe?view=${view}`);
  const client = { ws, messages: [], closed: null, bytes: 0 };
  ws.on('message', (data) => {
    client.bytes += data.length;
    client.messages.push(JSON.parse(data.toString()));
  });
  ws.on('close', (code) => { client.closed = code; });
  client.opened = new Promise((resolve, reject) => {
    ws.on('open', resolve);
    ws.on('error', reject);
  });
  return client;
}

async function metric(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : 0;
}

async function timedPost(url, event) {
  const start = performance.now();
  const res = await postEvents(url, 'fulfilment', ndjson([event]));
  assert.equal(res.status, 200);
  return performance.now() - start;
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

describe('WebSocket push protocol', () => {
  let sluice;
  before(async () => {
    sluice = await startSluice();
    const res = await runSql(sluice.url, `CREATE MATERIALIZED VIEW per_order AS
        SELECT order_id, warehouse_id, window_start, count(*) AS events
        FROM TUMBLE(fulfilment, occurred_at, INTERVAL '1' MINUTE)
        GROUP BY order_id, warehouse_id, window_start`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });
  after(async () => { await sluice.stop(); });

  test('a paused client catches up with a coalesced delta or an in-place snapshot; ' +
       'the other client gets every version and ingest is not slowed', async () => {
    const paused = rawClient(sluice.url, 'per_order');
    const steady = new ViewSubscription(sluice.url, 'per_order');
    await Promise.all([paused.opened, steady.opened]);
    await steady.waitFor(() => steady.version !== null);

    const batch = (round) => {
      const occurred_at = new Date().toISOString();  // current: never late
      const events = Array.from({ length: BATCH }, (_, i) => makeEvent({
        order_id: `ORD-P-${(round * BATCH + i) % ORDERS}`, warehouse_id: `WH-0${i % 4}`,
        occurred_at,
      }));
      events.push(makeEvent({ order_id: 'ORD-MARK', warehouse_id: 'WH-09', occurred_at }));
      return ndjson(events);
    };
    const marks = () => {
      let n = 0;
      for (const r of steady.rows.values()) if (r.order_id === 'ORD-MARK') n += r.events;
      return n;
    };
    // Round trips of single-event posts before the pause (the baseline).
    const baseline = [];
    for (let i = 0; i < 30; i++) baseline.push(await timedPost(sluice.url, makeEvent()));

    const coalescedBefore = await metric(sluice.url, 'sluice_websocket_coalesced_total');
    const resyncsBefore = await metric(sluice.url, 'sluice_websocket_resyncs_total');
    paused.ws._socket.pause();
    // ~10 MB of deltas: more than the kernel buffers hold, so the server's writes to the paused
    // client stall. Each round waits until the steady client has seen it (the marker order), so
    // that client is never legitimately behind by more than one version.
    for (let round = 0; round < 120; round++) {
      const res = await postEvents(sluice.url, 'fulfilment', batch(round));
      assert.equal(res.status, 200);
      await steady.waitFor(() => marks() === round + 1, 10000);
    }
    const duringPause = [];
    for (let i = 0; i < 30; i++) duringPause.push(await timedPost(sluice.url, makeEvent()));
    const { body: view } = await getJson(`${sluice.url}/v1/views/per_order`);
    await steady.waitFor(() => steady.version >= view.version, 20000);
    const messagesBeforeResume = paused.messages.length;
    paused.ws._socket.resume();

    // The paused client ends equal to GET /v1/views, on the same connection.
    const { body: final } = await getJson(`${sluice.url}/v1/views/per_order`);
    const pausedRows = new Map();
    let have = null;
    let gaps = 0;
    const deadline = Date.now() + 20000;
    for (let seen = 0; ; ) {
      for (; seen < paused.messages.length; seen++) {
        const m = paused.messages[seen];
        if (m.type === 'snapshot') {
          pausedRows.clear();
          for (const r of m.rows) pausedRows.set(keyOf(r), r);
          have = m.version;
          continue;
        }
        if (m.version <= have) continue;
        if (m.since !== have) gaps += 1;
        for (const r of m.rows) pausedRows.set(keyOf(r), r);
        for (const r of m.deleted ?? []) pausedRows.delete(keyOf(r));
        have = m.version;
      }
      if (have !== null && have >= final.version) break;
      assert.ok(Date.now() < deadline, `paused client stuck at version ${have} < ${final.version}`);
      await sleep(20);
    }
    assert.equal(gaps, 0);
    assert.equal(paused.closed, null, 'the paused client was not closed');
    const { body: now } = await getJson(`${sluice.url}/v1/views/per_order`);
    assert.equal(now.version, have, 'no posts since: the view did not move on');
    assert.deepEqual(sortedRows(pausedRows.values()), sortedRows(now.rows));

    const afterPause = paused.messages.slice(messagesBeforeResume);
    const coalesced = afterPause.filter((m) => m.type === 'delta' && m.coalesced === true);
    const snapshots = afterPause.filter((m) => m.type === 'snapshot');
    assert.ok(coalesced.length + snapshots.length >= 1,
        'the paused client caught up through a coalesced delta or a fresh snapshot');
    for (const m of coalesced) assert.ok(m.version > m.since + 1);
    // Far fewer messages than versions: it did not get every delta queued for it.
    assert.ok(paused.messages.length < view.version, `${paused.messages.length} messages`);
    const coalescedAfter = await metric(sluice.url, 'sluice_websocket_coalesced_total');
    const resyncsAfter = await metric(sluice.url, 'sluice_websocket_resyncs_total');
    assert.ok(coalescedAfter + resyncsAfter > coalescedBefore + resyncsBefore);

    // The steady client received every version, each on top of the previous one.
    const deltas = steady.messages.filter((m) => m.type === 'delta');
    assert.equal(steady.gaps, 0);
    assert.ok(deltas.length > 0);
    for (const m of deltas) {
      assert.equal(m.since, m.version - 1, JSON.stringify(steady.messages.map((x) =>
          [x.type, x.version, x.since, x.coalesced, (x.rows ?? []).length])));
      assert.equal(m.coalesced, undefined);
    }
    assert.equal(deltas.at(-1).version - deltas[0].version + 1, deltas.length);
    assert.deepEqual(sortedRows(steady.rows.values()), sortedRows(now.rows));

    // Ingest round trips with a stalled subscriber are like those without one.
    const before = median(baseline);
    const during = median(duringPause);
    assert.ok(during <= Math.max(2 * before, before + 20),
        `median POST round trip ${during.toFixed(1)} ms while paused vs ${before.toFixed(1)} ms`);
    paused.ws.close();
    await steady.close();
  });

  test("where=warehouse_id='WH-03' sees only its rows, with a consistent since chain", async () => {
    const where = "warehouse_id = 'WH-03'";
    const filtered = new ViewSubscription(sluice.url, 'events_per_minute', { where });
    const all = new ViewSubscription(sluice.url, 'events_per_minute');
    const snapshot = await filtered.opened;
    await all.opened;
    const total = (rows) => [...rows].reduce((n, r) => n + r.events, 0);
    assert.ok(snapshot.rows.every((r) => r.warehouse_id === 'WH-03'));
    const occurred = new Date().toISOString();
    for (let round = 0; round < 20; round++) {
      // Rounds without WH-03 produce view versions the filtered client never sees.
      const warehouses = round % 3 === 0 ? ['WH-03', 'WH-01'] : ['WH-01', 'WH-02'];
      const events = warehouses.map((warehouse_id) => makeEvent({
        warehouse_id, event_type: TYPES[round % TYPES.length], occurred_at: occurred,
      }));
      const expected = total(all.rows.values()) + events.length;
      const res = await postEvents(sluice.url, 'fulfilment', ndjson(events));
      assert.equal(res.body.accepted, events.length, JSON.stringify(res.body));
      await all.waitFor(() => total(all.rows.values()) === expected);  // one round at a time
    }
    const { body: full } = await getJson(`${sluice.url}/v1/views/events_per_minute`);
    const wh03 = full.rows.filter((r) => r.warehouse_id === 'WH-03');
    await filtered.waitFor(() => total(filtered.rows.values()) === total(wh03), 10000);
    assert.equal(filtered.gaps, 0);
    const deltas = filtered.messages.filter((m) => m.type === 'delta');
    assert.ok(deltas.length >= 7);
    let have = snapshot.version;
    let skipped = 0;
    for (const m of deltas) {
      assert.equal(m.since, have, 'each filtered delta applies on top of the previous one');
      if (m.since !== m.version - 1) skipped += 1;
      have = m.version;
      assert.ok(m.rows.every((r) => r.warehouse_id === 'WH-03'));
      assert.ok((m.deleted ?? []).every((r) => r.warehouse_id === 'WH-03'));
      assert.ok(m.rows.length + (m.deleted ?? []).length > 0, 'empty deltas are skipped');
    }
    assert.ok(skipped > 0, 'versions without WH-03 changes were skipped');
    assert.deepEqual([...filtered.rows.values()].map(keyOfMinute).sort(),
        wh03.map(keyOfMinute).sort());

    // The same filter on the HTTP snapshot.
    const { status, body } = await getJson(
        `${sluice.url}/v1/views/events_per_minute?where=${encodeURIComponent(where)}`);
    assert.equal(status, 200);
    assert.deepEqual(body.rows.map(keyOfMinute).sort(), wh03.map(keyOfMinute).sort());
    const window = await getJson(`${sluice.url}/v1/views/events_per_minute?where=${
      encodeURIComponent("window_start >= TIMESTAMP '2000-01-01 00:00:00' AND event_type <> 'x'")}`);
    assert.equal(window.status, 200);
    assert.equal(window.body.rows.length, full.rows.length);
    await Promise.all([filtered.close(), all.close()]);
  });

  test('filters on columns whose values change, or that do not parse, are refused with 400',
      async () => {
    const valueFilter = encodeURIComponent('events > 1');
    for (const url of [`${sluice.url}/v1/views/events_per_minute?where=${valueFilter}`,
                       `${sluice.url}/v1/subscribe?view=events_per_minute&where=${valueFilter}`]) {
      const res = await fetch(url);
      assert.equal(res.status, 400);
      const { error } = await res.json();
      assert.match(error, /column 'events' cannot be used in a filter/);
      assert.match(error, /key columns and window_start\/window_end/);
      assert.match(error, /warehouse_id, event_type, window_start/);
    }
    const ws = new WebSocket(`${sluice.url.replace(/^http/, 'ws')}/v1/subscribe?view=` +
        `events_per_minute&where=${valueFilter}`);
    const refused = await new Promise((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode));
      ws.on('open', () => resolve('open'));
      ws.on('error', () => {});
    });
    assert.equal(refused, 400);

    const syntax = await getJson(`${sluice.url}/v1/views/events_per_minute?where=${
      encodeURIComponent("warehouse_id = = 'x'")}`);
    assert.equal(syntax.status, 400);
    assert.match(syntax.body.error, /^where: line 1, column \d+: /);
    const unknown = await getJson(`${sluice.url}/v1/views/events_per_minute?where=${
      encodeURIComponent("warehous_id = 'x'")}`);
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.error, /unknown column 'warehous_id'/);
  });
});

function keyOfMinute(row) {
  return JSON.stringify([row.warehouse_id, row.event_type, row.window_start]);
}
