// Streams and materialized views defined in SQL, end to end: POST /v1/sql (and `sluice sql`)
// creates them, events posted over HTTP show up as WebSocket deltas (clients we did not write:
// Node's fetch and the `ws` package), definitions and views survive kill -9, and errors point
// at a line and column.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  SLUICE_BIN, ViewSubscription, freshDataDir, getJson, ndjson, postEvents, runSql, sleep,
  startSluice,
} from './lib/sluice.js';

let counter = 0;
function order(fields) {
  counter += 1;
  return { event_id: `o-${process.pid}-${counter}`, placed_at: '2026-11-25T08:00:00Z', ...fields };
}

async function waitForRows(url, view, predicate, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  let body;
  while (Date.now() < deadline) {
    body = (await getJson(`${url}/v1/views/${view}`)).body;
    if (predicate(body.rows)) return body;
    await sleep(25);
  }
  assert.fail(`view ${view} did not reach the expected rows: ${JSON.stringify(body)}`);
}

const CREATE_ORDERS = `
CREATE STREAM orders (total BIGINT) WITH (event_time = 'placed_at', watermark_delay = '2 seconds');
CREATE MATERIALIZED VIEW revenue_per_minute AS
  SELECT customer, window_start, count(*) AS orders, sum(total) AS revenue,
         max(total) AS largest
  FROM TUMBLE(orders, placed_at, INTERVAL '1' MINUTE)
  GROUP BY customer, window_start`;

