// SQL over the lake end to end (issue 6, time travel): a stream with archive = 'on' commits its
// events to an Iceberg table; SELECT ... FROM lake.orders through POST /v1/sql must give what
// DuckDB computes over the same Parquet files (and what was ingested), prune hours and row
// groups, and read earlier snapshots with FOR VERSION AS OF / FOR SYSTEM_TIME AS OF (checked
// against the answers given before, and against icebird reading the table's earlier metadata).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { DuckDBInstance } from '@duckdb/node-api';
import { icebergRead } from 'icebird';

import { random } from './lib/differential.js';
import {
  SLUICE_BIN, freshDataDir, ndjson, postEvents, runSql, sleep, startSluice,
} from './lib/sluice.js';
import { serveFileUrls } from './lib/file_fetch.js';

serveFileUrls();

const STREAM_SQL = "CREATE STREAM orders WITH (subject = 'fulfilment-value', " +
  "event_time = 'occurred_at', partition_key = 'order_id', partitions = 2, archive = 'on')";
const WAREHOUSES = ['WH-01', 'WH-02', 'WH-03', 'WH-Zürich-ü'];

// Seeded events over four event hours (2026-11-27 08:00 to 11:59); every fifth has no amount.
function makeEvents(n, seed, firstId) {
  const next = random(seed);
  return Array.from({ length: n }, (_, i) => {
    const id = firstId + i;
    const hour = 8 + Math.floor(next() * 4);
    const at = new Date(Date.UTC(2026, 10, 27, hour, Math.floor(next() * 60),
                                 Math.floor(next() * 60), Math.floor(next() * 1000)));
    const e = {
      event_id: `lake-sql-${id}`,
      event_type: id % 5 === 0 ? 'pick.completed' : 'payment.captured',
      occurred_at: at.toISOString(),
      warehouse_id: WAREHOUSES[Math.floor(next() * WAREHOUSES.length)],
      order_id: `ORD-${Math.floor(next() * (n / 2))}`,
    };
    if (id % 5 !== 0) {
      e.amount_minor = Math.floor(next() * 100000) - 1000;
      e.currency = 'EUR';
    }
    if (id % 7 === 0) e.requires_action = id % 2 === 0;
    return e;
  });
}

// The answers compared with DuckDB: [Sluice SQL over lake.orders] (DuckDB runs the same text
// over the view t of the snapshot's Parquet files).
const QUERIES = [
  'SELECT count(*), sum(amount_minor), count(amount_minor), count(DISTINCT order_id), ' +
    'min(occurred_at), max(occurred_at) FROM lake.orders',
  'SELECT warehouse_id, count(*), sum(amount_minor), count(DISTINCT order_id), ' +
    'max(amount_minor) FROM lake.orders GROUP BY warehouse_id ORDER BY warehouse_id',
  "SELECT count(*), sum(amount_minor) FROM lake.orders WHERE occurred_at >= '2026-11-27T09:00:00Z' " +
    "AND occurred_at < '2026-11-27T10:00:00Z'",
  "SELECT warehouse_id, count(*) FROM lake.orders WHERE occurred_at BETWEEN " +
    "'2026-11-27T09:15:00Z' AND '2026-11-27T10:45:00Z' AND warehouse_id <> 'WH-02' " +
    'GROUP BY 1 ORDER BY 1',
  'SELECT event_id, amount_minor FROM lake.orders WHERE amount_minor > 95000 ' +
    'ORDER BY amount_minor DESC, event_id LIMIT 7',
  "SELECT count(*), count(requires_action) FROM lake.orders WHERE warehouse_id IN ('WH-Zürich-ü', 'WH-03') " +
    'AND requires_action',
  'SELECT requires_action, count(*) FROM lake.orders GROUP BY 1 ORDER BY 1 NULLS FIRST',
  "SELECT count(*) FROM lake.orders WHERE occurred_at > '2026-11-27T11:59:00Z' OR amount_minor < -990",
  "SELECT count(*) FROM lake.orders WHERE _raw LIKE '%pick.completed%' AND occurred_at < '2026-11-27T09:00:00Z'",
];

const isRfc3339 = (v) => typeof v === 'string' && /^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(v);

