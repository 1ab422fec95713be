// Differential test of SESSION windows against DuckDB (@duckdb/node-api): order lifecycles
// (a few events per order, gaps around the session gap so orders split into several sessions),
// posted out of order (so events arrive between two sessions of their order and merge them)
// through the real binary, and the same sessions computed in DuckDB with window functions over
// the same NDJSON: a break where an event is at least the gap after the previous one of its key
// (lag), a running sum of the breaks numbering the sessions. Every final row must agree.
//
// emit = 'on_close' views see every session closed: a last event far in the future (order
// 'flush', posted once the rest is processed, filtered out by WHERE, which does not stop it
// from moving the watermark) closes them.
// Comparison as in sql_views_differential.test.js: rows matched by the view's key columns,
// integers exactly, doubles within 1e-9 relative, timestamps by microseconds; approximate
// aggregates within their documented error.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { DuckDBInstance } from '@duckdb/node-api';

import { getJson, postEvents, runSql, sleep, startSluice } from './lib/sluice.js';
import { random, waitForCatchUp, loadEvents } from './lib/differential.js';

const ORDERS = Number(process.env.SQL_SESSIONS_DIFF_ORDERS ?? 600);
const SECOND = 1_000_000n;

// The DuckDB side of SESSION(ev, t_us, gap) keyed by `keys`: ev plus window_start / window_end.
const sessions = (gapUs, keys) => `(
  WITH b AS (
    SELECT *, CASE WHEN t_us - lag(t_us) OVER (PARTITION BY ${keys} ORDER BY t_us, event_id) < ${gapUs}
                   THEN 0 ELSE 1 END AS brk
    FROM ev),
  n AS (SELECT *, sum(brk) OVER (PARTITION BY ${keys} ORDER BY t_us, event_id
                                 ROWS UNBOUNDED PRECEDING) AS sid FROM b)
  SELECT *, make_timestamp(min(t_us) OVER s) AS window_start,
            make_timestamp(max(t_us) OVER s + ${gapUs}) AS window_end
  FROM n WINDOW s AS (PARTITION BY ${keys}, sid))`;

// [name, Sluice's view (WITH options and SELECT), DuckDB's query, tolerances]
const CORPUS = [
  ['order_sessions',
    `AS SELECT order_id, window_start, window_end, count(*) AS events, sum(amount) AS amount,
            min(amount) AS lo, max(amount) AS hi, avg(amount) AS mean, count(amount) AS priced,
            count(DISTINCT kind) AS kinds, first_value(kind) AS first_kind,
            last_value(kind) AS last_kind, max(occurred_at) AS latest
     FROM SESSION(sess, occurred_at, INTERVAL '2' MINUTE)
     GROUP BY order_id, window_start, window_end`,
    `SELECT order_id, window_start, window_end, count(*) AS events, sum(amount) AS amount,
            min(amount) AS lo, max(amount) AS hi, avg(amount) AS mean, count(amount) AS priced,
            count(DISTINCT kind) AS kinds,
            arg_min(kind, struct_pack(a := t_us, b := kind)) AS first_kind,
            arg_max(kind, struct_pack(a := t_us, b := kind)) AS last_kind, max(occurred_at) AS latest
     FROM ${sessions(120n * SECOND, 'order_id')} GROUP BY ALL`],
  ['warehouse_bursts',
    `AS SELECT warehouse, window_start, window_end, count(*) AS events,
            count(DISTINCT order_id) AS orders
     FROM SESSION(sess PARTITION BY warehouse, occurred_at, INTERVAL '4' SECOND)
     GROUP BY warehouse, window_start, window_end`,
    `SELECT warehouse, window_start, window_end, count(*) AS events,
            count(DISTINCT order_id) AS orders
     FROM ${sessions(4n * SECOND, 'warehouse')} GROUP BY ALL`],
  ['closed_sessions',
    `WITH (emit = 'on_close', allowed_lateness = '30 seconds')
     AS SELECT order_id, window_start, window_end, count(*) AS events, sum(amount) AS amount
     FROM SESSION(sess, occurred_at, INTERVAL '2' MINUTE) WHERE order_id <> 'flush'
     GROUP BY order_id, window_start, window_end HAVING count(*) >= 2`,
    `SELECT order_id, window_start, window_end, count(*) AS events, sum(amount) AS amount
     FROM ${sessions(120n * SECOND, 'order_id')} WHERE order_id <> 'flush'
     GROUP BY ALL HAVING count(*) >= 2`],
  ['sketched_sessions',
    `AS SELECT order_id, window_start, window_end, approx_count_distinct(event_id) AS events,
            approx_percentile(amount, 0.5) AS median
     FROM SESSION(sess, occurred_at, INTERVAL '2' MINUTE)
     GROUP BY order_id, window_start, window_end`,
    `SELECT order_id, window_start, window_end, count(DISTINCT event_id) AS events,
            quantile_disc(amount, 0.5) AS median
     FROM ${sessions(120n * SECOND, 'order_id')} GROUP BY ALL`,
    { events: 0.065, median: 0.01 }],
];

