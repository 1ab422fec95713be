// Differential test of Sluice's scalar SQL expressions (src/sql: binder, evaluator, one-pass
// field extraction) against DuckDB (@duckdb/node-api), the reference: a few thousand generated
// fulfilment events plus hand-written edge events, ~90 expressions, every row compared.
//
// Sluice side: `sql_eval_tool` (tests/sql/eval_tool.cc) evaluates all expressions over the
// NDJSON the way a pipeline does. DuckDB side: the same file read with read_json (strings that
// look like timestamps stay VARCHAR, as they are in the events; objects become STRUCTs, arrays
// LISTs), `SELECT <expr> FROM events ORDER BY rowid` per expression.
//
// Deliberate dialect differences, translated here (docs/sql.md lists them):
//   - event_time (a column the planner computes from occurred_at) is occurred_at::TIMESTAMP;
//   - cardinality(list) is len(list) in DuckDB (its cardinality() is for MAPs);
//   - BIGINT / BIGINT truncates in Sluice (PostgreSQL), DuckDB writes that `//`;
// and kept out of the corpus (tested by the unit tests instead): division by zero (NULL in
// Sluice, Infinity for DuckDB doubles), negative substr/list positions (PostgreSQL vs DuckDB
// semantics differ), timestamps with a UTC offset cast to TIMESTAMP (DuckDB drops the offset),
// and text forms of objects, lists and intervals.
//
// Comparison per row: NULL = NULL; integers exactly; a DOUBLE (either side) within 1e-9
// relative; strings and booleans exactly; TIMESTAMP / DATE by microseconds / days. Expressions
// that raise an error in DuckDB (which fails the whole query) must raise an error in Sluice on
// at least one row. The bar is 100% agreement.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { DuckDBInstance } from '@duckdb/node-api';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SLUICE = process.env.SLUICE_BIN ?? path.join(ROOT, 'build/src/app/sluice');
const TOOL = process.env.SQL_EVAL_TOOL ?? path.join(path.dirname(path.dirname(path.dirname(SLUICE))),
                                                    'tests/sql_eval_tool');
const EVENT_COUNT = Number(process.env.SQL_DIFF_EVENTS ?? 3000);

