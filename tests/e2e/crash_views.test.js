// kill -9 in the middle of a view's backfill and in the middle of live processing: after the
// restart the view holds exactly what an uninterrupted run computes (here: the same
// aggregates computed in JavaScript over every acknowledged event). Checkpoints are taken
// every 20 ms so that the crash falls between checkpoints, with some state already committed.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { freshDataDir, getJson, ndjson, postEvents, runSql, sleep, startSluice } from './lib/sluice.js';

const CUSTOMERS = 7;
const MINUTES = 30;

// Deterministic events: customer, total and minute follow from the index.
function makeOrders(from, count, runId) {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    const minute = (i * 7919) % MINUTES;
    return {
      event_id: `${runId}-${i}`,
      placed_at: new Date(Date.UTC(2026, 10, 25, 8, minute, i % 60)).toISOString(),
      customer: `C${i % CUSTOMERS}`,
      total: (i * 31) % 1000,
    };
  });
}

// What the view must hold: per (customer, window_start) the count, sum, min and max of total.
function expectedRows(events) {
  const groups = new Map();
  for (const e of events) {
    const start = new Date(Math.floor(Date.parse(e.placed_at) / 60000) * 60000).toISOString();
    const key = `${e.customer}|${start}`;
    const g = groups.get(key) ?? { orders: 0, revenue: 0, smallest: Infinity, largest: -Infinity };
    g.orders += 1;
    g.revenue += e.total;
    g.smallest = Math.min(g.smallest, e.total);
    g.largest = Math.max(g.largest, e.total);
    groups.set(key, g);
  }
  return [...groups.entries()].map(([k, g]) => `${k}|${g.orders}|${g.revenue}|${g.smallest}|${g.largest}`)
      .sort();
}

function actualRows(rows) {
  return rows.map((r) => {
    const start = new Date(Date.parse(r.window_start)).toISOString();
    return `${r.customer}|${start}|${r.orders}|${r.revenue}|${r.smallest}|${r.largest}`;
  }).sort();
}

const STREAM = `CREATE STREAM orders WITH (event_time = 'placed_at', partitions = 4,
    watermark_delay = '1 hour')`;
const VIEW = `CREATE MATERIALIZED VIEW per_customer AS
  SELECT customer, window_start, count(*) AS orders, sum(total) AS revenue,
         min(total) AS smallest, max(total) AS largest
  FROM TUMBLE(orders, placed_at, INTERVAL '1' MINUTE)
  GROUP BY customer, window_start`;

async function startWithFastCheckpoints(dataDir) {
  const config = path.join(dataDir, 'test.toml');
  writeFileSync(config, '[pipeline]\ncheckpoint_interval = "20ms"\n');
  return startSluice({ dataDir, args: ['--config', config] });
}

async function postAll(url, events, batch = 5000) {
  for (let i = 0; i < events.length; i += batch) {
    const res = await postEvents(url, 'orders', ndjson(events.slice(i, i + batch)));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.accepted, Math.min(batch, events.length - i));
  }
}

async function viewLag(url) {
  const res = await runSql(url, 'SHOW VIEWS');
  const { columns, rows } = res.body.results[0];
  const row = rows.find((r) => r[0] === 'per_customer');
  return row[columns.indexOf('lag')];
}

async function waitForTotal(url, total, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  let body;
  while (Date.now() < deadline) {
    body = (await getJson(`${url}/v1/views/per_customer`)).body;
    if (body.rows && body.rows.reduce((n, r) => n + r.orders, 0) === total &&
        (await viewLag(url)) === 0) {
      return body;
    }
    await sleep(50);
  }
  assert.fail(`per_customer did not reach ${total} orders: ${JSON.stringify(body).slice(0, 400)}`);
}

test('kill -9 in the middle of a backfill: the view ends as an uninterrupted run', async () => {
  const dataDir = freshDataDir();
  try {
    let sluice = await startWithFastCheckpoints(dataDir);
    assert.equal((await runSql(sluice.url, STREAM)).status, 200);
    const events = makeOrders(0, 150000, `bf-${Date.now()}`);
    await postAll(sluice.url, events);

    // The view starts with no checkpoint and backfills 150,000 records; crash while it is
    // part-way (the lag has fallen but is not yet zero).
    assert.equal((await runSql(sluice.url, VIEW)).status, 200);
    let lag = await viewLag(sluice.url);
    for (let i = 0; i < 2000 && lag >= events.length; i++) lag = await viewLag(sluice.url);
    const killedAtLag = lag;
    await sluice.kill9();
    assert.ok(killedAtLag > 0 && killedAtLag < events.length,
              `the crash should fall inside the backfill (lag ${killedAtLag})`);

    sluice = await startWithFastCheckpoints(dataDir);
    const after = await waitForTotal(sluice.url, events.length);
    assert.deepEqual(actualRows(after.rows), expectedRows(events));
    await sluice.stop({ keepData: true });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('kill -9 in the middle of live processing: nothing lost, nothing counted twice', async () => {
  const dataDir = freshDataDir();
  try {
    let sluice = await startWithFastCheckpoints(dataDir);
    assert.equal((await runSql(sluice.url, `${STREAM}; ${VIEW}`)).status, 200);
    const runId = `live-${Date.now()}`;
    const events = makeOrders(0, 120000, runId);
    // Every batch is acknowledged before the next is sent, so no event is in flight at the
    // kill: the pipeline is still working through the last batches (and checkpointing) when
    // it dies.
    await postAll(sluice.url, events, 10000);
    await sluice.kill9();

    sluice = await startWithFastCheckpoints(dataDir);
    await waitForTotal(sluice.url, events.length);
    // And once more, with events arriving after the recovery.
    const more = makeOrders(events.length, 20000, runId);
    await postAll(sluice.url, more);
    await sluice.kill9();
    sluice = await startWithFastCheckpoints(dataDir);
    const all = events.concat(more);
    const after = await waitForTotal(sluice.url, all.length);
    assert.deepEqual(actualRows(after.rows), expectedRows(all));
    await sluice.stop({ keepData: true });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
