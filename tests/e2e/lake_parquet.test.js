// Our Parquet files read by readers we did not write: `lake_write_tool` (src/lake's
// EventColumns + ParquetWriter) converts seeded fulfilment-like NDJSON events into Parquet with
// ZSTD, Snappy and no compression; DuckDB (@duckdb/node-api) and hyparquet read the files, and
// counts, sums, distinct ids, nulls, unicode strings, timestamps, exact decimals and the raw
// events must match the ground truth computed here from the same events. Our own reader
// (lake_write_tool --dump) must agree too.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import { DuckDBInstance } from '@duckdb/node-api';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

import { random } from './lib/differential.js';

const TOOL = process.env.LAKE_WRITE_TOOL ??
    path.resolve(import.meta.dirname, '../../build/tests/lake_write_tool');
const EVENTS = 6000;

const COLUMNS = [
  'event_id=event_id:string',
  'event_type=event_type:string',
  'order_id=order_id:string',
  'warehouse_id=warehouse_id:string',
  'occurred_at=occurred_at:timestamp',
  'amount=amount:decimal(18,2)',
  'currency=currency:string',
  'qty=qty:int64',
  'weight_kg=weight_kg:double',
  'express=express:boolean',
  'city=customer.address.city:string',
  'note=note:string',
];

const TYPES = ['order.received', 'payment.captured', 'order.allocated', 'pick.started',
  'pick.completed', 'pack.completed', 'shipment.dispatched', 'carrier.charge',
  'shipment.delivered', 'fulfilment.exception', 'refund.issued'];
const FINANCIAL = new Set(['payment.captured', 'refund.issued', 'carrier.charge']);
const CITIES = ['Zürich', 'München', 'København', '東京', 'São Paulo', 'Kraków', 'Reykjavík',
  'Αθήνα', 'Москва', 'Leeds'];
const NOTES = ['', 'fragile', 'leave at the door 🚪', 'größe XL', 'tab\there', 'quote "q" \\ b',
  'emoji 🚚📦✅', '日本語のメモ'];
const CURRENCY = ['EUR', 'CHF', 'DKK', 'JPY', 'BRL', 'PLN', 'ISK', 'GBP'];

// Seeded events plus the ground truth of every column (null where the tool must write null).
function generate(seed, n) {
  const rnd = random(seed);
  const pick = (a) => a[Math.floor(rnd() * a.length)];
  const events = [];
  const truth = [];
  let t = Date.parse('2026-11-25T05:00:00Z');
  for (let i = 0; i < n; i++) {
    t += Math.floor(rnd() * 900);
    const type = pick(TYPES);
    const e = {
      event_id: `evt-${seed}-${String(i).padStart(8, '0')}`,
      event_type: type,
      order_id: `ORD-${Math.floor(i / 7)}`,
      warehouse_id: `WH-${String(1 + Math.floor(rnd() * 12)).padStart(2, '0')}`,
      occurred_at: new Date(t).toISOString(),
    };
    const row = { ...e, occurred_at_us: BigInt(t) * 1000n, amount_cents: null, currency: null,
      qty: null, weight_kg: null, express: null, city: null, note: null };
    if (FINANCIAL.has(type)) {
      const cents = Math.floor(rnd() * 2_000_000) - (type === 'refund.issued' ? 2_000_000 : 0);
      // Money as a JSON number or a numeric string, sometimes with a trailing zero.
      const text = `${cents < 0 ? '-' : ''}${Math.floor(Math.abs(cents) / 100)}.` +
                   `${String(Math.abs(cents) % 100).padStart(2, '0')}`;
      e.amount = rnd() < 0.5 ? Number(text) : text;
      e.currency = pick(CURRENCY);
      row.amount_cents = BigInt(cents);
      row.currency = e.currency;
    }
    if (rnd() < 0.8) {
      e.qty = 1 + Math.floor(rnd() * 40);
      row.qty = BigInt(e.qty);
    } else if (rnd() < 0.3) {
      e.qty = String(1 + Math.floor(rnd() * 40));  // wrong type: null and a counted mismatch
    }
    if (rnd() < 0.7) {
      e.weight_kg = Math.round(rnd() * 50000) / 1000;
      row.weight_kg = e.weight_kg;
    }
    if (rnd() < 0.5) {
      e.express = rnd() < 0.3;
      row.express = e.express;
    } else if (rnd() < 0.2) {
      e.express = null;
    }
    if (rnd() < 0.85) {
      const city = pick(CITIES);
      e.customer = { name: `Kunde ${i} Ünïcödé`, address: { city, zip: String(1000 + i) } };
      row.city = city;
    }
    if (rnd() < 0.4) {
      e.note = pick(NOTES);
      row.note = e.note;
    }
    e.lines = Array.from({ length: 1 + Math.floor(rnd() * 3) },
        (_, k) => ({ sku: `SKU-${Math.floor(rnd() * 5000)}`, qty: 1 + k }));
    const raw = JSON.stringify(e);
    row._raw = raw;
    events.push(raw);
    truth.push(row);
  }
  return { events, truth };
}