// [sluice, duckdb] pairs; a plain string is the same text for both.
const CORPUS = [
  // Fields, nested paths, arrays
  'warehouse_id',
  'e.event_type',
  'amount_minor',
  'source.service',
  'customer.tier',
  'customer.marketing_opt_in',
  'lines[1].sku',
  'lines[2].quantity',
  'lines[1].unit_price_minor * lines[1].quantity',
  'metadata.tags[1]',
  ['cardinality(lines)', 'len(lines)'],
  ['cardinality(metadata.tags)', 'len(metadata.tags)'],
  ['json_array_length(history)', 'len(history)'],
  'history[1].actor',
  'shipping_address.country',
  'risk_score',
  'three_ds',
  // Comparisons and logic
  "event_type = 'fulfilment.exception'",
  "event_type <> 'order.received'",
  "warehouse_id < 'WH-05'",
  'amount_minor > 10000',
  'amount_minor >= subtotal_minor',
  'risk_score BETWEEN 20 AND 60',
  'risk_score NOT BETWEEN 20 AND 60',
  "warehouse_id IN ('WH-01', 'WH-02', 'WH-07')",
  "warehouse_id NOT IN ('WH-01', NULL)",
  "currency IN ('EUR', 'GBP')",
  "event_type = 'payment.captured' AND amount_minor > 5000",
  "event_type = 'payment.captured' OR three_ds",
  'NOT three_ds',
  'three_ds IS NULL',
  'amount_minor IS NOT NULL',
  'three_ds IS TRUE',
  'three_ds IS NOT FALSE',
  'amount_minor IS DISTINCT FROM subtotal_minor',
  'risk_score IS NOT DISTINCT FROM NULL',
  "event_type LIKE 'pick.%'",
  "event_type LIKE '%.completed'",
  "order_id LIKE 'ORD-%-0000001_'",
  "notes LIKE '%customer%'",
  "event_type ILIKE 'PAYMENT.%'",
  "event_type NOT LIKE '%o%'",
  "warehouse_id LIKE 'WH!-0_' ESCAPE '!'",
  // Arithmetic
  'amount_minor / 100.0',
  ['amount_minor / 100', 'amount_minor // 100'],
  ['-amount_minor / 7', '-amount_minor // 7'],
  'amount_minor % 7',
  '-amount_minor % 7',
  'subtotal_minor + shipping_minor - order_total_minor',
  'order_total_minor * 3 + 1',
  'total_weight_g / 1000.0 * 2.5',
  'round(amount_minor / 100.0)',
  'round(amount_minor / 7.0, 2)',
  'round(risk_score * 1.5)',
  'floor(total_weight_g / 1000.0)',
  'ceil(total_weight_g / 1000.0)',
  'abs(subtotal_minor - order_total_minor)',
  'greatest(subtotal_minor, shipping_minor, 1000)',
  'least(risk_score, priority, 50)',
  'coalesce(amount_minor, subtotal_minor, 0)',
  "coalesce(exception_code, reason, 'none')",
  'nullif(shipping_minor, 0)',
  'sqrt(total_weight_g)',
  'power(risk_score, 2)',
  // CASE
  "CASE WHEN amount_minor > 50000 THEN 'large' WHEN amount_minor > 5000 THEN 'medium' ELSE 'small' END",
  "CASE event_type WHEN 'pick.started' THEN 1 WHEN 'pick.completed' THEN 2 ELSE 0 END",
  "CASE WHEN severity = 'high' THEN 3 WHEN severity = 'medium' THEN 2 END",
  "CASE WHEN three_ds THEN amount_minor ELSE 0.5 END",
  // Casts
  'CAST(amount_minor AS DOUBLE) / 3',
  'CAST(amount_minor AS VARCHAR)',
  'CAST(schema_version AS VARCHAR) || \'/\' || warehouse_id',
  "CAST(substr(coalesce(order_id, 'ORD-0000-00000000'), 10) AS BIGINT) % 1000",
  "CAST(split_part(source.version, '.', 1) AS BIGINT) * 10",
  'CAST(risk_score / 3.0 AS BIGINT)',
  'CAST(occurred_at AS TIMESTAMP)',
  'CAST(occurred_at AS DATE)',
  'occurred_at::timestamp > promised_by::timestamp',
  "CAST(occurred_at AS TIMESTAMP) > TIMESTAMP '2026-01-01 00:00:00'",
  'CAST(three_ds AS BIGINT)',
  "CAST('42' AS BIGINT) + schema_version",
  // Strings
  'lower(event_type)',
  'upper(warehouse_id)',
  'length(notes)',
  'substr(order_id, 5, 4)',
  'substring(event_id, 1, 3)',
  "trim('  ' || warehouse_id || '  ')",
  "ltrim(order_id, 'ORD-')",
  "rtrim(span_id, '0123456789')",
  "replace(event_type, '.', '_')",
  "starts_with(event_type, 'pick')",
  "ends_with(event_type, 'ed')",
  "strpos(event_type, '.')",
  "split_part(event_type, '.', 1)",
  "split_part(event_type, '.', -1)",
  "warehouse_id || '/' || event_type",
  "warehouse_id || ':' || risk_score",
  "concat(warehouse_id, '-', exception_code, '-', risk_score)",
  "concat_ws('|', warehouse_id, currency, severity)",
  // Times (UTC)
  ['date_trunc(\'minute\', event_time)', 'date_trunc(\'minute\', occurred_at::TIMESTAMP)'],
  ["date_trunc('hour', occurred_at)", "date_trunc('hour', occurred_at::TIMESTAMP)"],
  ["date_trunc('day', occurred_at)", "date_trunc('day', occurred_at::TIMESTAMP)"],
  ["date_trunc('week', occurred_at)", "date_trunc('week', occurred_at::TIMESTAMP)"],
  ["date_trunc('month', occurred_at)", "date_trunc('month', occurred_at::TIMESTAMP)"],
  ['EXTRACT(hour FROM event_time)', 'EXTRACT(hour FROM occurred_at::TIMESTAMP)'],
  'EXTRACT(minute FROM occurred_at::timestamp)',
  'EXTRACT(second FROM occurred_at::timestamp)',
  'EXTRACT(millisecond FROM occurred_at::timestamp)',
  'EXTRACT(dow FROM occurred_at::timestamp)',
  'EXTRACT(doy FROM occurred_at::timestamp)',
  'EXTRACT(epoch FROM occurred_at::timestamp)',
  "date_part('day', occurred_at::timestamp)",
  'occurred_at::timestamp + INTERVAL \'2\' HOUR',
  "occurred_at::timestamp - INTERVAL '90' MINUTE",
  ['EXTRACT(epoch FROM promised_by::timestamp - event_time)',
   'EXTRACT(epoch FROM promised_by::timestamp - occurred_at::TIMESTAMP)'],
  "occurred_at::timestamp BETWEEN TIMESTAMP '2026-01-01 00:00:00' AND TIMESTAMP '2030-01-01 00:00:00'",
  'to_timestamp(risk_score * 1000.5)',
  'epoch_ms(occurred_at::timestamp)',
];