// Normalised values: null | {k:'int'|'num'|'str'|'bool'|'ts', v}.
function normalise(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return { k: 'int', v };
  if (typeof v === 'number') return Number.isSafeInteger(v) ? { k: 'int', v: BigInt(v) } : { k: 'num', v };
  if (typeof v === 'boolean') return { k: 'bool', v };
  const name = v.constructor?.name;
  if (name === 'DuckDBTimestampValue' || name === 'DuckDBTimestampTZValue') return { k: 'ts', v: BigInt(v.micros) };
  if (name === 'DuckDBHugeIntValue') return { k: 'int', v: BigInt(v.toString()) };
  if (name === 'DuckDBDecimalValue') return { k: 'num', v: Number(v.toString()) };
  if (isRfc3339(v)) {
    const [whole, fraction = ''] = v.slice(0, -1).split('.');
    return { k: 'ts', v: BigInt(Date.parse(`${whole}Z`)) * 1000n + BigInt((fraction + '000000').slice(0, 6)) };
  }
  return { k: 'str', v: String(v) };
}

const same = (a, b) => JSON.stringify(a, (_, v) => (typeof v === 'bigint' ? `${v}` : v)) ===
  JSON.stringify(b, (_, v) => (typeof v === 'bigint' ? `${v}` : v));

