// Iceberg v2 tables written by Sluice (src/lake/iceberg_table), read by clients we did not
// write: DuckDB (@duckdb/node-api) writes the Parquet data files and is the ground truth;
// `iceberg_tool` (tests/iceberg_tool.cc) registers them in commits; icebird (a JavaScript
// Iceberg reader: version-hint.text, metadata JSON, Avro manifest lists and manifests, then
// Parquet through hyparquet) reads the table at the current snapshot and at earlier versions.
// Covers appends over hour partitions, time travel, schema evolution (a column added later),
// commits killed (process exit, as kill -9) after the manifests and after the metadata file
// (readers still see the previous version; the retry lands), deleting a partition's files and
// expiring snapshots (files gone from disk, the current snapshot still readable), and the
// stats Sluice records for pruning.
//
// icebird reads through `fetch`; the table's location is a file:// URI, so the test gives
// fetch a handler for file:// URLs that reads from disk.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { DuckDBInstance } from '@duckdb/node-api';
import { icebergRead } from 'icebird';

const TOOL = process.env.ICEBERG_TOOL ??
    (process.env.SLUICE_BIN
      ? path.resolve(path.dirname(process.env.SLUICE_BIN), '../../tests/iceberg_tool')
      : path.resolve(import.meta.dirname, '../../build/tests/iceberg_tool'));

const realFetch = globalThis.fetch;
globalThis.fetch = async (url, init) => {
  const u = String(url);
  if (!u.startsWith('file://')) return realFetch(url, init);
  let body;
  try {
    body = readFileSync(fileURLToPath(u));
  } catch {
    return new Response('not found', { status: 404, statusText: 'Not Found' });
  }
  return new Response(body, { status: 200 });
};

function tool(...args) {
  const r = spawnSync(TOOL, args, { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`iceberg_tool ${args.slice(0, 3).join(' ')} failed (${r.status}): ${r.stderr}`);
  }
  return JSON.parse(r.stdout);
}

function toolFails(...args) {
  const r = spawnSync(TOOL, args, { encoding: 'utf8' });
  assert.notEqual(r.status, 0, `iceberg_tool ${args[0]} should have failed`);
  return r.stderr;
}

const HOURS = ['2026-11-27T08:00:00Z', '2026-11-27T09:00:00Z', '2026-11-27T10:00:00Z'];

