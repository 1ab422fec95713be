// Anomaly alerts end to end (CREATE ALERT ... ON view): a normal baseline of
// fulfilment.exception events for two warehouses, then a spike for one of them; the alert is
// appended to the `alerts` stream and reaches a WebSocket subscriber of a view over it (the
// `ws` package). After kill -9 and a restart, the alert is neither lost nor repeated.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ViewSubscription, postEvents, runSql, sleep, startSluice } from './lib/sluice.js';

const START = Date.parse('2026-11-25T08:00:00Z');
const MINUTE = 60_000;

let counter = 0;
function exception(warehouse, t) {
  counter += 1;
  return { event_id: `alert-e2e-${counter}`, event_type: 'fulfilment.exception',
           occurred_at: new Date(t).toISOString(), warehouse_id: warehouse,
           order_id: `ORD-${counter}` };
}

// Events of minute `m`: `n` exceptions of `warehouse`, spread over the minute.
function minute(m, warehouse, n) {
  const events = [];
  for (let i = 0; i < n; i++) events.push(exception(warehouse, START + m * MINUTE + 1000 + i * 500));
  return events;
}

const post = async (url, events) => {
  const res = await postEvents(url, 'ops', events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.accepted, events.length, JSON.stringify(res.body));
};

test('a spike of exceptions for one warehouse raises one alert, pushed over WebSocket', async () => {
  const sluice = await startSluice();
  let restarted;
  try {
    const created = await runSql(sluice.url, `
      CREATE STREAM ops WITH (event_time = 'occurred_at', watermark_delay = '5 seconds');
      CREATE MATERIALIZED VIEW exceptions_per_minute WITH (emit = 'on_close') AS
        SELECT warehouse_id, window_start, count(*) AS exceptions
        FROM TUMBLE(ops, occurred_at, INTERVAL '1' MINUTE)
        WHERE event_type = 'fulfilment.exception'
        GROUP BY warehouse_id, window_start;
      CREATE ALERT exception_spike ON exceptions_per_minute
        WITH (metric = exceptions, sigmas = 3, alpha = 0.2, warmup = 10, min_delta = 2);
      CREATE MATERIALIZED VIEW recent_alerts AS
        SELECT alert, warehouse_id, window_start, max(value) AS exceptions,
               max(threshold) AS threshold, count(*) AS raised
        FROM alerts GROUP BY alert, warehouse_id, window_start`);
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.equal(created.body.results[2].statement, 'CREATE ALERT');

    const sub = new ViewSubscription(sluice.url, 'recent_alerts');
    await sub.opened;

    // 20 normal minutes: WH-01 has 1-3 exceptions a minute (none in some), WH-02 2-4.
    const normal = [2, 1, 3, 2, 0, 2, 3, 1, 2, 2, 1, 3, 2, 0, 2, 1, 2, 3, 2, 1];
    for (let m = 0; m < normal.length; m++)
      await post(sluice.url, [...minute(m, 'WH-01', normal[m]), ...minute(m, 'WH-02', 2 + (m % 3))]);
    // Minute 20: WH-01 spikes; WH-02 stays normal. Minute 22 closes minute 20 (watermark).
    await post(sluice.url, [...minute(20, 'WH-01', 25), ...minute(20, 'WH-02', 3)]);
    await post(sluice.url, [...minute(21, 'WH-01', 2), ...minute(22, 'WH-02', 2)]);

    const spikeWindow = new Date(START + 20 * MINUTE).toISOString().replace('.000Z', 'Z');
    await sub.waitFor(() => sub.find((r) => r.warehouse_id === 'WH-01'), 10000);
    const alert = sub.find((r) => r.warehouse_id === 'WH-01');
    assert.equal(alert.alert, 'exception_spike');
    assert.equal(alert.window_start, spikeWindow);
    assert.equal(alert.exceptions, 25);
    assert.ok(alert.threshold > 2 && alert.threshold < 10, JSON.stringify(alert));
    assert.equal(alert.raised, 1);
    await sleep(300);
    assert.equal(sub.rows.size, 1, `only WH-01 alerts: ${JSON.stringify([...sub.rows.values()])}`);
    await sub.close();

    const shown = (await runSql(sluice.url, 'SHOW ALERTS')).body.results[0];
    assert.deepEqual(shown.rows.map((r) => [r[0], r[1], r[2], r.at(-1)]),
                     [['exception_spike', 'exceptions_per_minute', 'exceptions', 1]]);

    // The alerts stream is a stream: its events are there, queryable through the view.
    const queried = await runSql(sluice.url,
      "SELECT warehouse_id, exceptions FROM recent_alerts WHERE alert = 'exception_spike'");
    assert.deepEqual(queried.body.results[0].rows, [['WH-01', 25]]);

    // Errors name the problem.
    const bad = await runSql(sluice.url, 'CREATE ALERT a2 ON exceptions_per_minute WITH (metric = nope)');
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /^line 1, column 20: view 'exceptions_per_minute' has no column 'nope'/);
    const open = await runSql(sluice.url, 'DROP MATERIALIZED VIEW exceptions_per_minute');
    assert.equal(open.status, 409);
    assert.match(open.body.error, /alert exception_spike watches it/);

    // kill -9, restart: the alert comes back, judges later windows, and does not repeat.
    await sluice.kill9();
    restarted = await startSluice({ dataDir: sluice.dataDir });
    await post(restarted.url, [...minute(23, 'WH-01', 2), ...minute(25, 'WH-02', 2)]);
    const after = new ViewSubscription(restarted.url, 'recent_alerts');
    await after.opened;
    await sleep(1500);
    const rows = [...after.rows.values()];
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0].raised, 1, 'the alert was not appended twice');
    await after.close();
    const again = (await runSql(restarted.url, 'SHOW ALERTS')).body.results[0];
    assert.equal(again.rows.length, 1);
    const dropped = await runSql(restarted.url, 'DROP ALERT exception_spike; SHOW ALERTS');
    assert.equal(dropped.status, 200, JSON.stringify(dropped.body));
    assert.deepEqual(dropped.body.results[1].rows, []);
  } finally {
    await restarted?.stop();
    await sluice.stop();
  }
});