// Expressions DuckDB rejects at run time (the whole query fails); Sluice must report an error
// on at least one row.
const ERROR_CORPUS = [
  'CAST(warehouse_id AS BIGINT)',
  'CAST(substr(warehouse_id, 4) AS BIGINT)',
  'CAST(amount_minor AS BIGINT) * 4',
  "CAST(event_type AS TIMESTAMP)",
];

// Edge events: same field types as the generator's, unusual values.
const EDGE_EVENTS = [
  { event_id: 'edge-1', event_type: 'payment.captured', occurred_at: '2026-12-31T23:59:59.999Z',
    warehouse_id: 'WH-\u00dc', amount_minor: 0, subtotal_minor: -5, risk_score: null,
    notes: 'quote " backslash \\ tab \t unicode \u00e9\u4e2d', currency: 'EUR' },
  { event_id: 'edge-2', event_type: 'PICK.started', occurred_at: '2024-02-29T00:00:00Z',
    warehouse_id: '', amount_minor: -123456789, risk_score: 0, lines: [], severity: 'high' },
  { event_id: 'edge-3', event_type: 'fulfilment.exception', occurred_at: '1999-12-31T12:00:00.5Z',
    warehouse_id: 'WH-01', amount_minor: 4611686018427387904, risk_score: 100,
    exception_code: null, reason: null, three_ds: false },
  { event_id: 'edge-4', event_type: 'x', occurred_at: '2026-06-15T06:30:00.123456Z' },
  { event_id: 'edge-5', event_type: 'pick.completed', occurred_at: '2026-01-04T00:00:00Z',
    warehouse_id: 'WH-%_', order_id: 'ORD-9f3a-00000042', span_id: '', notes: '', priority: -3,
    lines: [{ sku: 'S', quantity: 0, unit_price_minor: 0 }], three_ds: true },
];

function generateEvents(dir) {
  const gen = spawnSync(SLUICE, ['gen', '--count', String(EVENT_COUNT), '--rate', 'max',
                                 '--seed', '11', '--run-id', 'diff'],
                        { maxBuffer: 256 << 20, encoding: 'utf8' });
  assert.equal(gen.status, 0, gen.stderr);
  const lines = gen.stdout.split('\n').filter((l) => l.length > 0);
  for (const e of EDGE_EVENTS) lines.push(JSON.stringify(e));
  const file = path.join(dir, 'events.ndjson');
  writeFileSync(file, lines.join('\n') + '\n');
  return { file, count: lines.length };
}

function runSluice(exprs, eventsFile, dir) {
  const exprFile = path.join(dir, 'exprs.sql');
  writeFileSync(exprFile, exprs.join('\n') + '\n');
  const run = spawnSync(TOOL, ['--exprs', exprFile, '--events', eventsFile],
                        { maxBuffer: 1 << 30, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const lines = run.stdout.split('\n').filter((l) => l.length > 0);
  const headers = lines.slice(0, exprs.length).map((l) => JSON.parse(l));
  const rows = lines.slice(exprs.length).map((l) => JSON.parse(l));
  return { headers, rows };
}

// Normalised values: null | {k:'int', v:BigInt} | {k:'num', v:Number} | {k:'str', v} |
// {k:'bool', v} | {k:'ts', v:BigInt micros} | {k:'date', v:Number days} | {k:'error', v}.
function fromSluice(r) {
  if (r === null) return null;
  if (r.error !== undefined) return { k: 'error', v: r.error };
  switch (r.t) {
    case 'BIGINT': return { k: 'int', v: BigInt(r.v) };
    case 'DOUBLE': return { k: 'num', v: r.v === 'nan' ? NaN : r.v === 'inf' ? Infinity : r.v === '-inf' ? -Infinity : Number(r.v) };
    case 'VARCHAR': case 'JSON': return { k: 'str', v: r.v };
    case 'BOOLEAN': return { k: 'bool', v: r.v };
    case 'TIMESTAMP': return { k: 'ts', v: BigInt(r.v) };
    case 'DATE': return { k: 'date', v: Number(r.v) };
    case 'INTERVAL': return { k: 'interval', v: BigInt(r.v) };
    default: throw new Error(`unknown Sluice type ${r.t}`);
  }
}

function fromDuck(v, type) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return { k: 'int', v };
  if (typeof v === 'number') return Number.isInteger(v) && /INT/.test(type) ? { k: 'int', v: BigInt(v) } : { k: 'num', v };
  if (typeof v === 'string') return { k: 'str', v };
  if (typeof v === 'boolean') return { k: 'bool', v };
  const name = v.constructor?.name;
  if (name === 'DuckDBTimestampValue' || name === 'DuckDBTimestampTZValue') return { k: 'ts', v: BigInt(v.micros) };
  if (name === 'DuckDBDateValue') return { k: 'date', v: Number(v.days) };
  if (name === 'DuckDBDecimalValue') return { k: 'num', v: Number(v.toString()) };
  if (name === 'DuckDBIntervalValue') {
    return { k: 'interval', v: BigInt(v.months) * 30n * 86400000000n + BigInt(v.days) * 86400000000n + BigInt(v.micros) };
  }
  return { k: 'str', v: String(v) };
}

function same(a, b) {
  if (a === null || b === null) return a === b;
  const numeric = (x) => x.k === 'int' || x.k === 'num';
  if (numeric(a) && numeric(b)) {
    if (a.k === 'int' && b.k === 'int') return a.v === b.v;
    const x = Number(a.v), y = Number(b.v);
    if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) && Number.isNaN(y);
    if (x === y) return true;
    return Math.abs(x - y) <= 1e-9 * Math.max(Math.abs(x), Math.abs(y));
  }
  return a.k === b.k && a.v === b.v;
}

