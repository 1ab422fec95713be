// Differential test of materialized views (planner + windowed-aggregation operator) against
// DuckDB (@duckdb/node-api) as the reference: a corpus of views over generated fulfilment
// events, run live through the real binary (POST /v1/sql, events over HTTP, out of order) and
// as batch SQL in DuckDB over the same events read as NDJSON; the final rows must agree exactly.
//
// Events: `sluice gen` (seeded) with occurred_at rewritten onto a 15-minute span, 30% of them
// shifted up to 20 s back (out of order within the stream's 30 s watermark delay) and 1% up to
// 3 minutes back (late: an on_update view still counts them in their window).
//
// DuckDB side: occurred_at is kept as VARCHAR and turned into microseconds (t_us); a TUMBLE
// window is ((t_us - offset) // size) * size + offset; a HOP is an unnest of the window starts
// that cover t_us. Dialect differences translated: BIGINT / BIGINT truncates in Sluice (`//` in
// DuckDB). Comparison: rows matched by the view's key columns; integers exactly, doubles within
// 1e-9 relative, timestamps by microseconds, text exactly; no row may be missing on either side.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { DuckDBInstance } from '@duckdb/node-api';

import { SLUICE_BIN, postEvents, runSql, sleep, startSluice } from './lib/sluice.js';
import { random, waitForCatchUp, loadEvents } from './lib/differential.js';

const EVENT_COUNT = Number(process.env.SQL_VIEWS_DIFF_EVENTS ?? 6000);
const MINUTE = 60_000_000n;

const tumble = (sizeUs, offsetUs = 0n) =>
  `(SELECT *, make_timestamp(((t_us - ${offsetUs}) // ${sizeUs}) * ${sizeUs} + ${offsetUs}) AS window_start,
           make_timestamp(((t_us - ${offsetUs}) // ${sizeUs}) * ${sizeUs} + ${offsetUs} + ${sizeUs}) AS window_end
    FROM ev)`;
const hop = (slideUs, sizeUs) =>
  `(SELECT ev.*, make_timestamp(ws) AS window_start, make_timestamp(ws + ${sizeUs}) AS window_end
    FROM ev, unnest(range(((t_us - ${sizeUs}) // ${slideUs} + 1) * ${slideUs},
                          (t_us // ${slideUs}) * ${slideUs} + 1, ${slideUs})) AS w(ws))`;

