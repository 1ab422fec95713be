// Also: a new optional field of the stream's subject becomes a new Iceberg column.
//
// The archive under kill -9 during commits: a commit every 100 ms while batches arrive
// continuously, the server killed at random moments and restarted, several times. Then, by
// readers we did not write: no (_partition, _offset) and no event twice, every acknowledged
// event present, icebird reads every snapshot the table keeps, and no snapshot references a
// data file that does not exist.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

import { DuckDBInstance } from '@duckdb/node-api';
import { icebergManifests, icebergMetadata, icebergRead } from 'icebird';

import {
  freshDataDir, getJson, makeEvent, ndjson, postEvents, runSql, sleep, startSluice,
} from './lib/sluice.js';
import { serveFileUrls } from './lib/file_fetch.js';

serveFileUrls();

const STREAM_SQL = "CREATE STREAM orders WITH (subject = 'fulfilment-value', " +
  "event_time = 'occurred_at', partition_key = 'order_id', partitions = 4, archive = 'on')";

async function start(dataDir) {
  const config = path.join(dataDir, '..', `${path.basename(dataDir)}.toml`);
  writeFileSync(config, '[lake]\ncommit_interval = "100ms"\n[log]\nhousekeeping_interval = "500ms"\n');
  return startSluice({ dataDir, args: ['--config', config] });
}

// Deterministic pseudo-random numbers (the kill moments), so a failure can be replayed.
let seed = 20261127;
function random() {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
}

test('kill -9 during 100 ms commits: no duplicate, no loss of an acknowledged event, every snapshot readable', async () => {
  const dataDir = freshDataDir();
  const table = path.join(dataDir, 'lake', 'orders');
  let sluice = await start(dataDir);
  const acked = new Set();
  const maybe = new Set(); // sent in a request that failed: may or may not be in the log
  let offset = 0;
  try {
    const res = await runSql(sluice.url, STREAM_SQL);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    let running = true;
    const ingest = (async () => {
      while (running) {
        const batch = Array.from({ length: 150 }, (_, i) => makeEvent({
          event_type: 'payment.captured',
          occurred_at: new Date(Date.UTC(2026, 10, 27, 8 + ((offset + i) % 3), i % 60, 0)).toISOString(),
          order_id: `ORD-${offset + i}`,
          amount_minor: offset + i,
          currency: 'EUR',
        }));
        offset += batch.length;
        try {
          const r = await postEvents(sluice.url, 'orders', ndjson(batch));
          if (r.status === 200 && r.body.accepted === batch.length) {
            for (const e of batch) acked.add(e.event_id);
            continue;
          }
        } catch { /* the server is down: retry against the next one */ }
        for (const e of batch) maybe.add(e.event_id);
        await sleep(20);
      }
    })();
    for (let kill = 0; kill < 5; kill++) {
      await sleep(300 + Math.floor(random() * 900));
      await sluice.kill9();
      sluice = await start(dataDir);
    }
    await sleep(500);
    running = false;
    await ingest;
    assert.ok(acked.size > 1000, `only ${acked.size} events acknowledged`);

    // Wait until every acknowledged event is committed.
    let rows = [];
    for (let i = 0; i < 300; i++) {
      try {
        rows = await icebergRead({ tableUrl: `file://${table}` });
        const ids = new Set(rows.map((r) => r.event_id));
        if ([...acked].every((id) => ids.has(id))) break;
      } catch { /* no snapshot yet */ }
      await sleep(100);
    }
    await sluice.stop({ keepData: true });

    // The current snapshot: each event and each log position once; every acknowledged event.
    const positions = new Set();
    const ids = new Set();
    for (const r of rows) {
      const position = `${r._partition}:${r._offset}`;
      assert.ok(!positions.has(position), `log position ${position} archived twice`);
      positions.add(position);
      assert.ok(!ids.has(r.event_id), `${r.event_id} archived twice`);
      ids.add(r.event_id);
      assert.ok(acked.has(r.event_id) || maybe.has(r.event_id), `${r.event_id} was never sent`);
    }
    for (const id of acked) assert.ok(ids.has(id), `acknowledged ${id} is not in the archive`);

    // DuckDB over the current snapshot's files agrees.
    const metadata = await icebergMetadata({ tableUrl: `file://${table}` });
    const live = (await icebergManifests(metadata))
      .flatMap((m) => m.entries)
      .filter((e) => e.status !== 2)
      .map((e) => fileURLToPath(e.data_file.file_path));
    const duck = await (await DuckDBInstance.create(':memory:')).connect();
    const list = live.map((f) => `'${f}'`).join(',');
    const reader = await duck.runAndReadAll(
      `SELECT count(*)::BIGINT, count(DISTINCT (_partition, _offset))::BIGINT,
              count(DISTINCT event_id)::BIGINT FROM read_parquet([${list}])`);
    const [count, distinctPositions, distinctIds] = reader.getRows()[0].map(Number);
    assert.equal(count, rows.length);
    assert.equal(distinctPositions, rows.length);
    assert.equal(distinctIds, rows.length);

    // Every snapshot the table keeps reads, and references only files that exist.
    assert.ok(metadata.snapshots.length >= 5, `${metadata.snapshots.length} snapshots`);
    let previous = 0;
    for (const snapshot of metadata.snapshots) {
      const at = { ...metadata, 'current-snapshot-id': snapshot['snapshot-id'] };
      for (const m of await icebergManifests(at)) {
        for (const e of m.entries) {
          if (e.status === 2) continue;
          const file = fileURLToPath(e.data_file.file_path);
          assert.ok(existsSync(file), `snapshot ${snapshot['snapshot-id']} references missing ${file}`);
        }
      }
      const snapshotRows = await icebergRead({ tableUrl: `file://${table}`, metadata: at });
      assert.equal(snapshotRows.length, Number(snapshot.summary['total-records']));
      assert.ok(snapshotRows.length >= previous, 'a later snapshot holds fewer rows');
      previous = snapshotRows.length;
    }
  } finally {
    await sluice.stop();
  }
});

