// Queries over materialized views (SELECT ... FROM view through POST /v1/sql and `sluice sql`),
// end to end, with DuckDB (@duckdb/node-api) as the reference: the rows of each view are read
// from Sluice (GET /v1/views/{view}), loaded into DuckDB with the view's column types
// (DESCRIBE), and a corpus of queries runs on both; every result must agree row for row, in
// order (each query's ORDER BY is total). Also: the result format, errors with line and
// column, and the command-line client.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { DuckDBInstance } from '@duckdb/node-api';

import { SLUICE_BIN, postEvents, runSql, sleep, startSluice } from './lib/sluice.js';
import { random, waitForCatchUp } from './lib/differential.js';

const EVENT_COUNT = Number(process.env.SQL_QUERIES_EVENTS ?? 4000);

const VIEWS = [
  ['per_minute',
    `SELECT warehouse_id, event_type, window_start, count(*) AS events,
            sum(amount_minor) AS amount, max(total_weight_g) AS heaviest
     FROM TUMBLE(q, occurred_at, INTERVAL '1' MINUTE)
     GROUP BY warehouse_id, event_type, window_start`],
  ['per_type',
    `SELECT event_type, count(*) AS events, avg(total_weight_g) AS weight,
            min(occurred_at) AS first_seen, count(DISTINCT order_id) AS orders
     FROM q GROUP BY event_type`],
];

// [Sluice query, DuckDB query (when it differs)]
const QUERIES = [
  [`SELECT warehouse_id, sum(events) AS events, sum(amount) AS amount, count(*) AS minutes
    FROM per_minute GROUP BY warehouse_id ORDER BY events DESC, warehouse_id NULLS FIRST`],
  [`SELECT * FROM per_minute WHERE event_type = 'fulfilment.exception' AND events >= 2
    ORDER BY window_start DESC, warehouse_id LIMIT 20 OFFSET 3`],
  [`SELECT event_type, min(window_start) AS first, max(events) AS peak, avg(events) AS mean,
           count(DISTINCT warehouse_id) AS warehouses
    FROM per_minute WHERE window_start >= TIMESTAMP '2026-11-25 08:05:00'
    GROUP BY event_type HAVING count(*) > 3 ORDER BY peak DESC, event_type`],
  [`SELECT extract(minute FROM window_start) AS m, sum(events) AS events,
           sum(amount) FILTER (WHERE event_type = 'payment.captured') AS captured
    FROM per_minute GROUP BY 1 ORDER BY 1`],
  [`SELECT warehouse_id, event_type, window_start, CAST(events AS DOUBLE) / 60 AS per_second,
           CASE WHEN events > 5 THEN 'busy' ELSE 'quiet' END AS load
    FROM per_minute WHERE warehouse_id IN ('WH-01', 'WH-02') AND heaviest IS NOT NULL
    ORDER BY per_second DESC, warehouse_id, event_type, window_start LIMIT 15`],
  [`SELECT count(*) AS n, sum(events) AS events, min(amount) AS lo, max(amount) AS hi,
           avg(heaviest) AS heavy FROM per_minute`],
  [`SELECT DISTINCT event_type FROM per_minute ORDER BY event_type NULLS FIRST`],
  [`SELECT event_type, count(*) AS n FROM per_minute GROUP BY event_type
    ORDER BY n DESC NULLS FIRST, event_type LIMIT 5`],
  [`SELECT * FROM per_type ORDER BY events DESC, event_type`],
  [`SELECT upper(coalesce(warehouse_id, 'none')) AS wh,
           sum(events) FILTER (WHERE event_type LIKE 'pick.%') AS picks
    FROM per_minute GROUP BY wh ORDER BY picks DESC NULLS LAST, wh`],
  [`SELECT p.event_type, p.orders, p.weight > 1000 AS heavy FROM per_type AS p
    WHERE p.event_type LIKE 'order.%' OR p.orders > 100
    ORDER BY p.weight DESC NULLS FIRST, 1`],
  [`SELECT warehouse_id, window_start, sum(events) AS events FROM per_minute
    GROUP BY warehouse_id, window_start HAVING sum(events) >= 10
    ORDER BY events DESC, window_start, warehouse_id LIMIT 10`],
  [`SELECT * FROM per_minute ORDER BY window_start, warehouse_id, event_type`],
  [`SELECT count(*) AS negative FROM per_minute WHERE events < 0`],
  [`SELECT min(event_type) AS first_type, max(window_start) AS last_window,
           count(amount) AS with_amount FROM per_minute WHERE warehouse_id IS NULL`],
];