const KINDS = ['order.received', 'pick.started', 'pick.completed', 'packed', 'shipped'];

// Per order 2-9 events; the gap before each is 10 s to 4 minutes, so about half split the
// order's events into a new 2-minute session. Then arrival order: sorted by a time jittered by
// up to 3 minutes, so an event often arrives after the ones around it and bridges sessions.
function generateEvents(dir) {
  const rand = random(41);
  const start = Date.parse('2026-11-25T08:00:00Z');
  const events = [];
  let id = 0;
  for (let o = 0; o < ORDERS; o++) {
    let t = start + Math.floor(rand() * 3_600_000);
    const n = 2 + Math.floor(rand() * 8);
    const warehouse = `WH-${String(1 + Math.floor(rand() * 6)).padStart(2, '0')}`;
    for (let i = 0; i < n; i++) {
      t += 10_000 + Math.floor(rand() * 230_000);
      const e = { event_id: `ev-${id++}`, order_id: `ORD-${o}`, warehouse,
                  kind: KINDS[Math.floor(rand() * KINDS.length)],
                  occurred_at: new Date(t + Math.floor(rand() * 1000)).toISOString() };
      if (rand() < 0.9) e.amount = Math.floor(rand() * 10_000) - 500;
      events.push({ e, arrival: t + rand() * 180_000 });
    }
  }
  // A NULL key (no order_id) is a key like any other.
  for (let i = 0; i < 5; i++)
    events.push({ e: { event_id: `nokey-${i}`, warehouse: 'WH-01', kind: 'packed', amount: i,
                       occurred_at: new Date(start + 600_000 + i * 50_000).toISOString() },
                  arrival: start + 600_000 });
  events.sort((a, b) => a.arrival - b.arrival);
  const ordered = events.map((x) => x.e);
  // How often the arrival order makes an event bridge sessions of its order (2-minute gap).
  const open = new Map();
  let bridges = 0;
  for (const e of ordered) {
    const t = Date.parse(e.occurred_at);
    const list = open.get(e.order_id) ?? [];
    const hit = list.filter((x) => x.start < t + 120_000 && x.end > t);
    if (hit.length > 1) ++bridges;
    const merged = { start: Math.min(t, ...hit.map((x) => x.start)),
                     end: Math.max(t + 120_000, ...hit.map((x) => x.end)) };
    open.set(e.order_id, [...list.filter((x) => !hit.includes(x)), merged]);
  }
  // Far past every session (the latest ends before 09:45): closes them all for the on_close
  // view, whose watermark is 10 minutes behind.
  const flush = { event_id: 'flush', order_id: 'flush', warehouse: 'WH-99', kind: 'flush',
                  occurred_at: '2026-11-25T12:00:00Z' };
  const file = path.join(dir, 'events.ndjson');
  writeFileSync(file, [...ordered, flush].map((e) => JSON.stringify(e)).join('\n') + '\n');
  return { events: ordered, flush, file, bridges };
}

function normalise(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return { k: 'int', v };
  if (typeof v === 'number') return { k: 'num', v };
  const name = v.constructor?.name;
  if (name === 'DuckDBTimestampValue') return { k: 'ts', v: BigInt(v.micros) };
  if (name === 'DuckDBDecimalValue') return { k: 'num', v: Number(v.toString()) };
  if (typeof v === 'string') {
    if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(v)) {
      const [, frac = ''] = v.match(/\.(\d+)Z$/) ?? [];
      const micros = BigInt(Date.parse(v.replace(/\.\d+Z$/, 'Z'))) * 1000n +
                     BigInt((frac + '000000').slice(0, 6));
      return { k: 'str', v, ts: micros };
    }
    return { k: 'str', v };
  }
  if (name === 'DuckDBHugeIntValue') return normalise(BigInt(v.toString()));
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
  if (a.k === 'str' && b.k === 'ts') return a.ts === b.v;
  if (a.k === 'ts' && b.k === 'str') return a.v === b.ts;
  if (a.k === 'str' && b.k === 'str' && a.ts !== undefined && b.ts !== undefined) return a.ts === b.ts;
  return a.k === b.k && a.v === b.v;
}

