// The view over HTTP and WebSocket (the `ws` package): a snapshot, then consecutive deltas that
// reflect posted events in their event-time minute, out-of-order events included.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';

import {
  ViewSubscription, eventsFor, getJson, makeEvent, ndjson, postEvents, startSluice,
} from './lib/sluice.js';

describe('views', () => {
  let sluice;
  before(async () => { sluice = await startSluice(); });
  after(async () => { await sluice.stop(); });

  test('GET /v1/views lists events_per_minute with its columns and SQL', async () => {
    const { status, body } = await getJson(`${sluice.url}/v1/views`);
    assert.equal(status, 200);
    const view = body.views.find((v) => v.name === 'events_per_minute');
    assert.ok(view);
    assert.deepEqual(view.columns,
        ['warehouse_id', 'event_type', 'window_start', 'events', 'amount_minor']);
    assert.deepEqual(view.key, ['warehouse_id', 'event_type', 'window_start']);
    assert.match(view.sql, /TUMBLE/);
  });

  test('posted events show up as a delta, counted per minute of event time', async () => {
    const sub = new ViewSubscription(sluice.url, 'events_per_minute');
    const snapshot = await sub.opened;
    assert.equal(snapshot.type, 'snapshot');
    const wh = `WH-WS-${Date.now()}`;
    const events = [
      makeEvent({ warehouse_id: wh, occurred_at: '2026-11-25T08:30:05Z' }),
      makeEvent({ warehouse_id: wh, occurred_at: '2026-11-25T08:30:59.999Z' }),
      makeEvent({ warehouse_id: wh, occurred_at: '2026-11-25T08:31:00Z' }),
      makeEvent({ warehouse_id: wh, occurred_at: '2026-11-25T09:31:00+01:00', event_type: 'pack.completed' }),
    ];
    const res = await postEvents(sluice.url, 'fulfilment', ndjson(events));
    assert.equal(res.body.accepted, 4);
    await sub.waitFor(() => eventsFor(sub.rows.values(), wh) === 4);
    const row = (type, minute) => sub.find((r) => r.warehouse_id === wh && r.event_type === type &&
                                             r.window_start === minute);
    assert.equal(row('pick.completed', '2026-11-25T08:30:00Z').events, 2);
    assert.equal(row('pick.completed', '2026-11-25T08:31:00Z').events, 1);
    assert.equal(row('pack.completed', '2026-11-25T08:31:00Z').events, 1);  // +01:00 normalised to UTC

    // An out-of-order event updates its own (older) window.
    await postEvents(sluice.url, 'fulfilment',
        ndjson([makeEvent({ warehouse_id: wh, occurred_at: '2026-11-25T08:30:30Z' })]));
    await sub.waitFor(() => row('pick.completed', '2026-11-25T08:30:00Z').events === 3);
    assert.equal(sub.gaps, 0);
    const deltas = sub.messages.filter((m) => m.type === 'delta');
    assert.ok(deltas.length >= 2);
    for (let i = 1; i < deltas.length; i++) {
      assert.equal(deltas[i].version, deltas[i - 1].version + 1);
      assert.ok(deltas[i].position > deltas[i - 1].position);
    }
    assert.equal(deltas[0].version, snapshot.version + 1);

    // The HTTP snapshot agrees with what the subscriber assembled.
    const { body } = await getJson(`${sluice.url}/v1/views/events_per_minute`);
    assert.ok(body.version >= sub.version);
    assert.equal(eventsFor(body.rows, wh), 5);
    await sub.close();
  });

  test('a second subscriber gets a snapshot that already holds earlier events', async () => {
    const wh = `WH-SNAP-${Date.now()}`;
    const first = new ViewSubscription(sluice.url, 'events_per_minute');
    await first.opened;
    await postEvents(sluice.url, 'fulfilment', ndjson([makeEvent({ warehouse_id: wh })]));
    await first.waitFor(() => eventsFor(first.rows.values(), wh) === 1);
    const second = new ViewSubscription(sluice.url, 'events_per_minute');
    await second.opened;
    assert.equal(eventsFor(second.rows.values(), wh), 1);
    await Promise.all([first.close(), second.close()]);
  });

  test('unknown views and plain GETs on the subscribe endpoint are refused', async () => {
    const missing = await fetch(`${sluice.url}/v1/views/nope`);
    assert.equal(missing.status, 404);
    const noUpgrade = await fetch(`${sluice.url}/v1/subscribe?view=events_per_minute`);
    assert.equal(noUpgrade.status, 426);
    const refused = await new Promise((resolve) => {
      const ws = new WebSocket(`${sluice.url.replace('http', 'ws')}/v1/subscribe?view=nope`);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode));
      ws.on('open', () => resolve('opened'));
      ws.on('error', () => {});
    });
    assert.equal(refused, 404);
  });
});