function generateEvents() {
  const gen = spawnSync(SLUICE_BIN, ['gen', '--count', String(EVENT_COUNT), '--rate', 'max',
                                     '--seed', '31', '--run-id', 'queries'],
                        { maxBuffer: 256 << 20, encoding: 'utf8' });
  assert.equal(gen.status, 0, gen.stderr);
  const rand = random(31);
  const start = Date.parse('2026-11-25T08:00:00Z');
  const spanMs = 12 * 60_000;
  const events = gen.stdout.split('\n').filter((l) => l.length > 0).map((line, i) => {
    const e = JSON.parse(line);
    const t = start + Math.floor((i * spanMs) / EVENT_COUNT) - Math.floor(rand() * 10_000);
    e.occurred_at = new Date(t).toISOString();
    return e;
  });
  events.push({ event_id: 'edge-1', event_type: 'payment.captured', currency: 'EUR',
                occurred_at: '2026-11-25T08:07:00Z', amount_minor: -250, order_id: 'ORD-edge' });
  return events;
}

// Sluice's JSON with integers beyond 2^53 kept exact (as BigInts).
async function fetchExact(url, init) {
  const text = await (await fetch(url, init)).text();
  const marked = text.replace(/([:,[]\s*)(-?\d{16,})(?=\s*[,}\]])/g, '$1"@big@$2"');
  return JSON.parse(marked, (_, v) =>
    (typeof v === 'string' && v.startsWith('@big@') ? BigInt(v.slice(5)) : v));
}

const isRfc3339 = (v) => typeof v === 'string' && /^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(v);

// Normalised values for comparison: null | {k:'int'|'num'|'str'|'bool'|'ts', v}.
function normalise(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return { k: 'int', v };
  if (typeof v === 'number') return Number.isSafeInteger(v) ? { k: 'int', v: BigInt(v) } : { k: 'num', v };
  if (typeof v === 'boolean') return { k: 'bool', v };
  const name = v.constructor?.name;
  if (name === 'DuckDBTimestampValue') return { k: 'ts', v: BigInt(v.micros) };
  if (name === 'DuckDBHugeIntValue') return { k: 'int', v: BigInt(v.toString()) };
  if (name === 'DuckDBDecimalValue') return { k: 'num', v: Number(v.toString()) };
  if (isRfc3339(v)) {
    const [whole, fraction = ''] = v.slice(0, -1).split('.');
    return { k: 'ts', v: BigInt(Date.parse(`${whole}Z`)) * 1000n + BigInt((fraction + '000000').slice(0, 6)) };
  }
  return { k: 'str', v: String(v) };
}

function same(a, b) {
  if (a === null || b === null) return a === b;
  const numeric = (x) => x.k === 'int' || x.k === 'num';
  if (numeric(a) && numeric(b)) {
    if (a.k === 'int' && b.k === 'int') return a.v === b.v;
    const x = Number(a.v), y = Number(b.v);
    return x === y || Math.abs(x - y) <= 1e-9 * Math.max(Math.abs(x), Math.abs(y));
  }
  return a.k === b.k && a.v === b.v;
}

const show = (x) => JSON.stringify(x, (_, v) => (typeof v === 'bigint' ? `${v}n` : v));

// JSON text with BigInts written as numbers.
const toJson = (x) => JSON.stringify(x, (_, v) => (typeof v === 'bigint' ? `@big@${v}` : v))
  .replace(/"@big@(-?\d+)"/g, '$1');