// [name, Sluice's SELECT (the view's query), DuckDB's query, optional relative tolerances per
// column for the approximate aggregates (their documented error; 4 standard errors for
// HyperLogLog)]
const CORPUS = [
  ['per_minute',
    `SELECT warehouse_id, event_type, window_start, count(*) AS events, sum(amount_minor) AS amount
     FROM TUMBLE(diff, occurred_at, INTERVAL '1' MINUTE)
     GROUP BY warehouse_id, event_type, window_start`,
    `SELECT warehouse_id, event_type, window_start, count(*) AS events, sum(amount_minor) AS amount
     FROM ${tumble(MINUTE)} GROUP BY ALL`],
  ['amounts_per_5_minutes',
    `SELECT warehouse_id, window_start, window_end, min(amount_minor) AS lo,
            max(amount_minor) AS hi, avg(amount_minor) AS mean, count(amount_minor) AS n,
            max(occurred_at) AS latest
     FROM TUMBLE(diff, occurred_at, INTERVAL '5' MINUTE) GROUP BY warehouse_id, window_start`,
    `SELECT warehouse_id, window_start, window_end, min(amount_minor) AS lo,
            max(amount_minor) AS hi, avg(amount_minor) AS mean, count(amount_minor) AS n,
            max(occurred_at) AS latest
     FROM ${tumble(5n * MINUTE)} GROUP BY ALL`],
  ['orders_sliding',
    `SELECT event_type, window_start, count(*) AS events, count(DISTINCT order_id) AS orders
     FROM HOP(diff, occurred_at, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE)
     GROUP BY event_type, window_start`,
    `SELECT event_type, window_start, count(*) AS events, count(DISTINCT order_id) AS orders
     FROM ${hop(MINUTE, 5n * MINUTE)} GROUP BY ALL`],
  ['weight_sliding',
    `SELECT window_start, window_end, count(*) AS events, sum(total_weight_g) AS grams,
            avg(risk_score / 3.0) AS risk
     FROM HOP(diff, occurred_at, INTERVAL '30' SECOND, INTERVAL '2' MINUTE)
     GROUP BY window_start, window_end`,
    `SELECT window_start, window_end, count(*) AS events, sum(total_weight_g) AS grams,
            avg(risk_score / 3.0) AS risk
     FROM ${hop(MINUTE / 2n, 2n * MINUTE)} GROUP BY ALL`],
  ['picks_filtered',
    `SELECT warehouse_id, window_start, count(*) AS picks
     FROM TUMBLE(diff, occurred_at, INTERVAL '1' MINUTE)
     WHERE event_type LIKE 'pick.%' AND warehouse_id IN ('WH-01', 'WH-02', 'WH-03', 'WH-07')
     GROUP BY warehouse_id, window_start`,
    `SELECT warehouse_id, window_start, count(*) AS picks FROM ${tumble(MINUTE)}
     WHERE event_type LIKE 'pick.%' AND warehouse_id IN ('WH-01', 'WH-02', 'WH-03', 'WH-07')
     GROUP BY ALL`],
  ['busy_pairs',
    `SELECT warehouse_id, event_type, window_start, count(*) AS events
     FROM TUMBLE(diff, occurred_at, INTERVAL '2' MINUTE)
     GROUP BY warehouse_id, event_type, window_start HAVING count(*) >= 6`,
    `SELECT warehouse_id, event_type, window_start, count(*) AS events FROM ${tumble(2n * MINUTE)}
     GROUP BY ALL HAVING count(*) >= 6`],
  ['expression_keys',
    `SELECT upper(split_part(event_type, '.', 1)) AS family,
            CASE WHEN amount_minor > 10000 THEN 'large' WHEN amount_minor IS NULL THEN 'none'
                 ELSE 'small' END AS size, window_start,
            count(*) AS events, count(*) * 2 + 1 AS odd, sum(amount_minor) / count(*) AS per_event
     FROM TUMBLE(diff, occurred_at, INTERVAL '3' MINUTE) GROUP BY 1, 2, window_start`,
    `SELECT upper(split_part(event_type, '.', 1)) AS family,
            CASE WHEN amount_minor > 10000 THEN 'large' WHEN amount_minor IS NULL THEN 'none'
                 ELSE 'small' END AS size, window_start,
            count(*) AS events, count(*) * 2 + 1 AS odd, sum(amount_minor) // count(*) AS per_event
     FROM ${tumble(3n * MINUTE)} GROUP BY 1, 2, window_start`],
  ['per_currency',
    `SELECT currency, count(*) AS events, sum(amount_minor) AS amount,
            min(occurred_at) AS first_seen, count(DISTINCT warehouse_id) AS warehouses
     FROM diff GROUP BY currency`,
    `SELECT currency, count(*) AS events, sum(amount_minor) AS amount,
            min(occurred_at) AS first_seen, count(DISTINCT warehouse_id) AS warehouses
     FROM ev GROUP BY ALL`],
  ['exceptions_offset',
    `SELECT warehouse_id, window_start,
            count(*) FILTER (WHERE event_type = 'fulfilment.exception') AS exceptions,
            count(*) AS events,
            sum(amount_minor) FILTER (WHERE event_type = 'refund.issued') AS refunded
     FROM TUMBLE(diff, occurred_at, INTERVAL '10' MINUTE, INTERVAL '3' MINUTE)
     GROUP BY warehouse_id, window_start`,
    `SELECT warehouse_id, window_start,
            count(*) FILTER (WHERE event_type = 'fulfilment.exception') AS exceptions,
            count(*) AS events,
            sum(amount_minor) FILTER (WHERE event_type = 'refund.issued') AS refunded
     FROM ${tumble(10n * MINUTE, 3n * MINUTE)} GROUP BY ALL`],
  ['tiers',
    `SELECT customer.tier AS tier, channel, window_start, count(*) AS orders,
            max(order_total_minor) AS largest, avg(cardinality(lines)) AS lines
     FROM TUMBLE(diff, occurred_at, INTERVAL '5' MINUTE)
     WHERE event_type = 'order.received'
     GROUP BY customer.tier, channel, window_start HAVING sum(order_total_minor) > 20000`,
    `SELECT customer.tier AS tier, channel, window_start, count(*) AS orders,
            max(order_total_minor) AS largest, avg(len(lines)) AS lines
     FROM ${tumble(5n * MINUTE)} WHERE event_type = 'order.received'
     GROUP BY ALL HAVING sum(order_total_minor) > 20000`],
  ['approximate_and_ordered',
    `SELECT warehouse_id, window_start, approx_count_distinct(order_id) AS orders,
            approx_count_distinct(event_id) AS events, approx_percentile(order_total_minor, 0.9) AS p90,
            approx_percentile(total_weight_g, 0.5) AS median_weight,
            first_value(event_id) AS first_event, last_value(event_type) AS last_type
     FROM TUMBLE(diff, occurred_at, INTERVAL '5' MINUTE) GROUP BY warehouse_id, window_start`,
    `SELECT warehouse_id, window_start, count(DISTINCT order_id) AS orders,
            count(DISTINCT event_id) AS events, quantile_disc(order_total_minor, 0.9) AS p90,
            quantile_disc(total_weight_g, 0.5) AS median_weight,
            arg_min(event_id, struct_pack(a := t_us, b := event_id)) AS first_event,
            arg_max(event_type, struct_pack(a := t_us, b := event_type)) FILTER
              (WHERE event_type IS NOT NULL) AS last_type
     FROM ${tumble(5n * MINUTE)} GROUP BY ALL`,
    { orders: 0.065, events: 0.065, p90: 0.01, median_weight: 0.01 }],
];