const show = (x) => JSON.stringify(x, (_, v) => (typeof v === 'bigint' ? `${v}n` : v));

describe('SQL expressions: Sluice vs DuckDB', () => {
  let dir, events, duck, connection;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sluice-sql-diff-'));
    events = generateEvents(dir);
    duck = await DuckDBInstance.create(':memory:');
    connection = await duck.connect();
    // A strptime format no value matches keeps RFC 3339 strings as VARCHAR, as in the events.
    await connection.run(
      `CREATE TABLE events AS SELECT * FROM read_json('${events.file}', ` +
      `format='newline_delimited', timestampformat='%d|%m|%Y!', dateformat='%d|%m|%Y!', ` +
      `sample_size=-1)`);
  });

  after(() => {
    connection?.closeSync?.();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the corpus agrees row by row', async () => {
    const pairs = CORPUS.map((c) => (Array.isArray(c) ? c : [c, c]));
    const sluice = runSluice(pairs.map((p) => p[0]), events.file, dir);
    assert.equal(sluice.rows.length, events.count);
    const failures = [];
    let compared = 0;
    for (let i = 0; i < pairs.length; ++i) {
      const [sql, duckSql] = pairs[i];
      if (sluice.headers[i].error) {
        failures.push(`${sql}: Sluice rejected it: ${sluice.headers[i].error}`);
        continue;
      }
      let reader;
      try {
        reader = await connection.runAndReadAll(`SELECT ${duckSql} AS v FROM events AS e ORDER BY rowid`);
      } catch (e) {
        failures.push(`${sql}: DuckDB failed: ${e.message.split('\n')[0]}`);
        continue;
      }
      const type = reader.columnTypes()[0].toString();
      const duckRows = reader.getRows();
      assert.equal(duckRows.length, events.count);
      let mismatches = 0;
      for (let row = 0; row < events.count; ++row) {
        const ours = fromSluice(sluice.rows[row][i]);
        const theirs = fromDuck(duckRows[row][0], type);
        ++compared;
        if (!same(ours, theirs)) {
          if (++mismatches <= 3) {
            const event = readFileSync(events.file, 'utf8').split('\n')[row].slice(0, 300);
            failures.push(`${sql} (row ${row}): Sluice ${show(ours)}, DuckDB ${show(theirs)} [${type}]\n  event: ${event}`);
          }
        }
      }
      if (mismatches > 3) failures.push(`${sql}: ${mismatches} mismatching rows in all`);
    }
    console.log(`compared ${compared} values (${pairs.length} expressions x ${events.count} events)`);
    assert.deepEqual(failures, [], failures.join('\n'));
  });

  test('expressions DuckDB rejects raise errors in Sluice too', async () => {
    const sluice = runSluice(ERROR_CORPUS, events.file, dir);
    for (let i = 0; i < ERROR_CORPUS.length; ++i) {
      let duckError = null;
      try {
        // An aggregate evaluates every row before the first result chunk: a row-producing query
        // may report an error only in a later chunk.
        await connection.runAndReadAll(`SELECT count(${ERROR_CORPUS[i]}) FROM events AS e`);
      } catch (e) {
        duckError = e.message;
      }
      assert.ok(duckError, `DuckDB accepted ${ERROR_CORPUS[i]}`);
      const errors = sluice.rows.filter((r) => r[i] && r[i].error !== undefined);
      assert.ok(errors.length > 0, `Sluice raised no error for ${ERROR_CORPUS[i]}`);
      assert.match(errors[0][i].error, /^line 1, column \d+: /);
    }
  });
});
