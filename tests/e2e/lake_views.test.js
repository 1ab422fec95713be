// A view's output in the lake (CREATE MATERIALIZED VIEW ... WITH (lake = 'on')): readers we did
// not write see the view's rows in its Iceberg table: icebird at the current snapshot and at
// an earlier one (the view as it was), DuckDB over the current file; SIGTERM commits the last
// change; DROP VIEW moves the table aside, where its files stay.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { DuckDBInstance } from '@duckdb/node-api';
import { icebergRead } from 'icebird';

import {
  freshDataDir, getJson, makeEvent, ndjson, postEvents, runSql, sleep, startSluice,
} from './lib/sluice.js';
import { serveFileUrls } from './lib/file_fetch.js';

serveFileUrls();

const VIEW_SQL = "CREATE MATERIALIZED VIEW per_warehouse WITH (lake = 'on') AS " +
  'SELECT warehouse_id, count(*) AS events, sum(amount_minor) AS amount, ' +
  'max(occurred_at) AS last_at FROM fulfilment GROUP BY warehouse_id';

async function start(dataDir, interval) {
  const config = path.join(dataDir, '..', `${path.basename(dataDir)}.toml`);
  writeFileSync(config, `[lake]\nview_commit_interval = "${interval}"\n`);
  return startSluice({ dataDir, args: ['--config', config] });
}

function events(n, offset, warehouses) {
  return Array.from({ length: n }, (_, i) => makeEvent({
    event_type: 'pick.completed',
    warehouse_id: warehouses[(offset + i) % warehouses.length],
    amount_minor: offset + i,
    occurred_at: new Date(Date.UTC(2026, 10, 27, 9, 0, (offset + i) % 60)).toISOString(),
  }));
}

// The view's rows as the server serves them, comparable with the table's.
async function served(url) {
  for (let i = 0; i < 100; i++) {
    const res = await getJson(`${url}/v1/views/per_warehouse`);
    if (res.status === 200) {
      return res.body.rows.map((r) => ({
        warehouse_id: r.warehouse_id, events: r.events, amount: r.amount, last_at: r.last_at,
      })).sort((a, b) => a.warehouse_id.localeCompare(b.warehouse_id));
    }
    await sleep(100);
  }
  assert.fail('the view never answered');
}

function normalize(rows) {
  return rows.map((r) => ({
    warehouse_id: r.warehouse_id,
    events: Number(r.events),
    amount: Number(r.amount),
    last_at: new Date(r.last_at).toISOString(),
  })).sort((a, b) => a.warehouse_id.localeCompare(b.warehouse_id));
}

async function tableRows(tableDir, metadataFileName) {
  return normalize(await icebergRead({ tableUrl: `file://${tableDir}`, metadataFileName }));
}

async function waitForTable(tableDir, expected) {
  let rows;
  for (let i = 0; i < 100; i++) {
    try {
      rows = await tableRows(tableDir);
      if (JSON.stringify(rows) === JSON.stringify(expected)) return;
    } catch { /* no snapshot yet */ }
    await sleep(100);
  }
  assert.deepEqual(rows, expected);
}

async function totalsOf(url, n) {
  for (let i = 0; i < 100; i++) {
    const rows = await served(url);
    if (rows.reduce((a, r) => a + r.events, 0) === n) return rows;
    await sleep(100);
  }
  assert.fail(`the view did not reach ${n} events`);
}

test("a view with lake = 'on' keeps its rows, snapshot by snapshot, in an Iceberg table", async () => {
  const dataDir = freshDataDir();
  const tableDir = path.join(dataDir, 'lake', 'per_warehouse');
  let sluice = await start(dataDir, '300ms');
  try {
    let res = await runSql(sluice.url, VIEW_SQL);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    let r = await postEvents(sluice.url, 'fulfilment', ndjson(events(300, 0, ['WH-1', 'WH-2', 'WH-Zürich'])));
    assert.equal(r.body.accepted, 300);
    const first = await totalsOf(sluice.url, 300);
    await waitForTable(tableDir, normalize(first));
    const version = (f) => Number(f.match(/^v(\d+)\.metadata\.json$/)?.[1] ?? -1);
    const firstMetadata = readdirSync(path.join(tableDir, 'metadata'))
      .filter((f) => version(f) >= 0).sort((a, b) => version(a) - version(b)).at(-1);

    r = await postEvents(sluice.url, 'fulfilment', ndjson(events(200, 300, ['WH-2', 'WH-3'])));
    assert.equal(r.body.accepted, 200);
    const second = await totalsOf(sluice.url, 500);
    await waitForTable(tableDir, normalize(second));
    // Time travel: the earlier snapshot is the view as it was.
    assert.deepEqual(await tableRows(tableDir, firstMetadata), normalize(first));

    // DuckDB reads the current file: one file per snapshot, the view's rows exactly.
    const files = readdirSync(path.join(tableDir, 'data')).filter((f) => f.endsWith('.parquet')).sort();
    const newest = files.sort((a, b) => parseInt(a, 10) - parseInt(b, 10)).at(-1);
    const duck = await (await DuckDBInstance.create(':memory:')).connect();
    const reader = await duck.runAndReadAll(
      `SELECT warehouse_id, events, amount, last_at FROM read_parquet('${path.join(tableDir, 'data', newest)}')`);
    assert.deepEqual(normalize(reader.getRowObjects()), normalize(second));

    // SIGTERM commits the last change even with a long interval.
    await sluice.stop({ keepData: true });
    sluice = await start(dataDir, '1h');
    r = await postEvents(sluice.url, 'fulfilment', ndjson(events(50, 500, ['WH-4'])));
    assert.equal(r.body.accepted, 50);
    const third = await totalsOf(sluice.url, 550);
    await sluice.terminate();
    assert.deepEqual(await tableRows(tableDir), normalize(third));

    // DROP VIEW moves the table aside, readable still.
    sluice = await start(dataDir, '1h');
    res = await runSql(sluice.url, 'DROP MATERIALIZED VIEW per_warehouse');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok(!existsSync(tableDir));
    const aside = readdirSync(path.join(dataDir, 'lake', '.dropped'))
      .filter((d) => d.startsWith('per_warehouse@'));
    assert.equal(aside.length, 1);
    // (Iceberg metadata holds absolute paths: moved, the table is read file by file.)
    const movedData = path.join(dataDir, 'lake', '.dropped', aside[0], 'data');
    const last = readdirSync(movedData).filter((f) => f.endsWith('.parquet'))
      .sort((a, b) => parseInt(a, 10) - parseInt(b, 10)).at(-1);
    const moved = await duck.runAndReadAll(
      `SELECT warehouse_id, events, amount, last_at FROM read_parquet('${path.join(movedData, last)}')`);
    assert.deepEqual(normalize(moved.getRowObjects()), normalize(third));

    res = await runSql(sluice.url,
      "CREATE MATERIALIZED VIEW v WITH (lake = 'maybe') AS SELECT count(*) FROM fulfilment");
    assert.equal(res.status, 400);
    assert.match(JSON.stringify(res.body), /lake must be 'on' or 'off', not 'maybe'/);
  } finally {
    await sluice.stop();
  }
});