describe('SQL views over HTTP', () => {
  let sluice;
  before(async () => { sluice = await startSluice(); });
  after(async () => { await sluice.stop(); });

  test('CREATE STREAM and a view, events in, WebSocket deltas out', async () => {
    const created = await runSql(sluice.url, CREATE_ORDERS);
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.deepEqual(created.body.results.map((r) => [r.statement, r.name, r.created]), [
      ['CREATE STREAM', 'orders', true], ['CREATE MATERIALIZED VIEW', 'revenue_per_minute', true]]);
    assert.deepEqual(created.body.results[1].columns,
        ['customer', 'window_start', 'orders', 'revenue', 'largest']);
    assert.deepEqual(created.body.results[1].key, ['customer', 'window_start']);

    const sub = new ViewSubscription(sluice.url, 'revenue_per_minute');
    const snapshot = await sub.opened;
    assert.deepEqual(snapshot.rows, []);
    const res = await postEvents(sluice.url, 'orders', ndjson([
      order({ customer: 'ACME', total: 100, placed_at: '2026-11-25T08:00:10Z' }),
      order({ customer: 'ACME', total: 250, placed_at: '2026-11-25T08:00:50Z' }),
      order({ customer: 'Initech', total: 40, placed_at: '2026-11-25T08:01:05Z' }),
    ]));
    assert.equal(res.body.accepted, 3);
    const acme = () => sub.find((r) => r.customer === 'ACME');
    await sub.waitFor(() => acme()?.orders === 2 && sub.rows.size === 2);
    assert.deepEqual(acme(), { customer: 'ACME', window_start: '2026-11-25T08:00:00Z', orders: 2,
                               revenue: 350, largest: 250 });
    // Out of order, and late (behind the 2 s watermark): still counted in its window. (The
    // first batch may have had a late event too, depending on the order partitions were read.)
    // The watermark first waits for partitions without events to be idle for a second.
    for (let i = 0; ; i++) {
      const text = await (await fetch(`${sluice.url}/metrics`)).text();
      const m = text.match(/sluice_watermark_micros\{pipeline="revenue_per_minute"\} (-?\d+)/);
      if (m && BigInt(m[1]) >= BigInt(Date.parse('2026-11-25T08:01:03Z')) * 1000n) break;
      assert.ok(i < 100, `the watermark did not reach 08:01:03: ${m?.[1]}`);
      await sleep(50);
    }
    await postEvents(sluice.url, 'orders',
        ndjson([order({ customer: 'ACME', total: 7, placed_at: '2026-11-25T08:00:01Z' })]));
    await sub.waitFor(() => acme().orders === 3);
    assert.equal(acme().revenue, 357);
    assert.equal(sub.gaps, 0);
    const metrics = await (await fetch(`${sluice.url}/metrics`)).text();
    assert.match(metrics, /sluice_late_events_total\{pipeline="revenue_per_minute"\} [123]\n/);
    await sub.close();
  });

  test('a view created after the events backfills from the log, and HAVING deletes rows',
      async () => {
        await runSql(sluice.url, 'CREATE STREAM pings');
        await postEvents(sluice.url, 'pings', ndjson([1, 2, 3].map((i) => ({
          event_id: `p-${i}`, occurred_at: '2026-11-25T09:00:00Z', host: 'a' }))));
        const created = await runSql(sluice.url, `CREATE MATERIALIZED VIEW quiet_hosts AS
            SELECT host, count(*) AS pings FROM pings GROUP BY host HAVING count(*) < 5`);
        assert.equal(created.status, 200, JSON.stringify(created.body));
        assert.match(created.body.results[0].message, /backfilling from 3 retained events/);
        await waitForRows(sluice.url, 'quiet_hosts', (rows) => rows[0]?.pings === 3);

        const sub = new ViewSubscription(sluice.url, 'quiet_hosts');
        await sub.opened;
        const ping = (i) => postEvents(sluice.url, 'pings', ndjson([{
          event_id: `p-${i}`, occurred_at: '2026-11-25T09:00:00Z', host: 'a' }]));
        await ping(4);
        await sub.waitFor(() => sub.find((r) => r.host === 'a')?.pings === 4);
        await ping(5);
        await sub.waitFor(() => sub.rows.size === 0);
        const last = sub.messages.at(-1);
        assert.deepEqual(last.rows, []);
        assert.deepEqual(last.deleted, [{ host: 'a', pings: 4 }]);
        await sub.close();
      });

  test('SHOW, DESCRIBE and JSON bodies', async () => {
    const shown = await runSql(sluice.url, 'SHOW STREAMS; SHOW VIEWS', { asJson: true });
    assert.equal(shown.status, 200);
    const [streams, views] = shown.body.results;
    assert.deepEqual(streams.rows.map((r) => r[0]), ['fulfilment', 'orders', 'pings']);
    const orders = streams.rows.find((r) => r[0] === 'orders');
    assert.equal(orders[streams.columns.indexOf('views')], 'revenue_per_minute');
    assert.deepEqual(views.rows.map((r) => r[0]),
        ['events_per_minute', 'events_per_minute_1d', 'events_per_minute_1h', 'quiet_hosts',
         'revenue_per_minute']);
    const described = (await runSql(sluice.url, 'describe revenue_per_minute')).body.results[0];
    assert.equal(described.kind, 'materialized view');
    assert.deepEqual(described.rows[3], ['revenue', 'BIGINT', false]);  // total is declared BIGINT
    assert.match(described.sql, /^CREATE MATERIALIZED VIEW revenue_per_minute AS SELECT customer/);
    const stream = (await runSql(sluice.url, 'DESCRIBE orders')).body.results[0];
    assert.equal(stream.options.event_time, 'placed_at');
    assert.equal(stream.options.watermark_delay, '2 seconds');
    assert.deepEqual(stream.rows, [['total', 'BIGINT']]);
    const listed = (await getJson(`${sluice.url}/v1/views`)).body.views.map((v) => v.name);
    assert.ok(listed.includes('revenue_per_minute'));
  });

  test('errors carry line and column; nothing after the failing statement runs', async () => {
    let res = await runSql(sluice.url,
        'SHOW VIEWS;\nCREATE MATERIALIZED VIEW bad AS\n  SELECT customer, count(*)\n  FROM orderz');
    assert.equal(res.status, 400);
    assert.equal(res.body.error, "line 4, column 8: unknown stream 'orderz' (did you mean 'orders'?)");
    assert.equal(res.body.line, 4);
    assert.equal(res.body.column, 8);
    assert.equal(res.body.statement, 1);
    assert.equal(res.body.results.length, 1);
    res = await runSql(sluice.url, 'CREATE MATERIALIZED VIEW bad AS SELECT customer, ' +
                                   'count(*) FROM orders; SHOW VIEWS');
    assert.equal(res.body.error,
        "line 1, column 40: column 'customer' must appear in GROUP BY or be used in an aggregate");
    res = await runSql(sluice.url, 'CREATE STREAM orders');
    assert.equal(res.status, 409);
    res = await runSql(sluice.url, 'SELEC 1');
    assert.equal(res.status, 400);
    assert.equal(res.body.line, 1);
    res = await fetch(`${sluice.url}/v1/sql`, { method: 'POST',
                                                headers: { 'content-type': 'image/png' }, body: 'x' });
    assert.equal(res.status, 415);
    res = await fetch(`${sluice.url}/v1/sql`);
    assert.equal(res.status, 405);
  });

  test('DROP: refused while views read a stream; a dropped view closes its subscribers',
      async () => {
        let res = await runSql(sluice.url, 'DROP STREAM orders');
        assert.equal(res.status, 409);
        assert.equal(res.body.error, "line 1, column 13: cannot drop stream 'orders': " +
                                     'materialized view revenue_per_minute reads it; drop it first');
        const sub = new ViewSubscription(sluice.url, 'revenue_per_minute');
        await sub.opened;
        res = await runSql(sluice.url, 'DROP MATERIALIZED VIEW revenue_per_minute; DROP STREAM orders');
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const closed = await sub.closed;
        assert.equal(closed.code, 1000);
        assert.equal(sub.messages.at(-1).type, 'dropped');
        assert.equal((await fetch(`${sluice.url}/v1/views/revenue_per_minute`)).status, 404);
        const posted = await postEvents(sluice.url, 'orders', ndjson([order({ total: 1 })]));
        assert.equal(posted.status, 404);
        // Created again under the same name: a fresh, empty stream.
        res = await runSql(sluice.url, CREATE_ORDERS);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const shown = (await runSql(sluice.url, 'SHOW STREAMS')).body.results[0];
        const orders = shown.rows.find((r) => r[0] === 'orders');
        assert.equal(orders[shown.columns.indexOf('events')], 0);
      });
});