function generateEvents(dir) {
  const gen = spawnSync(SLUICE_BIN, ['gen', '--count', String(EVENT_COUNT), '--rate', 'max',
                                     '--seed', '23', '--run-id', 'views-diff'],
                        { maxBuffer: 256 << 20, encoding: 'utf8' });
  assert.equal(gen.status, 0, gen.stderr);
  const rand = random(23);
  const start = Date.parse('2026-11-25T08:00:00Z');
  const spanMs = 15 * 60_000;
  const events = gen.stdout.split('\n').filter((l) => l.length > 0).map((line, i) => {
    const e = JSON.parse(line);
    let t = start + Math.floor((i * spanMs) / EVENT_COUNT);
    const r = rand();
    if (r < 0.01) t -= Math.floor(rand() * 180_000);
    else if (r < 0.31) t -= Math.floor(rand() * 20_000);
    e.occurred_at = new Date(t).toISOString();
    return e;
  });
  // Edge events: a missing warehouse (a NULL key), a negative and a huge amount.
  events.push({ event_id: 'edge-1', event_type: 'payment.captured', currency: 'EUR',
                occurred_at: '2026-11-25T08:07:00Z', amount_minor: -250, order_id: 'ORD-edge' });
  events.push({ event_id: 'edge-2', event_type: 'payment.captured', currency: 'EUR',
                occurred_at: '2026-11-25T08:07:30.5Z', warehouse_id: 'WH-01',
                amount_minor: 4611686018427387904, order_id: 'ORD-edge' });
  const file = path.join(dir, 'events.ndjson');
  writeFileSync(file, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  return { events, file };
}

// Sluice's JSON with integers beyond 2^53 kept exact: such tokens become BigInts. (A regex over
// the text: good enough for these rows, whose strings hold no long digit runs after a ':'.)
async function getRowsExact(url) {
  const text = await (await fetch(url)).text();
  const marked = text.replace(/([:,\[]\s*)(-?\d{16,})(?=\s*[,}\]])/g, '$1"@big@$2"');
  return JSON.parse(marked, (_, v) =>
    (typeof v === 'string' && v.startsWith('@big@') ? BigInt(v.slice(5)) : v));
}

// Normalised values: null | {k:'int', v:BigInt} (integers: exact) | {k:'num', v:Number}
// (doubles) | {k:'str', v[, ts]} | {k:'ts', v:BigInt micros} | {k:'bool', v}.
function normalise(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return { k: 'int', v };
  if (typeof v === 'number') return { k: 'num', v };
  if (typeof v === 'boolean') return { k: 'bool', v };
  const name = v.constructor?.name;
  if (name === 'DuckDBTimestampValue') return { k: 'ts', v: BigInt(v.micros) };
  if (name === 'DuckDBDecimalValue') return { k: 'num', v: Number(v.toString()) };
  if (typeof v === 'string') {
    // Sluice's TIMESTAMPs are RFC 3339 strings; DuckDB's are values.
    if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(v))
      return { k: 'str', v, ts: BigInt(Date.parse(v)) * 1000n };
    return { k: 'str', v };
  }
  if (name === 'DuckDBHugeIntValue' || name === 'DuckDBUHugeIntValue') return normalise(BigInt(v.toString()));
  return { k: 'str', v: String(v) };
}