// RFC 3339 as Sluice prints a time in milliseconds: no fraction for whole seconds.
function sluiceTime(ms) {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

async function query(url, sql) {
  const res = await runSql(url, sql);
  assert.equal(res.status, 200, `${sql}: ${JSON.stringify(res.body)}`);
  return res.body.results[0];
}

describe('SQL over the lake with time travel', () => {
  let sluice, dataDir, tableDir, duck;
  const config = () => path.join(dataDir, '..', `${path.basename(dataDir)}.toml`);

  before(async () => {
    dataDir = freshDataDir();
    tableDir = path.join(dataDir, 'lake', 'orders');
    writeFileSync(config(), '[lake]\ncommit_interval = "1s"\nview_commit_interval = "1s"\n');
    sluice = await startSluice({ dataDir, args: ['--config', config()] });
    const res = await runSql(sluice.url, STREAM_SQL);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    duck = await (await DuckDBInstance.create(':memory:')).connect();
    await duck.run("SET TimeZone = 'UTC'");
  });

  after(async () => {
    duck?.closeSync?.();
    await sluice?.stop();
  });

  async function ingest(events) {
    for (let i = 0; i < events.length; i += 1000) {
      const r = await postEvents(sluice.url, 'orders', ndjson(events.slice(i, i + 1000)));
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
  }

  // Waits until the archive's current snapshot holds `n` rows; returns that answer.
  async function waitForRows(n) {
    let last;
    for (let i = 0; i < 300; i++) {
      const res = await runSql(sluice.url, 'SELECT count(*) FROM lake.orders');
      last = res.body;
      if (res.status === 200 && res.body.results[0].rows[0][0] === n) return res.body.results[0];
      await sleep(100);
    }
    assert.fail(`the lake did not reach ${n} rows: ${JSON.stringify(last)}`);
  }

  // DuckDB's answers over the Parquet files on disk now (the view t), for every query.
  async function duckAnswers() {
    const files = readdirSync(path.join(tableDir, 'data'), { recursive: true })
      .filter((f) => f.endsWith('.parquet')).map((f) => `'${path.join(tableDir, 'data', f)}'`);
    await duck.run(`CREATE OR REPLACE VIEW t AS SELECT * FROM read_parquet([${files.join(', ')}])`);
    const answers = [];
    for (const q of QUERIES) {
      const reader = await duck.runAndReadAll(q.replaceAll('lake.orders', 't'));
      answers.push(reader.getRows().map((r) => r.map(normalise)));
    }
    return answers;
  }

  async function sluiceAnswers(travel = '') {
    const answers = [];
    for (const q of QUERIES) {
      const res = await query(sluice.url, q.replace('FROM lake.orders', `FROM lake.orders ${travel}`));
      answers.push(res.rows.map((r) => r.map(normalise)));
    }
    return answers;
  }

  function assertSame(ours, theirs, what) {
    for (let i = 0; i < QUERIES.length; i++) {
      assert.ok(theirs[i].length > 0 && theirs[i][0].some((v) => v !== null),
                `${QUERIES[i]}: DuckDB found no rows, the query tests nothing`);
      assert.ok(same(ours[i], theirs[i]),
                `${what}: ${QUERIES[i]}\nSluice ${JSON.stringify(ours[i], (_, v) => (typeof v === 'bigint' ? `${v}` : v))}` +
                `\nDuckDB ${JSON.stringify(theirs[i], (_, v) => (typeof v === 'bigint' ? `${v}` : v))}`);
    }
  }

  let first, firstAnswers, firstTruth, firstMetadata, between;
  const batch1 = makeEvents(6000, 1, 0);
  const batch2 = makeEvents(3000, 2, 6000);

  test('answers as DuckDB does over the same Parquet files, and as ingested', async () => {
    await ingest(batch1);
    first = (await waitForRows(batch1.length)).scan;
    firstMetadata = `v${readFileSync(path.join(tableDir, 'metadata', 'version-hint.text'), 'utf8').trim()}.metadata.json`;
    firstAnswers = await sluiceAnswers();
    assertSame(firstAnswers, await duckAnswers(), 'current snapshot');
    // The ground truth we ingested.
    const [[count, sum, counted, distinct]] = firstAnswers[0];
    const amounts = batch1.filter((e) => e.amount_minor !== undefined).map((e) => e.amount_minor);
    assert.equal(count.v, BigInt(batch1.length));
    assert.equal(sum.v, BigInt(amounts.reduce((a, b) => a + b, 0)));
    assert.equal(counted.v, BigInt(amounts.length));
    assert.equal(distinct.v, BigInt(new Set(batch1.map((e) => e.order_id)).size));
    firstTruth = batch1.filter((e) => e.occurred_at >= '2026-11-27T09' && e.occurred_at < '2026-11-27T10').length;
    assert.equal(firstAnswers[2][0][0].v, BigInt(firstTruth));
    between = Date.now();
    await sleep(20);
  });

  test('prunes hours, reads only the columns needed', async () => {
    const hour = await query(sluice.url, QUERIES[2]);
    assert.ok(hour.scan.files >= 4, JSON.stringify(hour.scan));
    assert.equal(hour.scan.files_read, hour.scan.files - hour.scan.files_pruned_by_partition);
    assert.ok(hour.scan.files_pruned_by_partition >= 3, JSON.stringify(hour.scan));
    assert.equal(hour.scan.rows_scanned, firstTruth);
    // count(*) alone reads no data file: the manifests' record counts suffice.
    const count = await query(sluice.url, 'SELECT count(*) FROM lake.orders');
    assert.equal(count.scan.files_read, 0);
    assert.equal(count.scan.bytes_decoded, 0);
    // _raw is decoded only when the query reads it.
    const narrow = await query(sluice.url, 'SELECT sum(amount_minor) FROM lake.orders');
    const raw = await query(sluice.url, 'SELECT sum(amount_minor), max(_raw) FROM lake.orders');
    assert.ok(raw.scan.bytes_decoded > 5 * narrow.scan.bytes_decoded, JSON.stringify([narrow.scan, raw.scan]));
    // A result names the table and its snapshot.
    assert.equal(count.view, 'lake.orders');
    assert.equal(count.version, count.scan.snapshot_id);
    assert.deepEqual(count.types, ['BIGINT']);
  });

  test('time travel reads the earlier snapshot', async () => {
    await ingest(batch2);
    const now = (await waitForRows(batch1.length + batch2.length)).scan;
    assert.notEqual(now.snapshot_id, first.snapshot_id);
    assertSame(await sluiceAnswers(), await duckAnswers(), 'after the second batch');

    for (const travel of [`FOR VERSION AS OF ${first.snapshot_id}`,
                          `FOR VERSION AS OF ${first.snapshot_sequence_number}`,
                          `FOR SYSTEM_TIME AS OF '${new Date(between).toISOString()}'`,
                          `FOR SYSTEM_TIME AS OF '${new Date(first.snapshot_timestamp_ms).toISOString().replace('T', ' ').replace('Z', '')}'`]) {
      const answers = await sluiceAnswers(travel);
      assert.ok(same(answers, firstAnswers), `${travel} gives the first snapshot's answers`);
      const r = await query(sluice.url, `SELECT count(*) FROM lake.orders ${travel}`);
      assert.equal(r.scan.snapshot_id, first.snapshot_id, travel);
    }
    // icebird reads the table's metadata of then: the same rows per warehouse.
    const rows = await icebergRead({ tableUrl: `file://${tableDir}`, metadataFileName: firstMetadata });
    assert.equal(rows.length, batch1.length);
    const perWarehouse = new Map();
    for (const r of rows) perWarehouse.set(r.warehouse_id, (perWarehouse.get(r.warehouse_id) ?? 0) + 1);
    const travelled = await query(sluice.url,
      `SELECT warehouse_id, count(*) FROM lake.orders FOR VERSION AS OF ${first.snapshot_id} GROUP BY 1 ORDER BY 1`);
    assert.deepEqual(travelled.rows, [...perWarehouse.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
  });

  test('errors say what was asked and what exists', async () => {
    const metadata = JSON.parse(readFileSync(path.join(tableDir, 'metadata',
      `v${readFileSync(path.join(tableDir, 'metadata', 'version-hint.text'), 'utf8').trim()}.metadata.json`), 'utf8'));
    const snapshots = metadata.snapshots;
    const error = async (sql, status = 400) => {
      const res = await runSql(sluice.url, sql);
      assert.equal(res.status, status, JSON.stringify(res.body));
      return res.body.error;
    };
    assert.equal(await error('SELECT count(*) FROM lake.ordres'),
                 "line 1, column 22: unknown lake table 'ordres' (did you mean 'lake.orders'?)");
    assert.equal(await error("SELECT count(*) FROM lake.orders FOR SYSTEM_TIME AS OF '2026-01-01 00:00:00'"),
                 "line 1, column 56: lake table 'orders' has no snapshot at or before " +
                 `2026-01-01T00:00:00Z: its first snapshot (id ${snapshots[0]['snapshot-id']}) was ` +
                 `committed at ${sluiceTime(snapshots[0]['timestamp-ms'])}`);
    // The first ten snapshots, then how many more (commits may be split under load).
    const listed = snapshots.slice(0, 10)
      .map((s) => `id ${s['snapshot-id']} (sequence number ${s['sequence-number']})`).join(', ') +
      (snapshots.length > 10 ? ` and ${snapshots.length - 10} more, up to sequence number ` +
                               `${snapshots.at(-1)['sequence-number']}` : '');
    assert.equal(await error('SELECT count(*) FROM lake.orders FOR VERSION AS OF 123456'),
                 "line 1, column 52: lake table 'orders' has no snapshot with id or sequence number " +
                 `123456; it has ${snapshots.length} snapshots: ${listed}`);
    let res = await runSql(sluice.url, 'CREATE MATERIALIZED VIEW per_wh AS SELECT warehouse_id, ' +
                                       'count(*) AS n FROM orders GROUP BY warehouse_id');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(await error('SELECT * FROM per_wh FOR VERSION AS OF 1'),
                 "line 1, column 40: FOR SYSTEM_TIME / VERSION AS OF reads the lake (FROM " +
                 "lake.<name>: a stream's archive or a view kept WITH (lake = 'on')); 'per_wh' " +
                 'is not a lake table');
    assert.equal(await error('SELECT * FROM lake.per_wh'),
                 "line 1, column 15: unknown lake table 'per_wh': view 'per_wh' is not kept in " +
                 "the lake; create it WITH (lake = 'on') to keep its history there");
    res = await runSql(sluice.url, "CREATE STREAM plain WITH (event_time = 'occurred_at')");
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(await error('SELECT * FROM lake.plain'),
                 "line 1, column 15: unknown lake table 'plain': stream 'plain' is not archived; " +
                 "create it WITH (archive = 'on') to keep its events in the lake");
  });

  test("a view kept WITH (lake = 'on') is a lake table too", async () => {
    const res = await runSql(sluice.url, "CREATE MATERIALIZED VIEW per_wh_lake WITH (lake = 'on') AS " +
                             'SELECT warehouse_id, count(*) AS n, sum(amount_minor) AS amount ' +
                             'FROM orders GROUP BY warehouse_id');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const q = 'SELECT warehouse_id, n, amount FROM {} ORDER BY warehouse_id';
    let view, lake;
    for (let i = 0; i < 300; i++) {
      view = await runSql(sluice.url, q.replace('{}', 'per_wh_lake'));
      lake = await runSql(sluice.url, q.replace('{}', 'lake.per_wh_lake'));
      const rows = lake.status === 200 ? lake.body.results[0].rows : [];
      if (JSON.stringify(rows) === JSON.stringify(view.body.results[0].rows) &&
          rows.reduce((a, r) => a + r[1], 0) === batch1.length + batch2.length) break;
      await sleep(100);
    }
    assert.deepEqual(lake.body.results[0].rows, view.body.results[0].rows);
    const total = lake.body.results[0].rows.reduce((a, r) => a + r[1], 0);
    assert.equal(total, batch1.length + batch2.length);
    const travelled = await query(sluice.url, q.replace('{}', 'lake.per_wh_lake FOR VERSION AS OF 1'));
    assert.equal(travelled.scan.snapshot_sequence_number, 1);
  });

  test('sluice sql runs a time-travel query', () => {
    const run = spawnSync(SLUICE_BIN, ['sql', '--url', sluice.url,
      `SELECT count(*) AS n FROM lake.orders FOR VERSION AS OF ${first.snapshot_sequence_number}`],
    { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(run.stdout, new RegExp(`\\b${batch1.length}\\b`));
  });
});
