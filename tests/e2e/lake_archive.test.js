// The compliance archive end to end: a stream with archive = 'on' keeps every raw event in an
// Iceberg table of Parquet files. Readers we did not write check it against what was
// acknowledged: icebird (the Iceberg table at its current snapshot), DuckDB (the Parquet
// files); kill -9 while committing neither loses nor duplicates a row; SIGTERM commits what is
// pending; `sluice lake verify` finds a changed file.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { DuckDBInstance } from '@duckdb/node-api';
import { icebergRead } from 'icebird';

import {
  SLUICE_BIN, freshDataDir, makeEvent, ndjson, postEvents, runSql, sleep, startSluice,
} from './lib/sluice.js';
import { serveFileUrls } from './lib/file_fetch.js';

serveFileUrls();

const STREAM_SQL = "CREATE STREAM orders WITH (subject = 'fulfilment-value', " +
  "event_time = 'occurred_at', partition_key = 'order_id', partitions = 2, archive = 'on')";

async function start(dataDir, commitInterval = '1s') {
  const config = path.join(dataDir, '..', `${path.basename(dataDir)}.toml`);
  writeFileSync(config, `[lake]\ncommit_interval = "${commitInterval}"\n`);
  return startSluice({ dataDir, args: ['--config', config] });
}

function events(n, offset) {
  // Two event hours, unicode, optional fields present or not.
  return Array.from({ length: n }, (_, i) => makeEvent({
    event_type: 'payment.captured',
    occurred_at: new Date(Date.UTC(2026, 10, 27, 8 + ((offset + i) % 2), i % 60, 0)).toISOString(),
    warehouse_id: (offset + i) % 3 === 0 ? 'WH-Zürich-ü' : 'WH-02',
    order_id: `ORD-${offset + i}`,
    amount_minor: offset + i,
    currency: 'EUR',
  }));
}

async function tableRows(dataDir) {
  const rows = await icebergRead({ tableUrl: `file://${path.join(dataDir, 'lake', 'orders')}` });
  return rows;
}

async function waitForRows(dataDir, n) {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await tableRows(dataDir)).length >= n) return;
    } catch { /* no snapshot yet */ }
    await sleep(100);
  }
  assert.fail(`the archive did not reach ${n} rows`);
}

test('every acknowledged event is in the archive exactly once, across kill -9 and SIGTERM', async () => {
  const dataDir = freshDataDir();
  let sluice = await start(dataDir);
  const sent = new Map();
  try {
    let res = await runSql(sluice.url, STREAM_SQL);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    let offset = 0;
    const post = async (n) => {
      const batch = events(n, offset);
      offset += n;
      const r = await postEvents(sluice.url, 'orders', ndjson(batch));
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.accepted, n);
      for (const e of batch) sent.set(e.event_id, e);
    };
    await post(500);
    await waitForRows(dataDir, 500);
    // kill -9 while batches keep arriving and commits happen every second.
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 5; i++) { await post(200); await sleep(150 + 97 * i); }
      await sluice.kill9();
      sluice = await start(dataDir);
    }
    await post(300);
    await waitForRows(dataDir, sent.size);
    // SIGTERM commits what is pending (a long interval: no commit would come otherwise).
    await sluice.stop({ keepData: true });
    sluice = await start(dataDir, '1h');
    await post(100);
    await sluice.terminate();
    sluice = await start(dataDir, '1h');

    // icebird: the table's current snapshot holds each acknowledged event once, as sent.
    const rows = await tableRows(dataDir);
    assert.equal(rows.length, sent.size);
    const seen = new Set();
    for (const r of rows) {
      assert.ok(!seen.has(r.event_id), `${r.event_id} archived twice`);
      seen.add(r.event_id);
      const e = sent.get(r.event_id);
      assert.ok(e, `${r.event_id} was never sent`);
      assert.equal(r.warehouse_id, e.warehouse_id);
      assert.equal(Number(r.amount_minor), e.amount_minor);
      assert.equal(new Date(r.occurred_at).toISOString(), e.occurred_at);
      assert.deepEqual(JSON.parse(r._raw), e);
    }

    // DuckDB over the table's Parquet files: the same events, sums and hour partitions.
    const files = readdirSync(path.join(dataDir, 'lake', 'orders', 'data'), { recursive: true })
      .filter((f) => f.endsWith('.parquet'));
    assert.ok(files.some((f) => f.includes('occurred_at_hour=2026-11-27-08')), files.join());
    assert.ok(files.some((f) => f.includes('occurred_at_hour=2026-11-27-09')), files.join());
    const duck = await (await DuckDBInstance.create(':memory:')).connect();
    const reader = await duck.runAndReadAll(
      `SELECT count(*)::BIGINT, count(DISTINCT event_id)::BIGINT, sum(amount_minor)::BIGINT,
              count(*) FILTER (WHERE warehouse_id = 'WH-Zürich-ü')::BIGINT
       FROM read_parquet('${path.join(dataDir, 'lake', 'orders', 'data')}/**/*.parquet')`);
    const [count, distinct, sum, zurich] = reader.getRows()[0].map(Number);
    const truth = [...sent.values()];
    assert.equal(count, sent.size);
    assert.equal(distinct, sent.size);
    assert.equal(sum, truth.reduce((a, e) => a + e.amount_minor, 0));
    assert.equal(zurich, truth.filter((e) => e.warehouse_id === 'WH-Zürich-ü').length);

    // Tamper evidence: verify passes, then finds a changed file.
    await sluice.stop({ keepData: true });
    let verify = spawnSync(SLUICE_BIN, ['lake', 'verify', '--data-dir', dataDir, '--table', 'orders'], { encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    assert.equal(JSON.parse(verify.stdout).ok, true);
    const victim = path.join(dataDir, 'lake', 'orders', 'data', files[0]);
    appendFileSync(victim, 'x');
    verify = spawnSync(SLUICE_BIN, ['lake', 'verify', '--data-dir', dataDir, '--table', 'orders'], { encoding: 'utf8' });
    assert.equal(verify.status, 1, verify.stdout + verify.stderr);
    assert.deepEqual(JSON.parse(verify.stdout).changed, [path.join('data', files[0])]);
  } finally {
    await sluice.stop();
  }
});

test('the default fulfilment stream is archived unless [streams.fulfilment] archive = false', async () => {
  for (const [archive, expected] of [[undefined, 'on'], [false, undefined]]) {
    const dataDir = freshDataDir();
    const config = path.join(dataDir, '..', `${path.basename(dataDir)}.toml`);
    writeFileSync(config, archive === undefined ? '' : `[streams.fulfilment]\narchive = ${archive}\n`);
    const sluice = await startSluice({ dataDir, args: ['--config', config] });
    try {
      const described = (await runSql(sluice.url, 'DESCRIBE fulfilment')).body.results[0];
      assert.equal(described.options.archive, expected, JSON.stringify(described.options));
    } finally {
      await sluice.stop();
    }
  }
});