function same(a, b) {
  if (a === null || b === null) return a === b;
  const numeric = (x) => x.k === 'int' || x.k === 'num';
  if (numeric(a) && numeric(b)) {
    if (a.k === 'int' && b.k === 'int') return a.v === b.v;
    // A JSON integer within 2^53 arrives as a Number: exact against an integer.
    const safeInt = (x) => x.k === 'num' && Number.isSafeInteger(x.v);
    if ((a.k === 'int' && safeInt(b)) || (b.k === 'int' && safeInt(a)))
      return BigInt(a.v) === BigInt(b.v);
    const x = Number(a.v), y = Number(b.v);
    if (x === y) return true;
    return Math.abs(x - y) <= 1e-9 * Math.max(Math.abs(x), Math.abs(y));
  }
  // A window bound: Sluice's RFC 3339 text against DuckDB's TIMESTAMP.
  if (a.k === 'str' && b.k === 'ts') return a.ts === b.v;
  if (a.k === 'ts' && b.k === 'str') return a.v === b.ts;
  return a.k === b.k && a.v === b.v;
}

const show = (x) => JSON.stringify(x, (_, v) => (typeof v === 'bigint' ? `${v}n` : v));

describe('materialized views: Sluice vs DuckDB', () => {
  let dir, sluice, data, connection, duck;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sluice-views-diff-'));
    data = generateEvents(dir);
    duck = await DuckDBInstance.create(':memory:');
    connection = await duck.connect();
        await loadEvents(connection, data.file);
    sluice = await startSluice();
  });

  after(async () => {
    connection?.closeSync?.();
    await sluice?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('every view of the corpus agrees with DuckDB, row for row', async () => {
    const ddl = [`CREATE STREAM diff WITH (event_time = 'occurred_at', partition_key = 'order_id',
                                           watermark_delay = '30 seconds')`];
    for (const [name, query] of CORPUS) ddl.push(`CREATE MATERIALIZED VIEW ${name} AS ${query}`);
    const created = await runSql(sluice.url, ddl.join(';\n'));
    assert.equal(created.status, 200, JSON.stringify(created.body));

    // Half the views exist before the events arrive, half are created after the first half
    // of them (those backfill from the log, then follow it).
    const half = Math.floor(data.events.length / 2);
    for (let i = 0; i < data.events.length; i += 500) {
      if (i === half - (half % 500)) {
        // Re-create the second half of the views: they now backfill what came so far.
        const names = CORPUS.slice(5).map(([n]) => n);
        const recreated = await runSql(sluice.url,
            names.map((n) => `DROP MATERIALIZED VIEW ${n}`).join('; ') + ';\n' +
            CORPUS.slice(5).map(([n, q]) => `CREATE MATERIALIZED VIEW ${n} AS ${q}`).join(';\n'));
        assert.equal(recreated.status, 200, JSON.stringify(recreated.body));
      }
      const batch = data.events.slice(i, i + 500).map((e) => JSON.stringify(e)).join('\n') + '\n';
      const res = await postEvents(sluice.url, 'diff', batch);
      assert.equal(res.status, 200);
      assert.equal(res.body.accepted, Math.min(500, data.events.length - i), JSON.stringify(res.body));
    }
    await waitForCatchUp(sluice.url, CORPUS.map(([n]) => n));

    const failures = [];
    let compared = 0;
    for (const [name, , duckSql, tolerances = {}] of CORPUS) {
      const view = await getRowsExact(`${sluice.url}/v1/views/${name}`);
      const reader = await connection.runAndReadAll(duckSql);
      const columns = reader.columnNames();
      assert.deepEqual(columns, view.columns, `${name}: column names`);
      const keyIndexes = view.key.map((k) => columns.indexOf(k));
      const keyOf = (values) => show(keyIndexes.map((i) => {
        const n = normalise(values[i]);
        return n === null ? null : n.ts ?? (n.k === 'num' && Number.isSafeInteger(n.v) ? BigInt(n.v) : n.v);
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
              failures.push(`${name} ${key}: ${columns[c]} Sluice ${x}, DuckDB ${y}, beyond ${tolerance * 100}%`);
            continue;
          }
          if (!same(normalise(mine[c]), normalise(row[c])))
            failures.push(`${name} ${key}: ${columns[c]} Sluice ${show(mine[c])}, DuckDB ${show(row[c])}`);
        }
      }
      for (const key of ours.keys())
        if (!theirs.has(key)) failures.push(`${name}: row ${key} only in Sluice`);
      assert.ok(theirs.size > 0, `${name}: DuckDB found no rows`);
      console.log(`${name}: ${theirs.size} rows`);
    }
    console.log(`compared ${compared} values in ${CORPUS.length} views over ${data.events.length} events`);
    assert.deepEqual(failures.slice(0, 20), [], failures.slice(0, 20).join('\n'));
  });
});
