// History the log no longer holds, from the lake: once the log's retention has deleted old
// events, a view created with backfill = 'lake' still counts every event (read from the
// stream's archive, then the log), while one backfilled from the log alone cannot; and
// `sluice replay` sends the archived events into another stream through the ingest API,
// exactly once when replayed twice, and only the hours asked for with --from/--to.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import {
  SLUICE_BIN, freshDataDir, getJson, makeEvent, ndjson, postEvents, runSql, sleep, startSluice,
} from './lib/sluice.js';

const HOURS = 3;

function events(n, offset) {
  return Array.from({ length: n }, (_, i) => makeEvent({
    event_type: 'payment.captured',
    occurred_at: new Date(Date.UTC(2026, 10, 27, 8 + ((offset + i) % HOURS), i % 60, 7)).toISOString(),
    order_id: `ORD-${offset + i}`,
    amount_minor: offset + i,
    currency: 'EUR',
    note: 'padding so that the small log segments roll often '.repeat(4),
  }));
}

async function viewRows(url, view) {
  for (let i = 0; i < 300; i++) {
    const res = await getJson(`${url}/v1/views/${view}`);
    if (res.status === 200) {
      const { columns, rows } = (await runSql(url, 'SHOW VIEWS')).body.results[0];
      const lag = rows.find((r) => r[0] === view)?.[columns.indexOf('lag')];
      if (lag === 0) return res.body.rows;
    }
    await sleep(100);
  }
  assert.fail(`view ${view} did not catch up`);
}

test('a view backfills from the lake what the log no longer holds; sluice replay resends it',
  async () => {
    const dataDir = freshDataDir();
    const config = path.join(dataDir, '..', `${path.basename(dataDir)}.toml`);
    writeFileSync(config, '[lake]\ncommit_interval = "200ms"\n' +
      '[log]\nsegment_bytes = 65536\nhousekeeping_interval = "500ms"\n');
    const sluice = await startSluice({ dataDir, args: ['--config', config] });
    try {
      let res = await runSql(sluice.url,
        "CREATE STREAM orders WITH (subject = 'fulfilment-value', event_time = 'occurred_at', " +
        "partition_key = 'order_id', partitions = 2, archive = 'on', retention = '3 seconds')");
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const sent = [];
      for (let b = 0; b < 6; b++) {
        const batch = events(500, sent.length);
        const r = await postEvents(sluice.url, 'orders', ndjson(batch));
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal(r.body.accepted, batch.length);
        sent.push(...batch);
      }
      // Retention deletes the old segments once they are 3 s old (the archive committed them
      // long before: every 200 ms).
      let deleted = false;
      let largest = 0;
      for (let i = 0; i < 100 && !deleted; i++) {
        await sleep(200);
        const metrics = await (await fetch(`${sluice.url}/metrics`)).text();
        const bytes = Number(metrics.match(/^sluice_log_bytes\{stream="orders"\} (\d+)/m)?.[1] ?? 0);
        largest = Math.max(largest, bytes);
        deleted = largest > 65536 * 8 && bytes < largest / 4;
      }
      assert.ok(deleted, 'the log retention did not delete the old segments');
      const late = events(200, sent.length);
      const r = await postEvents(sluice.url, 'orders', ndjson(late));
      assert.equal(r.body.accepted, late.length);
      sent.push(...late);
      const total = sent.reduce((a, e) => a + e.amount_minor, 0);

      res = await runSql(sluice.url,
        'CREATE MATERIALIZED VIEW from_log AS SELECT count(*) AS n FROM orders; ' +
        "CREATE MATERIALIZED VIEW from_lake WITH (backfill = 'lake') AS " +
        'SELECT count(*) AS n, count(DISTINCT event_id) AS ids, sum(amount_minor) AS total ' +
        'FROM orders');
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const fromLog = await viewRows(sluice.url, 'from_log');
      assert.ok(fromLog[0].n < sent.length, `the log still held everything: ${fromLog[0].n}`);
      const fromLake = await viewRows(sluice.url, 'from_lake');
      assert.deepEqual(fromLake, [{ n: sent.length, ids: sent.length, total }]);

      const described = await runSql(sluice.url, 'DESCRIBE from_lake');
      assert.equal(described.body.results[0].options.backfill, 'lake', JSON.stringify(described.body));
      res = await runSql(sluice.url,
        "CREATE STREAM plain WITH (event_time = 'occurred_at'); " +
        "CREATE MATERIALIZED VIEW nope WITH (backfill = 'lake') AS SELECT count(*) FROM plain");
      assert.equal(res.status, 400);
      assert.match(res.body.error ?? JSON.stringify(res.body),
        /backfill = 'lake' reads the archive of stream plain, which has none/);

      // sluice replay: the archive (everything sent, once the last commit is in) into a copy.
      res = await runSql(sluice.url,
        "CREATE STREAM copy WITH (subject = 'fulfilment-value', event_time = 'occurred_at', " +
        "delivery = 'exactly_once'); " +
        'CREATE MATERIALIZED VIEW copy_totals AS SELECT count(*) AS n, ' +
        'sum(amount_minor) AS total FROM copy');
      assert.equal(res.status, 200, JSON.stringify(res.body));
      await sleep(1000);  // the archive's next commit (every 200 ms) holds the last 200
      const replay = (...extra) => spawnSync(SLUICE_BIN, ['replay', '--data-dir', dataDir,
        '--table', 'orders', '--url', sluice.url, '--stream', 'copy', '--batch', '700', ...extra],
      { encoding: 'utf8' });
      let out = replay();
      assert.equal(out.status, 0, out.stdout + out.stderr);
      let summary = JSON.parse(out.stdout);
      assert.equal(summary.events, sent.length);
      assert.equal(summary.accepted, sent.length);
      assert.equal(summary.rejected, 0);
      assert.deepEqual(await viewRows(sluice.url, 'copy_totals'), [{ n: sent.length, total }]);
      // Run again: every event is a duplicate, the totals do not move.
      out = replay();
      assert.equal(out.status, 0, out.stdout + out.stderr);
      summary = JSON.parse(out.stdout);
      assert.equal(summary.accepted, 0);
      assert.equal(summary.duplicates, sent.length);
      assert.deepEqual(await viewRows(sluice.url, 'copy_totals'), [{ n: sent.length, total }]);
      // --from/--to: only the events of the hour 09:00.
      out = replay('--from', '2026-11-27T09:00:00Z', '--to', '2026-11-27T10:00:00Z');
      assert.equal(out.status, 0, out.stdout + out.stderr);
      summary = JSON.parse(out.stdout);
      assert.equal(summary.events, sent.filter((e) => e.occurred_at.startsWith('2026-11-27T09')).length);
      assert.equal(summary.files > 0 && summary.files < 1000, true);
      // Errors are precise.
      out = spawnSync(SLUICE_BIN, ['replay', '--data-dir', dataDir, '--table', 'nosuch',
        '--url', sluice.url, '--stream', 'copy'], { encoding: 'utf8' });
      assert.equal(out.status, 2);
      assert.match(out.stderr, /no lake table nosuch under/);
      out = replay('--from', 'yesterday');
      assert.equal(out.status, 2);
      assert.match(out.stderr, /--from: /);
    } finally {
      await sluice.stop();
    }
  });
