// Rollups (`rollups = '1 hour after 30 days, 1 day after 1 year'`) through the real binary:
// each tier is a view `<view>_<size>` whose rows must equal DuckDB's aggregation of the same
// events into hours and days (the DuckDB differential); a query for one warehouse reads only
// that warehouse's rows of the view store (the `scan` figures); and after kill -9 the stored
// rows come back unchanged.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { DuckDBInstance } from '@duckdb/node-api';

import { ndjson, postEvents, runSql, sleep, startSluice } from './lib/sluice.js';
import { loadEvents, random, waitForCatchUp } from './lib/differential.js';

const WAREHOUSES = ['WH-01', 'WH-02', 'WH-03', 'WH-04'];
const DAYS = 5;

function generateEvents() {
  const rand = random(41);
  const start = Date.parse('2026-11-20T00:00:00Z');
  const events = [];
  // About every 3 minutes per warehouse over five days, in time order.
  for (let t = start; t < start + DAYS * 86_400_000; t += 45_000) {
    const wh = WAREHOUSES[Math.floor(rand() * WAREHOUSES.length)];
    events.push({ event_id: `r-${events.length}`, warehouse_id: wh,
                  occurred_at: new Date(t + Math.floor(rand() * 1000)).toISOString(),
                  amount: Math.floor(rand() * 10_000) - 500 });
  }
  return events;
}

async function rows(url, sql) {
  const res = await runSql(url, sql);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.results[0];
}

const key = (r) => `${r[0]}|${new Date(r[1]).toISOString()}`;

test('rollup tiers equal DuckDB over the same events, range queries read only their keys, ' +
     'and the stored rows survive kill -9', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-rollups-'));
  let sluice = await startSluice();
  try {
    const created = await runSql(sluice.url, `
      CREATE STREAM sales WITH (event_time = 'occurred_at', watermark_delay = '1 second');
      CREATE MATERIALIZED VIEW sales_per_minute WITH (retention = '2 years',
          rollups = '1 hour after 30 days, 1 day after 1 year') AS
        SELECT warehouse_id, window_start, count(*) AS n, sum(amount) AS total,
               min(amount) AS lo, max(amount) AS hi, avg(amount) AS mean
        FROM TUMBLE(sales, occurred_at, INTERVAL '1' MINUTE)
        GROUP BY warehouse_id, window_start`);
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const shown = await rows(sluice.url, 'SHOW VIEWS');
    const rollupOf = shown.columns.indexOf('rollup_of');
    assert.deepEqual(shown.rows.filter((r) => r[rollupOf] === 'sales_per_minute').map((r) => r[0]),
                     ['sales_per_minute_1d', 'sales_per_minute_1h']);

    const events = generateEvents();
    for (let i = 0; i < events.length; i += 2000) {
      const res = await postEvents(sluice.url, 'sales', ndjson(events.slice(i, i + 2000)));
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    await waitForCatchUp(sluice.url);

    const file = path.join(dir, 'events.ndjson');
    writeFileSync(file, ndjson(events));
    const duck = await (await DuckDBInstance.create(':memory:')).connect();
    await loadEvents(duck, file);
    const select = 'warehouse_id, window_start, n, total, lo, hi, mean';
    for (const [view, unit] of [['sales_per_minute_1h', 'hour'], ['sales_per_minute_1d', 'day'],
                                ['sales_per_minute', 'minute']]) {
      const ours = await rows(sluice.url, `SELECT ${select} FROM ${view}`);
      const reader = await duck.runAndReadAll(
        `SELECT warehouse_id, epoch_us(date_trunc('${unit}', occurred_at::TIMESTAMP)) AS ws,
                count(*), sum(amount), min(amount), max(amount), avg(amount)
         FROM ev GROUP BY ALL`);
      const expected = new Map(reader.getRows().map((r) =>
        [`${r[0]}|${new Date(Number(r[1]) / 1000).toISOString()}`, r.slice(2)]));
      assert.equal(ours.rows.length, expected.size, `${view}: row count`);
      for (const r of ours.rows) {
        const want = expected.get(key(r));
        assert.ok(want, `${view}: unexpected row ${JSON.stringify(r)}`);
        assert.deepEqual(r.slice(2, 6), want.slice(0, 4).map(Number), `${view} ${key(r)}`);
        assert.ok(Math.abs(r[6] - Number(want[4])) <= 1e-9 * Math.abs(Number(want[4])) + 1e-9,
                  `${view} ${key(r)}: mean ${r[6]} vs ${want[4]}`);
      }
    }

    // One warehouse's days: only its rows are read (4 warehouses x 5 days in the tier).
    const oneWarehouse = `SELECT window_start, n, total FROM sales_per_minute_1d
                          WHERE warehouse_id = 'WH-03' ORDER BY window_start`;
    const res = await runSql(sluice.url, oneWarehouse);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const day = res.body.results[0];
    assert.equal(day.rows.length, DAYS);
    assert.equal(day.scan.rows_read, DAYS, JSON.stringify(day.scan));
    const ranged = (await runSql(sluice.url, `SELECT count(*) FROM sales_per_minute
        WHERE warehouse_id = 'WH-01' AND window_start >= TIMESTAMP '2026-11-21T00:00:00Z'
          AND window_start < TIMESTAMP '2026-11-21T01:00:00Z'`)).body.results[0];
    const wanted = await duck.runAndReadAll(
      `SELECT count(DISTINCT date_trunc('minute', occurred_at::TIMESTAMP)) FROM ev
       WHERE warehouse_id = 'WH-01' AND occurred_at >= '2026-11-21T00:00:00Z'
         AND occurred_at < '2026-11-21T01:00:00Z'`);
    assert.equal(ranged.rows[0][0], Number(wanted.getRows()[0][0]));
    assert.equal(ranged.scan.rows_read, ranged.rows[0][0], JSON.stringify(ranged.scan));

    // The rows are stored with the checkpoints: after kill -9 they are read back, not rebuilt.
    const before = await rows(sluice.url, `SELECT ${select} FROM sales_per_minute_1h`);
    await sleep(1500);  // past [pipeline] checkpoint_interval (1 s): the rows are committed
    await sluice.kill9();
    sluice = await startSluice({ dataDir: sluice.dataDir });
    await waitForCatchUp(sluice.url);
    assert.deepEqual((await rows(sluice.url, `SELECT ${select} FROM sales_per_minute_1h`)).rows,
                     before.rows);
    assert.match(sluice.output(), /view sales_per_minute_1h: restored .* rows opened/, sluice.output());

    // The tiers go with their view; a tier alone cannot be dropped.
    const refused = await runSql(sluice.url, 'DROP MATERIALIZED VIEW sales_per_minute_1h');
    assert.equal(refused.status, 409);
    assert.match(refused.body.error, /is a rollup of sales_per_minute/);
    assert.equal((await runSql(sluice.url, 'DROP MATERIALIZED VIEW sales_per_minute')).status, 200);
    const left = (await rows(sluice.url, 'SHOW VIEWS')).rows.map((r) => r[0]);
    assert.ok(!left.some((n) => n.startsWith('sales_per_minute')), JSON.stringify(left));
  } finally {
    await sluice.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
