// Reference tables and joins end to end, against the real binary with real clients (Node's
// fetch; DuckDB via @duckdb/node-api as the reference):
// - CREATE TABLE / SHOW TABLES / DESCRIBE / DROP TABLE; PUT /v1/tables/{t}/rows with JSON, NDJSON
//   and CSV, per-row rejections, deletes, GET; rows and views survive kill -9;
// - a differential test: an inner and a LEFT lookup join (enrichment by a table loaded from CSV)
//   and an interval join (pick.started with pick.completed of the same order within 3 minutes)
//   over generated events posted out of order within the watermark, compared row for row with
//   the same joins run as batch SQL in DuckDB over the same events; then again after kill -9
//   and a restart.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { DuckDBInstance } from '@duckdb/node-api';

import { SLUICE_BIN, getJson, postEvents, runSql, sleep, startSluice } from './lib/sluice.js';
import { random, waitForCatchUp, loadEvents } from './lib/differential.js';

const EVENT_COUNT = Number(process.env.SQL_JOINS_DIFF_EVENTS ?? 6000);

async function putRows(url, table, body, contentType) {
  const res = await fetch(`${url}/v1/tables/${table}/rows`, {
    method: 'PUT',
    headers: { 'content-type': contentType },
    body,
  });
  return { status: res.status, body: await res.json() };
}

