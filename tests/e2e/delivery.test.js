// Delivery guarantees of the real binary (docs/ingest.md, "Exactly-once ingest"): exactly-once
// events re-posted (a producer retrying), after a kill -9 too, are counted once in the answer's
// `duplicates` and once in the views; at-least-once events are stored again; a stream mixes
// both with exactly_once_when.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';

import {
  freshDataDir, getJson, makeEvent, ndjson, postEvents, runSql, sleep, startSluice,
} from './lib/sluice.js';

const FINANCIAL = ['payment.captured', 'refund.issued', 'carrier.charge'];

// `financial` financial and `operational` operational fulfilment events of warehouse `wh`.
function mixedBatch(wh, financial, operational) {
  const events = [];
  for (let i = 0; i < financial; i++) {
    events.push(makeEvent({
      warehouse_id: wh, event_type: FINANCIAL[i % 3], amount_minor: 100 + i, currency: 'EUR',
      occurred_at: new Date(Date.UTC(2026, 10, 25, 8, 0, i % 60)).toISOString(),
    }));
  }
  for (let i = 0; i < operational; i++) {
    events.push(makeEvent({
      warehouse_id: wh, event_type: 'pick.completed',
      occurred_at: new Date(Date.UTC(2026, 10, 25, 8, 0, i % 60)).toISOString(),
    }));
  }
  return events;
}

// events and amount_minor per event type of warehouse `wh` in events_per_minute.
async function countsOf(url, wh) {
  const doc = (await getJson(`${url}/v1/views/events_per_minute`)).body;
  const byType = {};
  for (const r of doc.rows) {
    if (r.warehouse_id !== wh) continue;
    const t = (byType[r.event_type] ??= { events: 0, amount_minor: 0 });
    t.events += r.events;
    t.amount_minor += r.amount_minor ?? 0;
  }
  return byType;
}

async function waitForCounts(url, wh, expectedEvents) {
  let counts;
  for (let i = 0; i < 200; i++) {
    counts = await countsOf(url, wh);
    const total = Object.values(counts).reduce((s, t) => s + t.events, 0);
    if (total >= expectedEvents) return counts;
    await sleep(50);
  }
  return counts;
}

function totalEvents(counts) {
  return Object.values(counts).reduce((s, t) => s + t.events, 0);
}