test('a new optional field in the subject becomes a new Iceberg field while serving; old files read as null', async () => {
  const dataDir = freshDataDir();
  const table = path.join(dataDir, 'lake', 'orders');
  let sluice = await start(dataDir);
  try {
    const res = await runSql(sluice.url, STREAM_SQL);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const before = Array.from({ length: 40 }, (_, i) => makeEvent({ order_id: `ORD-a${i}` }));
    assert.equal((await postEvents(sluice.url, 'orders', ndjson(before))).body.accepted, 40);
    const waitRows = async (n) => {
      for (let i = 0; i < 100; i++) {
        try {
          const rows = await icebergRead({ tableUrl: `file://${table}` });
          if (rows.length >= n) return rows;
        } catch { /* no snapshot yet */ }
        await sleep(100);
      }
      assert.fail(`the archive did not reach ${n} rows`);
    };
    await waitRows(40);
    const metadataBefore = await icebergMetadata({ tableUrl: `file://${table}` });
    const maxId = Math.max(...metadataBefore.schemas.flatMap((s) => s.fields.map((f) => f.id)));

    // v2 of the subject adds an optional string field.
    const v1 = JSON.parse((await getJson(
      `${sluice.url}/registry/subjects/fulfilment-value/versions/1`)).body.schema);
    const v2 = structuredClone(v1);
    v2.properties.gift_message = { type: 'string' };
    const registered = await fetch(`${sluice.url}/registry/subjects/fulfilment-value/versions`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schemaType: 'JSON', schema: JSON.stringify(v2) }),
    });
    assert.equal(registered.status, 200, await registered.clone().text());
    // No restart: housekeeping (every 500 ms here) sees the new version and the archive
    // reopens with the field.
    let evolved = false;
    for (let i = 0; i < 100 && !evolved; i++) {
      const m = await icebergMetadata({ tableUrl: `file://${table}` });
      evolved = m.schemas.some((sc) => sc.fields.some((f) => f.name === 'gift_message'));
      if (!evolved) await sleep(100);
    }
    assert.ok(evolved, 'the archive did not add the new field');

    const after = Array.from({ length: 30 }, (_, i) =>
      makeEvent({ order_id: `ORD-b${i}`, gift_message: `Alles Gute ✨ ${i}` }));
    assert.equal((await postEvents(sluice.url, 'orders', ndjson(after))).body.accepted, 30);
    const rows = await waitRows(70);
    await sluice.stop({ keepData: true });

    const metadata = await icebergMetadata({ tableUrl: `file://${table}` });
    assert.equal(metadata.schemas.length, 2);
    const current = metadata.schemas.find((s) => s['schema-id'] === metadata['current-schema-id']);
    const field = current.fields.find((f) => f.name === 'gift_message');
    assert.ok(field, JSON.stringify(current.fields));
    assert.ok(field.id > maxId, `${field.id} <= ${maxId}`);
    assert.equal(field.required, false);

    // icebird: the old rows have no value, the new ones theirs.
    const byOrder = new Map(rows.map((r) => [r.order_id, r]));
    for (const e of before) assert.equal(byOrder.get(e.order_id).gift_message ?? null, null);
    for (const e of after) assert.equal(byOrder.get(e.order_id).gift_message, e.gift_message);

    // DuckDB over old and new files together (by name: old files lack the column).
    const duck = await (await DuckDBInstance.create(':memory:')).connect();
    const reader = await duck.runAndReadAll(
      `SELECT count(*)::BIGINT, count(gift_message)::BIGINT,
              count(*) FILTER (WHERE gift_message LIKE 'Alles Gute ✨%')::BIGINT
       FROM read_parquet('${table}/data/**/*.parquet', union_by_name = true)`);
    assert.deepEqual(reader.getRows()[0].map(Number), [70, 30, 30]);
  } finally {
    await sluice.stop();
  }
});