const json = (v) => JSON.stringify(v, (k, x) => (typeof x === 'bigint' ? x.toString() : x));

function runTool(args, input) {
  const r = spawnSync(TOOL, args, { input, maxBuffer: 1 << 28, encoding: 'utf8' });
  assert.equal(r.status, 0, `lake_write_tool ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

describe('lake: Parquet written by sluice, read by DuckDB and hyparquet', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-lake-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const { events, truth } = generate(20261125, EVENTS);
  const input = events.join('\n') + '\n';
  writeFileSync(path.join(dir, 'events.ndjson'), input);
  const expectedMismatchQty = events.filter((e) => typeof JSON.parse(e).qty === 'string').length;

  const variants = [
    { name: 'zstd', args: ['--compression', 'zstd'] },
    { name: 'snappy', args: ['--compression', 'snappy'] },
    { name: 'none', args: ['--compression', 'none'] },
    { name: 'zstd-page-v2', args: ['--compression', 'zstd', '--data-page-v2'] },
    // Small row groups and pages, no dictionary: many row groups for the readers to stitch.
    { name: 'zstd-small-row-groups', args: ['--compression', 'zstd', '--row-group-bytes', '65536',
      '--page-bytes', '8192', '--no-dictionary', '--batch', '250'] },
  ];

  for (const variant of variants) {
    test(`${variant.name}: counts, sums, nulls, unicode and raw events match`, async () => {
      const file = path.join(dir, `${variant.name}.parquet`);
      const args = ['--out', file, ...variant.args, '--kv', 'sluice.stream=fulfilment'];
      for (const c of COLUMNS) args.push('--column', c);
      const summary = JSON.parse(runTool(args, input));
      assert.equal(summary.rows, EVENTS);
      assert.equal(summary.invalid_events, 0);
      assert.equal(summary.type_mismatches.qty, expectedMismatchQty);
      assert.ok(expectedMismatchQty > 0);
      if (variant.name === 'zstd-small-row-groups') assert.ok(summary.row_groups > 3, json(summary));

      // ---- DuckDB ----
      const db = await DuckDBInstance.create(':memory:');
      const con = await db.connect();
      const q = async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJS();
      const [agg] = await q(`SELECT count(*) AS n, count(DISTINCT event_id) AS ids,
          count(DISTINCT order_id) AS orders, sum(qty) AS qty, count(qty) AS qty_n,
          sum(amount)::VARCHAR AS amount, count(amount) AS amount_n, count(express) AS express_n,
          count(*) FILTER (WHERE express) AS express_true, count(city) AS city_n,
          count(note) AS note_n, sum(weight_kg) AS weight, min(epoch_us(occurred_at)) AS t_min,
          max(epoch_us(occurred_at)) AS t_max FROM '${file}'`);
      const nonNull = (k) => truth.filter((r) => r[k] !== null);
      const cents = nonNull('amount_cents').reduce((s, r) => s + r.amount_cents, 0n);
      const centsText = `${cents < 0n ? '-' : ''}${(cents < 0n ? -cents : cents) / 100n}.` +
                        `${String((cents < 0n ? -cents : cents) % 100n).padStart(2, '0')}`;
      assert.equal(agg.n, BigInt(EVENTS));
      assert.equal(agg.ids, BigInt(EVENTS));
      assert.equal(agg.orders, BigInt(new Set(truth.map((r) => r.order_id)).size));
      assert.equal(agg.qty, nonNull('qty').reduce((s, r) => s + r.qty, 0n));
      assert.equal(agg.qty_n, BigInt(nonNull('qty').length));
      assert.equal(agg.amount, centsText);
      assert.equal(agg.amount_n, BigInt(nonNull('amount_cents').length));
      assert.equal(agg.express_n, BigInt(nonNull('express').length));
      assert.equal(agg.express_true, BigInt(truth.filter((r) => r.express === true).length));
      assert.equal(agg.city_n, BigInt(nonNull('city').length));
      assert.equal(agg.note_n, BigInt(nonNull('note').length));
      const weight = nonNull('weight_kg').reduce((s, r) => s + r.weight_kg, 0);
      assert.ok(Math.abs(agg.weight - weight) < 1e-6, `${agg.weight} vs ${weight}`);
      assert.equal(agg.t_min, truth[0].occurred_at_us);
      assert.equal(agg.t_max, truth[truth.length - 1].occurred_at_us);

      // Unicode strings, group by group.
      const cities = await q(`SELECT city, count(*) AS n FROM '${file}' WHERE city IS NOT NULL
          GROUP BY city ORDER BY city`);
      const expectedCities = new Map();
      for (const r of nonNull('city')) expectedCities.set(r.city, (expectedCities.get(r.city) ?? 0) + 1);
      assert.deepEqual(new Map(cities.map((r) => [r.city, Number(r.n)])), expectedCities);
      const notes = await q(`SELECT note, count(*) AS n FROM '${file}' GROUP BY note`);
      const expectedNotes = new Map();
      for (const r of truth) expectedNotes.set(r.note, (expectedNotes.get(r.note) ?? 0) + 1);
      assert.deepEqual(new Map(notes.map((r) => [r.note, Number(r.n)])), expectedNotes);

      // Every raw event, in order, byte for byte; and the schema's logical types.
      const raws = await q(`SELECT _raw FROM '${file}'`);
      assert.deepEqual(raws.map((r) => r._raw), events);
      const schema = await q(`SELECT name, type, logical_type::VARCHAR AS logical,
          repetition_type FROM parquet_schema('${file}')`);
      const byName = Object.fromEntries(schema.map((r) => [r.name, r]));
      assert.match(byName.occurred_at.logical, /isAdjustedToUTC=1.*MICROS=MicroSeconds/);
      assert.match(byName.amount.logical, /DecimalType\(scale=2, precision=18\)/);
      assert.equal(byName._raw.repetition_type, 'REQUIRED');
      assert.equal(byName.qty.repetition_type, 'OPTIONAL');
      const [kv] = await q(`SELECT decode(value) AS v FROM parquet_kv_metadata('${file}')
          WHERE decode(key) = 'sluice.stream'`);
      assert.equal(kv.v, 'fulfilment');

      // Statistics: DuckDB prunes with them, so a range query must still see every row.
      const [stats] = await q(`SELECT min(stats_min_value) AS lo, max(stats_max_value) AS hi
          FROM parquet_metadata('${file}') WHERE path_in_schema = 'event_id'`);
      assert.equal(stats.lo, truth[0].event_id);
      assert.equal(stats.hi, truth[truth.length - 1].event_id);
      // `_raw`'s bounds are truncated to 64 bytes (inexact): equality on the first and last
      // events, which sit at those bounds, must still find them.
      for (const k of [0, EVENTS - 1, 17]) {
        const [hit] = await q(`SELECT count(*) AS n FROM '${file}'
            WHERE _raw = '${events[k].replaceAll("'", "''")}'`);
        assert.equal(hit.n, 1n, `raw event ${k}`);
      }
      const mid = truth[Math.floor(EVENTS / 2)].event_id;
      const [range] = await q(`SELECT count(*) AS n FROM '${file}' WHERE event_id >= '${mid}'`);
      assert.equal(range.n, BigInt(EVENTS - Math.floor(EVENTS / 2)));

      // ---- hyparquet: row by row against the ground truth ----
      const buffer = await asyncBufferFromFile(file);
      const metadata = await parquetMetadataAsync(buffer);
      assert.equal(Number(metadata.num_rows), EVENTS);
      const rows = await parquetReadObjects({ file: buffer, compressors });
      assert.equal(rows.length, EVENTS);
      for (let i = 0; i < EVENTS; i++) {
        const r = rows[i];
        const t = truth[i];
        const ctx = `row ${i} (${variant.name})`;
        assert.equal(r.event_id, t.event_id, ctx);
        assert.equal(r.city ?? null, t.city, ctx);
        assert.equal(r.note ?? null, t.note, ctx);
        assert.equal(r.qty ?? null, t.qty, ctx);
        assert.equal(r.express ?? null, t.express, ctx);
        assert.equal(r.weight_kg ?? null, t.weight_kg, ctx);
        assert.equal(r.occurred_at.getTime() * 1000, Number(t.occurred_at_us), ctx);
        if (t.amount_cents === null) {
          assert.equal(r.amount ?? null, null, ctx);
        } else {
          assert.ok(Math.abs(r.amount - Number(t.amount_cents) / 100) < 1e-9, ctx);
        }
        assert.equal(r._raw, t._raw, ctx);
      }

      // ---- our reader ----
      const dumped = runTool(['--dump', file]).trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(dumped.length, EVENTS);
      for (let i = 0; i < EVENTS; i += 97) {
        assert.equal(dumped[i].event_id, truth[i].event_id);
        assert.equal(dumped[i]._raw, truth[i]._raw);
        assert.equal(dumped[i].city, truth[i].city);
      }
      await con.closeSync?.();
    });
  }

  test('ZSTD file is at least 4x smaller than the raw JSON', (t) => {
    const zstd = readFileSync(path.join(dir, 'zstd.parquet')).length;
    t.diagnostic(`raw JSON ${input.length} bytes, ZSTD Parquet ${zstd} bytes, ` +
                 `${(input.length / zstd).toFixed(2)}x smaller`);
    assert.ok(input.length / zstd >= 4, `ratio ${(input.length / zstd).toFixed(2)}`);
  });
});