test('fulfilment: re-posted financial events are duplicates, before and after kill -9', async () => {
  const dataDir = freshDataDir();
  try {
    let sluice = await startSluice({ dataDir });
    const described = (await runSql(sluice.url, 'DESCRIBE fulfilment')).body.results[0];
    assert.equal(described.options.delivery, 'exactly_once');
    assert.equal(described.options.exactly_once_when,
        "event_type IN ('payment.captured', 'refund.issued', 'carrier.charge')");
    assert.equal(described.options.dedup_horizon, '7 days');

    const wh = `WH-DEDUP-${Date.now()}`;
    const events = mixedBatch(wh, 30, 20);
    const body = ndjson(events);
    let res = await postEvents(sluice.url, 'fulfilment', body);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { accepted: 50, duplicates: 0, rejected: [] });
    const first = await waitForCounts(sluice.url, wh, 50);
    assert.equal(totalEvents(first), 50);

    // The producer retries the whole request: the 30 financial events are duplicates, the 20
    // operational ones are stored again (at-least-once).
    res = await postEvents(sluice.url, 'fulfilment', body);
    assert.deepEqual(res.body, { accepted: 20, duplicates: 30, rejected: [] });
    let counts = await waitForCounts(sluice.url, wh, 70);
    assert.equal(totalEvents(counts), 70);
    for (const t of FINANCIAL) assert.deepEqual(counts[t], first[t], t);
    assert.equal(counts['pick.completed'].events, 40);

    // Metrics count them.
    const metrics = await (await fetch(`${sluice.url}/metrics`)).text();
    assert.match(metrics, /^sluice_events_duplicate_total\{stream="fulfilment"\} 30$/m);

    // kill -9 and re-post: still duplicates, the financial counts still unchanged.
    assert.equal((await sluice.kill9()).signal, 'SIGKILL');
    sluice = await startSluice({ dataDir });
    res = await postEvents(sluice.url, 'fulfilment', body);
    assert.deepEqual(res.body, { accepted: 20, duplicates: 30, rejected: [] });
    // Only the financial half of a retry: nothing new at all.
    res = await postEvents(sluice.url, 'fulfilment', ndjson(events.slice(0, 30)));
    assert.deepEqual(res.body, { accepted: 0, duplicates: 30, rejected: [] });
    counts = await waitForCounts(sluice.url, wh, 90);
    assert.equal(totalEvents(counts), 90);
    for (const t of FINANCIAL) assert.deepEqual(counts[t], first[t], t);
    await sluice.stop({ keepData: true });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('streams created in SQL: exactly_once, at_least_once, and concurrent retries', async () => {
  const sluice = await startSluice();
  try {
    let res = await runSql(sluice.url, `
      CREATE STREAM eo WITH (delivery = 'exactly_once', dedup_horizon = '1 hour');
      CREATE STREAM alo WITH (delivery = 'at_least_once');
      CREATE STREAM mixed WITH (delivery = 'exactly_once',
          exactly_once_when = 'event_type LIKE ''payment.%''');
      CREATE MATERIALIZED VIEW eo_counts AS
        SELECT warehouse_id, count(*) AS events FROM eo GROUP BY warehouse_id;
      SHOW STREAMS`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const shown = res.body.results[4];
    const delivery = Object.fromEntries(shown.rows.map((r) => [r[0], r[shown.columns.indexOf('delivery')]]));
    assert.equal(delivery.eo, 'exactly_once');
    assert.equal(delivery.alo, 'at_least_once');
    assert.equal(delivery.mixed, "exactly_once when event_type LIKE 'payment.%'");
    assert.equal(delivery.fulfilment,
        "exactly_once when event_type IN ('payment.captured', 'refund.issued', 'carrier.charge')");

    // Four producers post the same 200 events at once: each is stored once.
    const events = Array.from({ length: 200 }, () => makeEvent({ warehouse_id: 'WH-EO' }));
    const body = ndjson(events);
    const answers = await Promise.all([1, 2, 3, 4].map(() => postEvents(sluice.url, 'eo', body)));
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200]);
    assert.equal(answers.reduce((s, a) => s + a.body.accepted, 0), 200);
    assert.equal(answers.reduce((s, a) => s + a.body.duplicates, 0), 600);
    let rows;
    for (let i = 0; i < 200; i++) {
      rows = (await getJson(`${sluice.url}/v1/views/eo_counts`)).body.rows;
      if (rows.length && rows[0].events >= 200) break;
      await sleep(50);
    }
    await sleep(200);
    rows = (await getJson(`${sluice.url}/v1/views/eo_counts`)).body.rows;
    assert.deepEqual(rows, [{ warehouse_id: 'WH-EO', events: 200 }]);

    // at_least_once keeps every copy.
    for (let i = 0; i < 2; i++) {
      res = await postEvents(sluice.url, 'alo', body);
      assert.deepEqual(res.body, { accepted: 200, duplicates: 0, rejected: [] });
    }

    // A mixed stream: payments once, the rest every time.
    const mixed = ndjson([
      makeEvent({ event_id: 'm-pay', event_type: 'payment.captured' }),
      makeEvent({ event_id: 'm-pick', event_type: 'pick.completed' }),
    ]);
    res = await postEvents(sluice.url, 'mixed', mixed);
    assert.deepEqual(res.body, { accepted: 2, duplicates: 0, rejected: [] });
    res = await postEvents(sluice.url, 'mixed', mixed);
    assert.deepEqual(res.body, { accepted: 1, duplicates: 1, rejected: [] });
    // Dropped and created again, a stream starts with an empty index too.
    res = await runSql(sluice.url, `DROP STREAM mixed;
      CREATE STREAM mixed WITH (exactly_once_when = event_type LIKE 'payment.%')`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    res = await postEvents(sluice.url, 'mixed', mixed);
    assert.deepEqual(res.body, { accepted: 2, duplicates: 0, rejected: [] });
    res = await postEvents(sluice.url, 'mixed', mixed);
    assert.deepEqual(res.body, { accepted: 1, duplicates: 1, rejected: [] });

    // Bad options are precise SQL errors.
    res = await runSql(sluice.url, "CREATE STREAM bad WITH (exactly_once_when = 'event_type = nope(1)')");
    assert.equal(res.status, 400);
    assert.equal(res.body.error, "line 1, column 59: unknown function 'nope'");
    assert.equal(res.body.line, 1);
    assert.equal(res.body.column, 59);
    res = await runSql(sluice.url, "CREATE STREAM bad WITH (dedup_horizn = '1 day')");
    assert.equal(res.status, 400);
    assert.match(res.body.error, /^line 1, column 25: unknown option 'dedup_horizn' \(did you mean 'dedup_horizon'\?\)/);
  } finally {
    await sluice.stop();
  }
});

test('kill -9 under retrying producers: every financial event is counted exactly once',
    async () => {
      const dataDir = freshDataDir();
      try {
        let sluice = await startSluice({ dataDir });
        const port = sluice.port;
        const wh = `WH-RETRY-${Date.now()}`;
        let stop = false;
        let batches = 0;
        let resent = 0;
        const truth = { events: 0, amount_minor: 0 };
        // Posts until acknowledged, as a producer with retries does; returns the answer.
        const postUntilAcknowledged = async (body) => {
          for (;;) {
            try {
              const res = await postEvents(`http://127.0.0.1:${port}`, 'fulfilment', body);
              if (res.status === 200) return res.body;
            } catch { /* the server is down: retry */ }
            await sleep(20);
          }
        };
        const producer = async (p) => {
          for (let n = 0; !stop; n++) {
            const events = mixedBatch(wh, 20, 0).map((e, i) => ({ ...e, amount_minor: p * 1000 + i + 1 }));
            const body = ndjson(events);
            const first = await postUntilAcknowledged(body);
            assert.equal(first.accepted + first.duplicates, 20);
            truth.events += 20;
            truth.amount_minor += events.reduce((s, e) => s + e.amount_minor, 0);
            batches++;
            // A producer that timed out re-sends a batch that was in fact stored.
            if (n % 3 === 0) {
              const again = await postUntilAcknowledged(body);
              assert.deepEqual(again, { accepted: 0, duplicates: 20, rejected: [] });
              resent++;
            }
          }
        };
        const running = [1, 2, 3].map(producer);
        await sleep(400);
        await sluice.kill9();
        sluice = await startSluice({ dataDir, port });
        await sleep(400);
        stop = true;
        await Promise.all(running);
        assert.ok(batches >= 6 && resent >= 2, `${batches} batches, ${resent} re-sent`);

        const counts = await waitForCounts(sluice.url, wh, truth.events);
        await sleep(300);
        const settled = await countsOf(sluice.url, wh);
        const events = FINANCIAL.reduce((s, t) => s + (settled[t]?.events ?? 0), 0);
        const amount = FINANCIAL.reduce((s, t) => s + (settled[t]?.amount_minor ?? 0), 0);
        assert.ok(counts);
        assert.equal(events, truth.events);
        assert.equal(amount, truth.amount_minor);
        await sluice.stop({ keepData: true });
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