describe('Iceberg tables: DuckDB writes the files, Sluice commits, icebird reads', () => {
  let root, tableDir, duck, db;
  const TABLE = 'events';

  before(async () => {
    assert.ok(existsSync(TOOL), `iceberg_tool not built at ${TOOL}`);
    root = mkdtempSync(path.join(tmpdir(), 'sluice-iceberg-'));
    tableDir = path.join(root, TABLE);
    duck = await DuckDBInstance.create(':memory:');
    db = await duck.connect();
    await db.run("SET TimeZone = 'UTC'");
  });

  after(() => {
    db?.closeSync?.();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  // Writes `rows` rows for the hour starting at `hourStart` with DuckDB, at the table's data
  // path for that hour, and returns the commit JSON entry with stats computed by DuckDB.
  async function writeFile(hourStart, name, rows, seed, { country = false } = {}) {
    const rel = tool('data-path', root, TABLE, hourStart, name).path;
    const abs = path.join(tableDir, rel);
    mkdirSync(path.dirname(abs), { recursive: true });
    const extra = country ? `, (['de','fr','us'])[1 + (i % 3)] AS country` : '';
    await db.run(
      `COPY (SELECT TIMESTAMPTZ '${hourStart}' + to_seconds(((i * 37 + ${seed}) % 3600)::BIGINT) AS event_time,
                    'user-' || ((i + ${seed}) % 11) AS user_id,
                    CASE WHEN i % 5 = 4 THEN NULL ELSE CAST((i * 1.25 + ${seed}) AS DECIMAL(10,2)) END AS amount,
                    (${seed} * 1000 + i)::BIGINT AS n ${extra}
             FROM range(${rows}) t(i)) TO '${abs}' (FORMAT parquet)`);
    const stats = (await db.runAndReadAll(
      `SELECT count(*)::BIGINT, strftime(min(event_time), '%Y-%m-%dT%H:%M:%SZ'),
              strftime(max(event_time), '%Y-%m-%dT%H:%M:%SZ'), min(user_id), max(user_id),
              min(amount)::VARCHAR, max(amount)::VARCHAR, (count(*) - count(amount))::BIGINT,
              min(n), max(n)
       FROM read_parquet('${abs}')`)).getRows()[0];
    const [count, tmin, tmax, umin, umax, amin, amax, anull, nmin, nmax] = stats;
    assert.equal(Number(count), rows);
    return {
      rel,
      abs,
      entry: {
        path: rel,
        record_count: rows,
        partition_time: hourStart,
        value_counts: { event_time: rows, user_id: rows, amount: rows, n: rows },
        null_value_counts: { event_time: 0, user_id: 0, amount: Number(anull), n: 0 },
        lower_bounds: { event_time: tmin, user_id: umin, amount: amin, n: Number(nmin) },
        upper_bounds: { event_time: tmax, user_id: umax, amount: amax, n: Number(nmax) },
      },
    };
  }

  // The ground truth: DuckDB over the given data files, as plain objects sorted by n.
  async function truth(files, { country = false } = {}) {
    if (files.length === 0) return [];
    const list = files.map((f) => `'${f.abs}'`).join(', ');
    const cols = `epoch_ms(event_time) AS t, user_id, amount::DOUBLE AS amount, n` +
        (country ? ', country' : '');
    const reader = await db.runAndReadAll(
      `SELECT ${cols} FROM read_parquet([${list}], union_by_name = true) ORDER BY n`);
    return reader.getRowObjects().map((r) => ({
      t: Number(r.t),
      user_id: r.user_id,
      amount: r.amount,
      n: Number(r.n),
      ...(country ? { country: r.country ?? undefined } : {}),
    }));
  }

  async function icebird(metadataFileName, { country = false } = {}) {
    const rows = await icebergRead({ tableUrl: `file://${tableDir}`, metadataFileName });
    return rows.map((r) => ({
      t: r.event_time instanceof Date ? r.event_time.getTime() : Number(r.event_time) / 1000,
      user_id: r.user_id,
      amount: r.amount ?? null,
      n: Number(r.n),
      ...(country ? { country: r.country ?? undefined } : {}),
    })).sort((a, b) => a.n - b.n);
  }

  const files = {};
  const snaps = {};

  test('create, then two appends over three hour partitions', async () => {
    const created = tool('create', root, TABLE, JSON.stringify({
      fields: [
        { name: 'event_time', type: 'timestamptz', required: true },
        { name: 'user_id', type: 'string', required: true },
        { name: 'amount', type: 'decimal(10,2)' },
        { name: 'n', type: 'long' },
      ],
      hour_partition: 'event_time',
      // Merging from the third manifest on, so that icebird also reads merged manifests
      // (EXISTING entries with explicit sequence numbers).
      properties: { 'sluice.stream': 'payments', 'commit.manifest.min-count-to-merge': '2' },
    }));
    assert.equal(created.version, 1);
    assert.equal(created.location, `file://${tableDir}`);
    assert.match(toolFails('create', root, TABLE, '{"fields":[{"name":"a","type":"long"}]}'),
                 /already exists/);

    files.a = await writeFile(HOURS[0], 'a.parquet', 50, 1);
    files.b = await writeFile(HOURS[1], 'b.parquet', 40, 2);
    snaps.s1 = tool('commit', root, TABLE, JSON.stringify({
      add: [files.a.entry, files.b.entry], summary: { 'sluice.last-offset': '89' },
    }));
    assert.equal(snaps.s1.version, 2);
    assert.equal(snaps.s1.sequence_number, 1);
    assert.equal(snaps.s1.summary.operation, 'append');
    assert.equal(snaps.s1.summary['total-records'], '90');
    assert.equal(files.a.rel, 'data/event_time_hour=2026-11-27-08/a.parquet');

    files.c = await writeFile(HOURS[2], 'c.parquet', 30, 3);
    snaps.s2 = tool('commit', root, TABLE, JSON.stringify({
      add: [files.c.entry], summary: { 'sluice.last-offset': '119' },
    }));
    assert.equal(snaps.s2.version, 3);
    assert.equal(snaps.s2.sequence_number, 2);
    assert.equal(snaps.s2.parent_snapshot_id, snaps.s1.snapshot_id);
    // The same file twice would count its rows twice: refused.
    assert.match(toolFails('commit', root, TABLE, JSON.stringify({ add: [files.c.entry] })),
                 /already in the table/);
  });

  test('icebird reads the current snapshot and the first one, as DuckDB does', async () => {
    const current = await icebird(undefined);
    assert.equal(current.length, 120);
    assert.deepEqual(current, await truth([files.a, files.b, files.c]));
    const first = await icebird('v2.metadata.json');
    assert.equal(first.length, 90);
    assert.deepEqual(first, await truth([files.a, files.b]));
  });

  test('time travel by id and by timestamp; the summary keeps the last offset', () => {
    const bySnap = tool('show', root, TABLE, '--snapshot', String(snaps.s1.snapshot_id));
    assert.deepEqual(bySnap.files.map((f) => f.path).sort(), [files.a.rel, files.b.rel]);
    assert.equal(bySnap.snapshot.summary['sluice.last-offset'], '89');
    const asOf = tool('show', root, TABLE, '--as-of', String(snaps.s2.timestamp_ms - 1));
    if (snaps.s2.timestamp_ms > snaps.s1.timestamp_ms) {
      assert.equal(asOf.snapshot.snapshot_id, snaps.s1.snapshot_id);
    }
    const now = tool('show', root, TABLE, '--as-of', String(snaps.s2.timestamp_ms));
    assert.equal(now.snapshot.snapshot_id, snaps.s2.snapshot_id);
    assert.equal(now.snapshot.summary['sluice.last-offset'], '119');
    assert.match(toolFails('show', root, TABLE, '--as-of', String(snaps.s1.timestamp_ms - 1)),
                 /no snapshot/);
    // The stats read back as DuckDB computed them (what a planner prunes on).
    const c = now.files.find((f) => f.path === files.c.rel);
    assert.equal(c.partition, '2026-11-27-10');
    assert.equal(c.record_count, 30);
    assert.equal(c.lower_bounds.event_time, files.c.entry.lower_bounds.event_time);
    assert.equal(c.upper_bounds.event_time, files.c.entry.upper_bounds.event_time);
    assert.equal(c.lower_bounds.user_id, files.c.entry.lower_bounds.user_id);
    assert.equal(c.lower_bounds.n, files.c.entry.lower_bounds.n);
    // Partition pruning: only the 09:00 file may hold rows of 09:15..09:45.
    assert.deepEqual(tool('prune', root, TABLE, '2026-11-27T09:15:00Z', '2026-11-27T09:45:00Z'),
                     { files: [files.b.rel] });
    assert.deepEqual(
        tool('prune', root, TABLE, '2026-11-27T09:00:00Z', '2026-11-27T10:59:59Z').files.sort(),
        [files.b.rel, files.c.rel].sort());
  });

  test('a column added later: old files read it as missing, new files carry it', async () => {
    const evolved = tool('add-column', root, TABLE, 'country', 'string');
    assert.equal(evolved.schema_id, 1);
    assert.match(toolFails('add-column', root, TABLE, 'country', 'string'), /already has/);
    files.d = await writeFile(HOURS[2], 'd.parquet', 20, 4, { country: true });
    snaps.s3 = tool('commit', root, TABLE, JSON.stringify({
      add: [files.d.entry], summary: { 'sluice.last-offset': '139' },
    }));
    assert.equal(snaps.s3.schema_id, 1);
    const show = tool('show', root, TABLE);
    assert.deepEqual(show.schema.map((f) => [f.id, f.name]),
                     [[1, 'event_time'], [2, 'user_id'], [3, 'amount'], [4, 'n'], [5, 'country']]);
    const current = await icebird(undefined, { country: true });
    assert.equal(current.length, 140);
    assert.deepEqual(current, await truth([files.a, files.b, files.c, files.d], { country: true }));
    assert.ok(current.some((r) => r.country === 'fr'));
    // The version before the new column still reads with the old schema.
    assert.deepEqual(await icebird('v3.metadata.json'), await truth([files.a, files.b, files.c]));
  });

  test('a commit killed before version-hint.text moves is invisible; the retry lands', async () => {
    const before = tool('show', root, TABLE);
    files.e = await writeFile(HOURS[2], 'e.parquet', 10, 5, { country: true });
    const change = JSON.stringify({
      add: [files.e.entry], summary: { 'sluice.last-offset': '149' },
    });
    for (const at of ['after-manifests', 'after-metadata']) {
      const r = spawnSync(TOOL, ['commit', root, TABLE, change], {
        encoding: 'utf8', env: { ...process.env, ICEBERG_TOOL_CRASH_AT: at },
      });
      assert.equal(r.status, 137, `${at}: ${r.stderr}`);
      const after = tool('show', root, TABLE);
      assert.equal(after.version, before.version, at);
      assert.equal(after.snapshot.summary['sluice.last-offset'], '139', at);
      assert.equal((await icebird(undefined, { country: true })).length, 140, at);
    }
    // The killed commit left v<N+1>.metadata.json behind; the retry takes the next number.
    assert.ok(existsSync(path.join(tableDir, 'metadata', `v${before.version + 1}.metadata.json`)));
    snaps.s4 = tool('commit', root, TABLE, change);
    assert.equal(snaps.s4.version, before.version + 2);
    assert.equal(snaps.s4.parent_snapshot_id, snaps.s3.snapshot_id);
    assert.deepEqual(await icebird(undefined, { country: true }),
                     await truth([files.a, files.b, files.c, files.d, files.e], { country: true }));
  });

  test('retention deletes an hour partition; expiry removes what nothing references', async () => {
    snaps.s5 = tool('commit', root, TABLE, JSON.stringify({ delete: [files.a.rel] }));
    assert.equal(snaps.s5.summary.operation, 'delete');
    assert.equal(snaps.s5.summary['deleted-records'], '50');
    assert.equal(snaps.s5.summary['total-records'], '100');
    const afterDelete = await icebird(undefined, { country: true });
    assert.deepEqual(afterDelete,
                     await truth([files.b, files.c, files.d, files.e], { country: true }));
    // Still on disk: older snapshots need it.
    assert.ok(existsSync(files.a.abs));
    assert.equal((await icebird('v2.metadata.json')).length, 90);

    const show = tool('show', root, TABLE);
    const manifestLists = show.snapshots.map((s) => fileURLToPath(s.manifest_list));
    const expired = tool('expire', root, TABLE, String(snaps.s5.timestamp_ms));
    assert.ok(expired.removed_files >= 4, JSON.stringify(expired));
    assert.ok(!existsSync(files.a.abs), 'the deleted partition file is gone');
    for (const f of [files.b, files.c, files.d, files.e]) assert.ok(existsSync(f.abs));
    assert.ok(!existsSync(manifestLists[0]));
    assert.ok(existsSync(manifestLists[manifestLists.length - 1]));
    const kept = tool('show', root, TABLE);
    assert.deepEqual(kept.snapshots.map((s) => s.snapshot_id), [snaps.s5.snapshot_id]);
    assert.match(toolFails('show', root, TABLE, '--snapshot', String(snaps.s1.snapshot_id)),
                 /no snapshot/);
    // The current snapshot reads the same after expiry, through a fresh icebird read.
    assert.deepEqual(await icebird(undefined, { country: true }), afterDelete);
    // An old metadata version now points at removed manifest lists: icebird fails cleanly.
    await assert.rejects(icebird('v2.metadata.json'));
  });
});
