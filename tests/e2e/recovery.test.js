// Crash safety of the real binary: after `kill -9` every acknowledged event is still there and
// the view neither loses nor double-counts; a clean SIGTERM shutdown exits 0.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';

import { waitForCatchUp } from './lib/differential.js';
import {
  ViewSubscription, eventsFor, freshDataDir, getJson, makeEvent, ndjson, postEvents, runSql,
  sleep, startSluice,
} from './lib/sluice.js';

test('kill -9 loses no acknowledged event and the view is unchanged after restart', async () => {
  const dataDir = freshDataDir();
  try {
    let sluice = await startSluice({ dataDir });
    const wh = `WH-CRASH-${Date.now()}`;
    // Several rounds, so some counts are checkpointed and some only in the log.
    let acknowledged = 0;
    for (let round = 0; round < 5; round++) {
      const events = Array.from({ length: 40 }, (_, i) => makeEvent({
        warehouse_id: wh,
        occurred_at: new Date(Date.UTC(2026, 10, 25, 8, round, i)).toISOString(),
      }));
      const res = await postEvents(sluice.url, 'fulfilment', ndjson(events));
      assert.equal(res.status, 200);
      acknowledged += res.body.accepted;
      await sleep(round === 2 ? 1200 : 50);  // let one checkpoint (1 s interval) happen
    }
    const sub = new ViewSubscription(sluice.url, 'events_per_minute');
    await sub.opened;
    await sub.waitFor(() => eventsFor(sub.rows.values(), wh) === acknowledged);
    const before = (await getJson(`${sluice.url}/v1/views/events_per_minute`)).body;
    const killed = await sluice.kill9();
    assert.equal(killed.signal, 'SIGKILL');

    sluice = await startSluice({ dataDir });
    // Recovery replays the log past the checkpoint; wait until the view has caught up.
    let after;
    for (let i = 0; i < 100; i++) {
      after = (await getJson(`${sluice.url}/v1/views/events_per_minute`)).body;
      if (eventsFor(after.rows, wh) >= acknowledged) break;
      await sleep(50);
    }
    assert.equal(eventsFor(after.rows, wh), acknowledged);
    const rowsOf = (doc) => doc.rows.filter((r) => r.warehouse_id === wh)
        .map((r) => `${r.event_type}|${r.window_start}|${r.events}`).sort();
    assert.deepEqual(rowsOf(after), rowsOf(before));
    assert.ok(after.version >= 1);

    // Still taking events, and counting them on top of the recovered state.
    await postEvents(sluice.url, 'fulfilment', ndjson([makeEvent({
      warehouse_id: wh, occurred_at: '2026-11-25T08:00:30Z' })]));
    for (let i = 0; i < 100; i++) {
      after = (await getJson(`${sluice.url}/v1/views/events_per_minute`)).body;
      if (eventsFor(after.rows, wh) === acknowledged + 1) break;
      await sleep(50);
    }
    assert.equal(eventsFor(after.rows, wh), acknowledged + 1);

    // A clean shutdown exits 0 and a restart (no replay needed) shows the same.
    const exit = await sluice.terminate();
    assert.equal(exit.code, 0, sluice.output());
    sluice = await startSluice({ dataDir });
    after = (await getJson(`${sluice.url}/v1/views/events_per_minute`)).body;
    assert.equal(eventsFor(after.rows, wh), acknowledged + 1);
    await sluice.stop({ keepData: true });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('kill -9 in the middle of a stream of producers: every acknowledged event survives',
    async () => {
      const dataDir = freshDataDir();
      try {
        let sluice = await startSluice({ dataDir });
        const wh = `WH-STORM-${Date.now()}`;
        let acknowledged = 0;
        let stop = false;
        const producer = async () => {
          while (!stop) {
            const events = Array.from({ length: 20 }, () => makeEvent({ warehouse_id: wh }));
            const res = await postEvents(sluice.url, 'fulfilment', ndjson(events)).catch(() => null);
            if (res?.status === 200) acknowledged += res.body.accepted;
          }
        };
        const producers = [producer(), producer(), producer()];
        await sleep(700);
        await sluice.kill9();
        stop = true;
        await Promise.all(producers);
        assert.ok(acknowledged > 0);

        sluice = await startSluice({ dataDir });
        let counted = 0;
        for (let i = 0; i < 200; i++) {
          counted = eventsFor((await getJson(`${sluice.url}/v1/views/events_per_minute`)).body.rows, wh);
          if (counted >= acknowledged) break;
          await sleep(50);
        }
        // Requests in flight at the kill may have been durable without their answer arriving,
        // so the log can hold more than was acknowledged, never less.
        assert.ok(counted >= acknowledged, `counted ${counted} < acknowledged ${acknowledged}`);
        assert.ok(counted <= acknowledged + 3 * 20, `counted ${counted}, acknowledged ${acknowledged}`);
        await sluice.stop({ keepData: true });
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    });

test('after kill -9 ingest, queries and a big view\'s stored rows serve at once while its groups restore', async () => {
  const dataDir = freshDataDir();
  let sluice = await startSluice({ dataDir });
  try {
    let res = await runSql(sluice.url, 'CREATE MATERIALIZED VIEW per_event AS SELECT event_id, ' +
        'count(*) AS n FROM fulfilment GROUP BY event_id');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const groups = 300000;
    for (let sent = 0; sent < groups; sent += 10000) {
      const events = Array.from({ length: 10000 }, () => makeEvent());
      res = await postEvents(sluice.url, 'fulfilment', ndjson(events));
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    await waitForCatchUp(sluice.url, null, 120000);
    await sleep(1500);  // a checkpoint (every second) after the last change
    await sluice.kill9();

    sluice = await startSluice({ dataDir, waitForViews: false });
    // Ingest is served at once...
    res = await postEvents(sluice.url, 'fulfilment', ndjson([makeEvent()]));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    // ...and so is per_event, from the rows stored with its last checkpoint (that version: all
    // 300,000 rows, not the event just posted), while its groups are rebuilt in the background.
    const stored = await getJson(`${sluice.url}/v1/views/per_event`);
    assert.equal(stored.status, 200, JSON.stringify(stored.body).slice(0, 300));
    // (The restore may just have finished and counted the new event: groups + 1.)
    assert.ok([groups, groups + 1].includes(stored.body.rows.length), stored.body.rows.length);
    res = await runSql(sluice.url, 'SELECT count(*) AS c FROM per_event');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok([groups, groups + 1].includes(res.body.results[0].rows[0][0]));
    // Then every group is back, and the event posted meanwhile counted.
    await waitForCatchUp(sluice.url, null, 60000);
    res = await runSql(sluice.url, 'SELECT count(*) AS c FROM per_event');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.results[0].rows[0][0], groups + 1);
  } finally {
    await sluice.stop();
  }
});