test('definitions and views survive kill -9; versions keep growing', async () => {
  const dataDir = freshDataDir();
  try {
    let sluice = await startSluice({ dataDir });
    assert.equal((await runSql(sluice.url, CREATE_ORDERS)).status, 200);
    for (let round = 0; round < 4; round++) {
      const events = Array.from({ length: 25 }, (_, i) => order({
        customer: `C${i % 3}`, total: round * 100 + i,
        placed_at: new Date(Date.UTC(2026, 10, 25, 8, round, i)).toISOString() }));
      assert.equal((await postEvents(sluice.url, 'orders', ndjson(events))).body.accepted, 25);
      await sleep(round === 1 ? 1200 : 30);  // one checkpoint in the middle
    }
    const before = await waitForRows(sluice.url, 'revenue_per_minute',
        (rows) => rows.reduce((n, r) => n + r.orders, 0) === 100);
    await sluice.kill9();

    sluice = await startSluice({ dataDir });
    const after = await waitForRows(sluice.url, 'revenue_per_minute',
        (rows) => rows.reduce((n, r) => n + r.orders, 0) === 100);
    assert.deepEqual(after.rows, before.rows);
    assert.ok(after.version >= before.version);
    const views = (await runSql(sluice.url, 'SHOW VIEWS')).body.results[0].rows.map((r) => r[0]);
    assert.deepEqual(views, ['events_per_minute', 'events_per_minute_1d', 'events_per_minute_1h',
                             'revenue_per_minute']);
    // And it keeps counting on top of the recovered state, with a higher version.
    await postEvents(sluice.url, 'orders', ndjson([order({ customer: 'C0', total: 1,
                                                             placed_at: '2026-11-25T08:00:30Z' })]));
    const more = await waitForRows(sluice.url, 'revenue_per_minute',
        (rows) => rows.reduce((n, r) => n + r.orders, 0) === 101);
    assert.ok(more.version > before.version);
    await sluice.stop({ keepData: true });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('sluice sql prints tables, reads files and stdin, and fails with the position', async () => {
  const sluice = await startSluice();
  try {
    const run = (args, input) => spawnSync(SLUICE_BIN, ['sql', '--url', sluice.url, ...args],
                                           { input, encoding: 'utf8' });
    let out = run(['SHOW VIEWS']);
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /^ name +\| stream +\| window/m);
    assert.match(out.stdout, /events_per_minute +\| fulfilment \| TUMBLE 1 minute/);
    assert.match(out.stdout, /\(3 rows\)/);

    const file = path.join(sluice.dataDir, 'views.sql');
    writeFileSync(file, "CREATE STREAM s WITH (event_time = 'at');\n" +
                        'CREATE MATERIALIZED VIEW n AS SELECT count(*) AS n FROM s;\n');
    out = run(['-f', file]);
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /created stream s/);
    assert.match(out.stdout, /created materialized view n/);

    out = run(['--json'], 'DESCRIBE n');
    assert.equal(out.status, 0, out.stderr);
    assert.equal(JSON.parse(out.stdout).results[0].kind, 'materialized view');

    out = run([], 'SHOW STREAMS;\nCREATE MATERIALIZED VIEW m AS\n  SELECT nope, count(*) FROM s');
    assert.equal(out.status, 1);
    assert.match(out.stdout, /fulfilment/);  // the statement before the error ran
    assert.equal(out.stderr,
        "error: line 3, column 10: column 'nope' must appear in GROUP BY or be used in an aggregate\n" +
        '    SELECT nope, count(*) FROM s\n' +
        '           ^\n');
    const unreachable = spawnSync(SLUICE_BIN, ['sql', '--url', 'http://127.0.0.1:1', 'SHOW VIEWS'],
                                  { encoding: 'utf8' });
    assert.equal(unreachable.status, 2);
  } finally {
    await sluice.stop();
  }
});