async function waitFor(check, what) {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await sleep(50);
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('reference tables over HTTP: JSON, NDJSON, CSV, errors, SHOW/DESCRIBE, kill -9', async () => {
  let sluice = await startSluice();
  try {
    const created = await runSql(sluice.url,
        `CREATE TABLE warehouses (warehouse_id VARCHAR, region VARCHAR, capacity BIGINT,
                                  opened TIMESTAMP, PRIMARY KEY (warehouse_id))`);
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.equal(created.body.results[0].created, true);

    const json = await putRows(sluice.url, 'warehouses', JSON.stringify([
      { warehouse_id: 'WH-01', region: 'north', capacity: 100 },
      { region: 'nowhere' },
      { warehouse_id: 'WH-02', region: 'south', capacity: 'big' },
      { warehouse_id: 'WH-03', region: 'south', opened: '2026-01-02T03:04:05Z' },
    ]), 'application/json');
    assert.equal(json.status, 200);
    assert.deepEqual(json.body, {
      upserted: 2, deleted: 0, rejected: [
        { index: 1, error: "primary key column 'warehouse_id' is missing or null" },
        { index: 2, error: "column 'capacity' is BIGINT, found a string" }],
    });
    const nd = await putRows(sluice.url, 'warehouses',
        '{"warehouse_id":"WH-03","_deleted":true}\n{"warehouse_id":"WH-04","region":"east"}\n',
        'application/x-ndjson');
    assert.deepEqual(nd.body, { upserted: 1, deleted: 1, rejected: [] });
    const csv = await putRows(sluice.url, 'warehouses',
        'warehouse_id,region,capacity\nWH-05,"west, coast",50\nWH-06,,notanumber\n', 'text/csv');
    assert.equal(csv.body.upserted, 1);
    assert.equal(csv.body.rejected.length, 1);
    assert.equal(csv.body.rejected[0].index, 1);
    assert.match(csv.body.rejected[0].error, /column 'capacity' is BIGINT/);

    assert.equal((await putRows(sluice.url, 'warehouses', 'a,b\n', 'text/csv')).status, 400);
    assert.equal((await putRows(sluice.url, 'warehouses', '[]', 'text/plain')).status, 415);
    assert.equal((await putRows(sluice.url, 'nope', '[]', 'application/json')).status, 404);
    assert.equal((await putRows(sluice.url, 'warehouses', '{', 'application/json')).status, 400);

    const rows = await getJson(`${sluice.url}/v1/tables/warehouses/rows`);
    assert.equal(rows.status, 200);
    assert.deepEqual(rows.body.primary_key, ['warehouse_id']);
    assert.deepEqual(rows.body.rows.map((r) => [r.warehouse_id, r.region]).sort(),
        [['WH-01', 'north'], ['WH-04', 'east'], ['WH-05', 'west, coast']]);

    const shown = (await runSql(sluice.url, 'SHOW TABLES; DESCRIBE warehouses')).body.results;
    assert.deepEqual(shown[0].rows,
        [['warehouses', 'warehouse_id VARCHAR, region VARCHAR, capacity BIGINT, opened TIMESTAMP',
          'warehouse_id', 3, '']]);
    assert.equal(shown[1].kind, 'table');
    assert.deepEqual(shown[1].rows[0], ['warehouse_id', 'VARCHAR', true]);

    // A view joining it; the table cannot be dropped under it.
    const view = await runSql(sluice.url,
        `CREATE MATERIALIZED VIEW per_region AS
           SELECT w.region, count(*) AS events
           FROM fulfilment AS e JOIN warehouses AS w ON e.warehouse_id = w.warehouse_id
           GROUP BY w.region`);
    assert.equal(view.status, 200, JSON.stringify(view.body));
    const described = (await runSql(sluice.url, 'DESCRIBE per_region')).body.results[0];
    assert.equal(described.options.join, 'lookup join with table warehouses');
    const drop = await runSql(sluice.url, 'DROP TABLE warehouses');
    assert.equal(drop.status, 409);
    assert.match(drop.body.error, /materialized views join it \(per_region\)/);
    const bad = await runSql(sluice.url,
        `CREATE MATERIALIZED VIEW bad AS SELECT count(*) AS n FROM fulfilment e
         JOIN warehouses w ON e.warehouse_id = w.region`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.line, 2);
    assert.equal(bad.body.column, 31);

    // Events: processing-time lookups.
    const now = Date.now();
    const events = [['WH-01', 0], ['WH-01', 1], ['WH-04', 2], ['WH-99', 3]].map(([wh, i]) => ({
      event_id: `j-${i}`, event_type: 'pick.completed', occurred_at: new Date(now + i).toISOString(),
      warehouse_id: wh, order_id: `O-${i}`,
    }));
    const posted = await postEvents(sluice.url, 'fulfilment',
        events.map((e) => JSON.stringify(e)).join('\n') + '\n');
    assert.equal(posted.status, 200, JSON.stringify(posted.body));
    const regionCounts = async () => {
      const v = (await getJson(`${sluice.url}/v1/views/per_region`)).body;
      return Object.fromEntries(v.rows.map((r) => [r.region, r.events]));
    };
    await waitFor(async () => JSON.stringify(await regionCounts()) ===
                              JSON.stringify({ east: 1, north: 2 }), 'the joined view');

    // kill -9 right after the answers: rows, table and view come back.
    await sluice.kill9();
    sluice = await startSluice({ dataDir: sluice.dataDir });
    const again = await getJson(`${sluice.url}/v1/tables/warehouses/rows`);
    assert.deepEqual(again.body.rows, rows.body.rows);
    await waitFor(async () => JSON.stringify(await regionCounts()) ===
                              JSON.stringify({ east: 1, north: 2 }), 'the view after restart');
    const dropped = await runSql(sluice.url,
        'DROP MATERIALIZED VIEW per_region; DROP TABLE warehouses; SHOW TABLES');
    assert.equal(dropped.status, 200, JSON.stringify(dropped.body));
    assert.deepEqual(dropped.body.results[2].rows, []);
    assert.equal((await getJson(`${sluice.url}/v1/tables/warehouses/rows`)).status, 404);
  } finally {
    await sluice.stop();
  }
});

// ---- Differential test against DuckDB --------------------------------------------------------

// Events of `sluice gen`, occurred_at rewritten onto 15 minutes, 30% shifted up to 20 s back:
// out of order, but within the stream's 30 s watermark delay.
function generateEvents(dir) {
  const gen = spawnSync(SLUICE_BIN, ['gen', '--count', String(EVENT_COUNT), '--rate', 'max',
                                     '--seed', '41', '--run-id', 'joins-diff'],
                        { maxBuffer: 256 << 20, encoding: 'utf8' });
  assert.equal(gen.status, 0, gen.stderr);
  const rand = random(41);
  const start = Date.parse('2026-11-25T08:00:00Z');
  const spanMs = 15 * 60_000;
  const events = gen.stdout.split('\n').filter((l) => l.length > 0).map((line, i) => {
    const e = JSON.parse(line);
    let t = start + Math.floor((i * spanMs) / EVENT_COUNT);
    if (rand() < 0.3) t -= Math.floor(rand() * 20_000);
    e.occurred_at = new Date(t).toISOString();
    return e;
  });
  const file = path.join(dir, 'events.ndjson');
  writeFileSync(file, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  return { events, file };
}

// The warehouses table: WH-01..WH-09 in three regions (WH-10.. have no row: misses).
function warehousesCsv() {
  const lines = ['warehouse_id,region,capacity'];
  for (let i = 1; i <= 9; i++)
    lines.push(`WH-0${i},${['north', 'south', 'east'][i % 3]},${i * 100}`);
  return lines.join('\n') + '\n';
}

const MINUTE_US = 60_000_000n;
const win = (t) => `make_timestamp((${t} // ${MINUTE_US}) * ${MINUTE_US})`;

const CORPUS = [
  ['enriched',
    `SELECT w.region, e.event_type, window_start, count(*) AS events,
            sum(e.amount_minor) AS amount, max(w.capacity) AS capacity
     FROM TUMBLE(jdiff, occurred_at, INTERVAL '1' MINUTE) AS e
     JOIN wh AS w ON e.warehouse_id = w.warehouse_id
     GROUP BY w.region, e.event_type, window_start`,
    `SELECT w.region, e.event_type, ${win('e.t_us')} AS window_start, count(*) AS events,
            sum(e.amount_minor) AS amount, max(w.capacity) AS capacity
     FROM ev e JOIN wh w ON e.warehouse_id = w.warehouse_id GROUP BY ALL`],
  ['enriched_left',
    `SELECT w.region, window_start, count(*) AS events,
            count(DISTINCT e.warehouse_id) AS warehouses
     FROM TUMBLE(jdiff, occurred_at, INTERVAL '5' MINUTE) AS e
     LEFT JOIN wh AS w ON e.warehouse_id = w.warehouse_id
     WHERE e.event_type <> 'carrier.charge'
     GROUP BY w.region, window_start`,
    `SELECT w.region, make_timestamp((e.t_us // ${5n * MINUTE_US}) * ${5n * MINUTE_US}) AS window_start,
            count(*) AS events, count(DISTINCT e.warehouse_id) AS warehouses
     FROM ev e LEFT JOIN wh w ON e.warehouse_id = w.warehouse_id
     WHERE e.event_type <> 'carrier.charge' GROUP BY ALL`],
  ['pick_duration',
    `SELECT s.warehouse_id, window_start, count(*) AS picks,
            sum(extract(epoch FROM c.occurred_at - s.occurred_at)) AS seconds,
            max(c.occurred_at) AS last_completed,
            approx_percentile(extract(epoch FROM c.occurred_at - s.occurred_at), 0.9) AS p90
     FROM TUMBLE(jdiff, occurred_at, INTERVAL '1' MINUTE) AS s
     JOIN jdiff AS c ON s.order_id = c.order_id
      AND c.occurred_at BETWEEN s.occurred_at AND s.occurred_at + INTERVAL '3' MINUTE
     WHERE s.event_type = 'pick.started' AND c.event_type = 'pick.completed'
     GROUP BY s.warehouse_id, window_start`,
    `SELECT s.warehouse_id, ${win('s.t_us')} AS window_start, count(*) AS picks,
            sum((c.t_us - s.t_us) / 1e6) AS seconds, max(c.occurred_at) AS last_completed,
            quantile_disc((c.t_us - s.t_us) / 1e6, 0.9) AS p90
     FROM ev s JOIN ev c ON s.order_id = c.order_id
      AND c.t_us BETWEEN s.t_us AND s.t_us + ${3n * MINUTE_US}
     WHERE s.event_type = 'pick.started' AND c.event_type = 'pick.completed' GROUP BY ALL`,
    { p90: 0.01 }],
];

function normalise(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return { k: 'num', v: Number(v) };
  if (typeof v === 'number') return { k: 'num', v };
  const name = v.constructor?.name;
  if (name === 'DuckDBTimestampValue') return { k: 'ts', v: BigInt(v.micros) };
  if (name === 'DuckDBDecimalValue' || name === 'DuckDBHugeIntValue') return { k: 'num', v: Number(v.toString()) };
  if (typeof v === 'string') {
    if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(v)) return { k: 'ts', v: BigInt(Date.parse(v)) * 1000n, text: v };
    return { k: 'str', v };
  }
  return { k: 'str', v: String(v) };
}

function same(a, b) {
  if (a === null || b === null) return a === b;
  if (a.k === 'num' && b.k === 'num')
    return a.v === b.v || Math.abs(a.v - b.v) <= 1e-9 * Math.max(Math.abs(a.v), Math.abs(b.v));
  if (a.k === 'ts' && b.k === 'ts') return a.v === b.v;
  // DuckDB reads occurred_at as text: compare as times.
  if (a.k === 'ts' && b.k === 'str') return a.v === BigInt(Date.parse(b.v)) * 1000n;
  if (a.k === 'str' && b.k === 'ts') return b.v === BigInt(Date.parse(a.v)) * 1000n;
  return a.k === b.k && a.v === b.v;
}

const show = (x) => JSON.stringify(x, (_, v) => (typeof v === 'bigint' ? `${v}n` : v));

describe('joins: Sluice vs DuckDB', () => {
  let dir, sluice, data, connection;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sluice-joins-diff-'));
    data = generateEvents(dir);
    const csv = path.join(dir, 'wh.csv');
    writeFileSync(csv, warehousesCsv());
    const duck = await DuckDBInstance.create(':memory:');
    connection = await duck.connect();
    await loadEvents(connection, data.file);
    await connection.run(`CREATE TABLE wh AS SELECT * FROM read_csv('${csv}', header = true,
                            columns = {'warehouse_id': 'VARCHAR', 'region': 'VARCHAR',
                                       'capacity': 'BIGINT'})`);
    sluice = await startSluice();
  });

  after(async () => {
    connection?.closeSync?.();
    await sluice?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('lookup joins and an interval join agree with DuckDB, row for row', async () => {
    const ddl = [
      `CREATE STREAM jdiff WITH (event_time = 'occurred_at', partition_key = 'order_id',
                                 watermark_delay = '30 seconds')`,
      'CREATE TABLE wh (warehouse_id VARCHAR PRIMARY KEY, region VARCHAR, capacity BIGINT)',
    ];
    const created = await runSql(sluice.url, ddl.join(';\n'));
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const loaded = await putRows(sluice.url, 'wh', warehousesCsv(), 'text/csv');
    assert.deepEqual(loaded.body, { upserted: 9, deleted: 0, rejected: [] });
    // The first view exists before the events; the others backfill after half of them.
    const first = await runSql(sluice.url,
        `CREATE MATERIALIZED VIEW ${CORPUS[0][0]} AS ${CORPUS[0][1]}`);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const half = Math.floor(data.events.length / 2);
    for (let i = 0; i < data.events.length; i += 500) {
      if (i === half - (half % 500)) {
        const rest = await runSql(sluice.url, CORPUS.slice(1)
            .map(([n, q]) => `CREATE MATERIALIZED VIEW ${n} AS ${q}`).join(';\n'));
        assert.equal(rest.status, 200, JSON.stringify(rest.body));
      }
      const batch = data.events.slice(i, i + 500).map((e) => JSON.stringify(e)).join('\n') + '\n';
      const res = await postEvents(sluice.url, 'jdiff', batch);
      assert.equal(res.status, 200);
    }
    await waitForCatchUp(sluice.url, CORPUS.map(([n]) => n));
    await sleep(300);
    const described = (await runSql(sluice.url, 'DESCRIBE pick_duration')).body.results[0];
    assert.equal(described.options.join,
                 'interval join of jdiff with itself, the second side within [0, 3 minutes] of the first');
    const initial = await compareWithDuckDB();
    assert.deepEqual(initial.failures.slice(0, 20), [], `${initial.failures.length} differences`);
    console.log(`joins differential: ${initial.compared} values compared over ${data.events.length} events`);
    assert.ok(initial.compared > 1000);

    // kill -9 and restart: the table's rows, the views' groups and the interval join's buffered
    // events come back from RocksDB (and the log is replayed from the checkpoint): same rows.
    await sluice.kill9();
    sluice = await startSluice({ dataDir: sluice.dataDir });
    await waitForCatchUp(sluice.url, CORPUS.map(([n]) => n));
    await sleep(300);
    const again = await compareWithDuckDB();
    assert.deepEqual(again.failures.slice(0, 20), [], `after kill -9: ${again.failures.length} differences`);
    assert.equal(again.compared, initial.compared);
  });

  async function compareWithDuckDB() {
    const failures = [];
    let compared = 0;
    for (const [name, , duckSql, tolerances = {}] of CORPUS) {
      const view = (await getJson(`${sluice.url}/v1/views/${name}`)).body;
      const reader = await connection.runAndReadAll(duckSql);
      const columns = reader.columnNames();
      assert.deepEqual(columns, view.columns, `${name}: column names`);
      const keyIndexes = view.key.map((k) => columns.indexOf(k));
      const keyOf = (values) => show(keyIndexes.map((i) => {
        const n = normalise(values[i]);
        return n === null ? null : n.v;
      }));
      const theirs = new Map(reader.getRows().map((r) => [keyOf(r), r]));
      const ours = new Map(view.rows.map((row) => {
        const values = columns.map((c) => row[c]);
        return [keyOf(values), values];
      }));
      for (const [key, row] of theirs) {
        const mine = ours.get(key);
        if (!mine) {
          failures.push(`${name}: row ${key} missing in Sluice (DuckDB: ${show(row)})`);
          continue;
        }
        for (let c = 0; c < columns.length; c++) {
          ++compared;
          const tolerance = tolerances[columns[c]];
          if (tolerance !== undefined && mine[c] !== null && row[c] !== null) {
            const x = Number(mine[c]), y = Number(row[c]);
            if (Math.abs(x - y) > tolerance * Math.abs(y))
              failures.push(`${name} ${key}: ${columns[c]} Sluice ${x}, DuckDB ${y}`);
            continue;
          }
          if (!same(normalise(mine[c]), normalise(row[c])))
            failures.push(`${name} ${key}: ${columns[c]} Sluice ${show(mine[c])}, DuckDB ${show(row[c])}`);
        }
      }
      for (const key of ours.keys())
        if (!theirs.has(key)) failures.push(`${name}: row ${key} only in Sluice`);
      assert.ok(theirs.size > 0, `${name}: DuckDB found no rows`);
    }
    return { failures, compared };
  }
});