describe('queries over views: Sluice vs DuckDB', () => {
  let dir, sluice, connection, duck;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sluice-queries-'));
    sluice = await startSluice();
    const ddl = [`CREATE STREAM q WITH (event_time = 'occurred_at', partition_key = 'order_id',
                                        watermark_delay = '30 seconds')`];
    for (const [name, query] of VIEWS) ddl.push(`CREATE MATERIALIZED VIEW ${name} AS ${query}`);
    const created = await runSql(sluice.url, ddl.join(';\n'));
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const events = generateEvents();
    for (let i = 0; i < events.length; i += 500) {
      const batch = events.slice(i, i + 500).map((e) => JSON.stringify(e)).join('\n') + '\n';
      const res = await postEvents(sluice.url, 'q', batch);
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    await waitForCatchUp(sluice.url);

    // The same rows in DuckDB, typed as the views declare them (ANY: from the values).
    duck = await DuckDBInstance.create(':memory:');
    connection = await duck.connect();
    for (const [name] of VIEWS) {
      const described = (await runSql(sluice.url, `DESCRIBE ${name}`)).body.results[0];
      const snapshot = await fetchExact(`${sluice.url}/v1/views/${name}`);
      const types = described.rows.map(([column, type]) => {
        if (type !== 'ANY') return [column, type];
        const values = snapshot.rows.map((r) => r[column]).filter((v) => v !== null);
        if (values.every((v) => typeof v === 'bigint' || Number.isInteger(v))) return [column, 'BIGINT'];
        if (values.every((v) => typeof v !== 'string')) return [column, 'DOUBLE'];
        return [column, 'VARCHAR'];
      });
      const file = path.join(dir, `${name}.ndjson`);
      writeFileSync(file, snapshot.rows.map((r) => toJson(Object.fromEntries(types.map(([c, t]) =>
        [c, t === 'TIMESTAMP' && r[c] !== null ? r[c].replace('T', ' ').replace('Z', '') : r[c]]))))
        .join('\n') + '\n');
      const columns = types.map(([c, t]) => `'${c}': '${t}'`).join(', ');
      await connection.run(`CREATE TABLE ${name} AS SELECT * FROM read_json('${file}', ` +
                           `format='newline_delimited', columns={${columns}})`);
      const count = (await connection.runAndReadAll(`SELECT count(*) FROM ${name}`)).getRows()[0][0];
      assert.equal(Number(count), snapshot.rows.length, `${name}: rows loaded into DuckDB`);
      assert.ok(snapshot.rows.length > 5, `${name}: the view has rows`);
    }
  });

  after(async () => {
    connection?.closeSync?.();
    await sluice?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('every query of the corpus gives DuckDB\'s result, row for row and in order', async () => {
    const failures = [];
    let values = 0;
    for (const [query, duckQuery = query] of QUERIES) {
      const answer = await fetchExact(`${sluice.url}/v1/sql`, {
        method: 'POST', headers: { 'content-type': 'application/sql' }, body: query });
      assert.ok(answer.results, `${query}: ${show(answer)}`);
      const ours = answer.results[0];
      const reader = await connection.runAndReadAll(duckQuery);
      assert.deepEqual(ours.columns, reader.columnNames(), `${query}: column names`);
      const theirs = reader.getRows();
      if (ours.rows.length !== theirs.length) {
        failures.push(`${query}: ${ours.rows.length} rows in Sluice, ${theirs.length} in DuckDB`);
        continue;
      }
      assert.ok(theirs.length > 0, `${query}: no rows`);
      for (let r = 0; r < theirs.length; r++) {
        for (let c = 0; c < ours.columns.length; c++) {
          ++values;
          if (!same(normalise(ours.rows[r][c]), normalise(theirs[r][c])))
            failures.push(`${query.replace(/\s+/g, ' ').slice(0, 60)}... row ${r} ${ours.columns[c]}: ` +
                          `Sluice ${show(ours.rows[r][c])}, DuckDB ${show(theirs[r][c])}`);
        }
      }
    }
    console.log(`compared ${values} values of ${QUERIES.length} queries`);
    assert.deepEqual(failures.slice(0, 20), [], failures.slice(0, 20).join('\n'));
  });

  test('a result has the view, its version, columns, types and rows', async () => {
    const res = await runSql(sluice.url,
      `SELECT event_type, events, weight, first_seen FROM per_type
       WHERE event_type = 'order.received'; SELECT 1 + 1 AS two`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const [result, constant] = res.body.results;
    assert.equal(result.statement, 'SELECT');
    assert.equal(result.view, 'per_type');
    assert.ok(Number.isInteger(result.version) && result.version > 0);
    assert.deepEqual(result.columns, ['event_type', 'events', 'weight', 'first_seen']);
    assert.deepEqual(result.types, ['ANY', 'BIGINT', 'DOUBLE', 'ANY']);
    assert.equal(result.rows.length, 1);
    assert.equal(result.rows[0][0], 'order.received');
    assert.ok(Number.isInteger(result.rows[0][1]));
    assert.deepEqual(constant, { statement: 'SELECT', columns: ['two'], types: ['BIGINT'],
                                 rows: [[2]] });
  });

  test('errors name the problem at its line and column', async () => {
    const cases = [
      ['SELECT *\nFROM per_minut', 400, 2, 6, "unknown view 'per_minut' (did you mean 'per_minute'?)"],
      ['SELECT * FROM q', 400, 1, 15, "'q' is a stream; queries read materialized views"],
      ['SELECT evnts FROM per_type', 400, 1, 8, "unknown column 'evnts' (did you mean 'events'?)"],
      ['SELECT upper(events) FROM per_type', 400, 1, 14, 'must be VARCHAR, found BIGINT'],
      ['SELECT event_type, events FROM per_type GROUP BY 1', 400, 1, 20,
        "column 'events' must appear in GROUP BY or be used in an aggregate"],
      ['SELECT events FROM per_type ORDER BY 2', 400, 1, 38, 'ORDER BY position 2'],
      ['SELECT events + 9223372036854775807 FROM per_type', 400, 1, 8, 'BIGINT out of range'],
    ];
    for (const [sql, status, line, column, message] of cases) {
      const res = await runSql(sluice.url, sql);
      assert.equal(res.status, status, `${sql}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.line, line, `${sql}: ${res.body.error}`);
      assert.equal(res.body.column, column, `${sql}: ${res.body.error}`);
      assert.ok(res.body.error.includes(message), `${sql}: ${res.body.error}`);
      assert.equal(res.body.statement, 0);
    }
  });

  test('sluice sql prints a query result as a table', () => {
    const run = spawnSync(SLUICE_BIN, ['sql', '--url', sluice.url,
      "SELECT event_type, events FROM per_type WHERE event_type LIKE 'pick.%' ORDER BY 1"],
    { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.match(lines[0], /^\s*event_type\s+\|\s+events$/);
    assert.ok(lines.some((l) => /^\s*pick\.completed\s+\|\s+\d+$/.test(l)), run.stdout);
    assert.equal(lines.at(-1), '(2 rows)');
  });
});