const show = (x) => JSON.stringify(x, (_, v) => (typeof v === 'bigint' ? `${v}n` : v));

describe('SESSION windows: Sluice vs DuckDB', () => {
  let dir, sluice, data, connection, duck;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sluice-sessions-diff-'));
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

  test('every session of every view agrees with DuckDB, and merges deleted the merged rows',
    async () => {
      // The pipeline reads its four partitions a chunk at a time, so across partitions events
      // are processed out of order by far more than the arrival order allows; each partition's
      // own watermark keeps that from making them late, so a delay past the skew of the
      // arrival order is enough (an event arrives up to 3 minutes after its time, the NULL-key
      // ones up to 200 s before it: 10 minutes): no event is late, the on_close view refuses
      // none, and once the last event (posted on its own) moves the watermark past every
      // session it must hold exactly the batch result.
      const ddl = [`CREATE STREAM sess WITH (event_time = 'occurred_at', partition_key = 'order_id',
                                             watermark_delay = '10 minutes')`];
      for (const [name, view] of CORPUS) ddl.push(`CREATE MATERIALIZED VIEW ${name} ${view}`);
      assert.ok(data.bridges > 20, `only ${data.bridges} events bridge two sessions`);
      const created = await runSql(sluice.url, ddl.join(';\n'));
      assert.equal(created.status, 200, JSON.stringify(created.body));

      for (let i = 0; i < data.events.length; i += 250) {
        const batch = data.events.slice(i, i + 250).map((e) => JSON.stringify(e)).join('\n') + '\n';
        const res = await postEvents(sluice.url, 'sess', batch);
        assert.equal(res.status, 200);
        assert.equal(res.body.accepted, Math.min(250, data.events.length - i), JSON.stringify(res.body));
      }
      await waitForCatchUp(sluice.url, CORPUS.map(([n]) => n));
      const flush = await postEvents(sluice.url, 'sess', JSON.stringify(data.flush));
      assert.equal(flush.status, 200);
      await waitForCatchUp(sluice.url, CORPUS.map(([n]) => n));
      // The other partitions stop holding the watermark back once idle for a second.
      const flushed = BigInt(Date.parse(data.flush.occurred_at)) * 1000n - 600n * SECOND;
      for (let i = 0; ; i++) {
        const text = await (await fetch(`${sluice.url}/metrics`)).text();
        const m = text.match(/sluice_watermark_micros\{pipeline="closed_sessions"\} (-?\d+)/);
        if (m && BigInt(m[1]) >= flushed) break;
        assert.ok(i < 100, `the watermark did not reach the flush event: ${m?.[1]}`);
        await sleep(50);
      }
      await sleep(100);

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
          return n === null ? null : n.ts ?? n.v;
        }));
        const theirs = new Map(reader.getRows().map((r) => [keyOf(r), r]));
        const ours = new Map(view.rows.map((row) => {
          const values = columns.map((c) => row[c]);
          return [keyOf(values), values];
        }));
        for (const [key, row] of theirs) {
          const mine = ours.get(key);
          if (!mine) {
            failures.push(`${name}: session ${key} missing in Sluice (DuckDB: ${show(row)})`);
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
        // A merged-away session left in the view would show here.
        for (const key of ours.keys())
          if (!theirs.has(key)) failures.push(`${name}: session ${key} only in Sluice`);
        assert.ok(theirs.size > 0, `${name}: DuckDB found no rows`);
        console.log(`${name}: ${theirs.size} sessions`);
      }
      // Late events (behind the watermark) would have been counted here: none were late, none
      // were dropped.
      const metrics = await (await fetch(`${sluice.url}/metrics`)).text();
      const late = metrics.match(/sluice_late_events_total\{pipeline="order_sessions"\} (\d+)/);
      console.log(`compared ${compared} values over ${data.events.length} events ` +
                  `(${data.bridges} of them bridged two sessions); late: ${late?.[1]}`);
      assert.deepEqual(failures.slice(0, 20), [], failures.slice(0, 20).join('\n'));
      assert.equal(late?.[1], '0', 'no event was behind the watermark');
      const dropped = metrics.match(/sluice_dropped_events_total\{pipeline="closed_sessions"\} (\d+)/);
      assert.equal(dropped?.[1] ?? '0', '0', 'no event was too late for the on_close view');
    });
});
