// The operator's surface of the real binary: CLI help, the generator, health, readiness,
// Prometheus metrics, a torn log tail repaired at start, and the embedded dashboard files.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';

import {
  SLUICE_BIN, eventsFor, freshDataDir, getJson, makeEvent, ndjson, postEvents, sleep, startSluice,
} from './lib/sluice.js';

const run = promisify(execFile);

test('every subcommand has --help', async () => {
  const top = await run(SLUICE_BIN, ['--help']);
  for (const sub of ['serve', 'demo', 'gen', 'bench']) {
    assert.match(top.stdout, new RegExp(`\\b${sub}\\b`));
    const { stdout } = await run(SLUICE_BIN, [sub, '--help']);
    assert.match(stdout, /Usage:/);
  }
  const serve = await run(SLUICE_BIN, ['serve', '--help']);
  assert.match(serve.stdout, /--data-dir/);
  assert.match(serve.stdout, /--http-port/);
  assert.match(serve.stdout, /--config/);
  // A bad flag is an error, not a crash.
  await assert.rejects(run(SLUICE_BIN, ['serve', '--http-port', 'seventy']), (e) => e.code !== 0);
});

test('sluice gen writes realistic fulfilment events of 0.8-3.2 KB', async () => {
  const { stdout } = await run(SLUICE_BIN, ['gen', '--count', '400', '--seed', '3', '--rate', 'max'],
      { maxBuffer: 64 << 20 });
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 400);
  const types = new Set();
  const warehouses = new Set();
  const orders = new Map();
  for (const line of lines) {
    assert.ok(line.length >= 800 && line.length <= 3200, `event of ${line.length} bytes`);
    const e = JSON.parse(line);
    assert.equal(typeof e.event_id, 'string');
    assert.ok(!Number.isNaN(Date.parse(e.occurred_at)));
    types.add(e.event_type);
    warehouses.add(e.warehouse_id);
    orders.set(e.order_id, (orders.get(e.order_id) ?? 0) + 1);
    if (['payment.captured', 'refund.issued', 'carrier.charge'].includes(e.event_type)) {
      assert.ok(Number.isInteger(e.amount_minor), line);
      assert.match(e.currency, /^[A-Z]{3}$/);
    }
  }
  for (const t of ['order.received', 'pick.started', 'pick.completed', 'shipment.dispatched']) {
    assert.ok(types.has(t), `no ${t} in ${[...types]}`);
  }
  assert.ok(warehouses.size >= 6 && warehouses.size <= 12, `${warehouses.size} warehouses`);
  assert.ok([...orders.values()].some((n) => n > 1), 'order ids should recur');
});

test('healthz, readyz and Prometheus metrics', async () => {
  const sluice = await startSluice();
  try {
    assert.deepEqual((await getJson(`${sluice.url}/healthz`)).body, { status: 'ok' });
    assert.deepEqual((await getJson(`${sluice.url}/readyz`)).body, { status: 'ready' });
    await postEvents(sluice.url, 'fulfilment', ndjson([makeEvent(), makeEvent()]));
    await postEvents(sluice.url, 'fulfilment', '{"nope":1}\n');
    await sleep(200);
    const res = await fetch(`${sluice.url}/metrics`);
    assert.match(res.headers.get('content-type'), /^text\/plain/);
    const text = await res.text();
    const value = (re) => Number(text.match(re)?.[1]);
    assert.equal(value(/^sluice_events_accepted_total\{stream="fulfilment"\} (\d+)$/m), 2);
    assert.equal(value(/^sluice_events_rejected_total\{stream="fulfilment"\} (\d+)$/m), 1);
    assert.ok(value(/^sluice_log_bytes\{stream="fulfilment"\} (\d+)$/m) >= 0);
    assert.match(text, /# TYPE sluice_e2e_latency_seconds histogram/);
    assert.match(text, /^sluice_e2e_latency_seconds_bucket\{le="\+Inf"\} [1-9]\d*$/m);
    assert.match(text, /^sluice_e2e_latency_seconds_count [1-9]\d*$/m);
  } finally {
    await sluice.stop();
  }
});

test('the dashboard and its assets are served from the binary', async () => {
  const sluice = await startSluice();
  try {
    const page = await fetch(`${sluice.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /text\/html/);
    assert.match(await page.text(), /<html/i);
    const uplot = await fetch(`${sluice.url}/assets/uPlot.iife.min.js`);
    assert.equal(uplot.status, 200);
    assert.match(uplot.headers.get('content-type'), /javascript/);
    assert.equal((await fetch(`${sluice.url}/assets/nope.js`)).status, 404);
  } finally {
    await sluice.stop();
  }
});

test('a torn tail in the log is truncated at start, reported, and the rest is served',
    async () => {
      const dataDir = freshDataDir();
      try {
        let sluice = await startSluice({ dataDir });
        const wh = `WH-TORN-${Date.now()}`;
        const res = await postEvents(sluice.url, 'fulfilment',
            ndjson(Array.from({ length: 30 }, () => makeEvent({ warehouse_id: wh }))));
        assert.equal(res.body.accepted, 30);
        await sluice.kill9();
        // Simulate a write torn by a power cut: half a record header at the end of a segment.
        const logDir = path.join(dataDir, 'streams', 'fulfilment');
        const partition = readdirSync(logDir).find((p) => p.startsWith('p') &&
            readdirSync(path.join(logDir, p)).some((f) => f.endsWith('.log') &&
                statSync(path.join(logDir, p, f)).size > 0));
        const segment = readdirSync(path.join(logDir, partition)).filter((f) => f.endsWith('.log'))
            .sort().at(-1);
        appendFileSync(path.join(logDir, partition, segment), Buffer.from([200, 1, 0, 0, 9, 9, 9]));

        sluice = await startSluice({ dataDir });
        assert.match(sluice.output(), /torn|truncat/i);
        let rows;
        for (let i = 0; i < 100; i++) {
          rows = (await getJson(`${sluice.url}/v1/views/events_per_minute`)).body.rows;
          if (eventsFor(rows, wh) >= 30) break;
          await sleep(50);
        }
        assert.equal(eventsFor(rows, wh), 30);
        const more = await postEvents(sluice.url, 'fulfilment', ndjson([makeEvent({ warehouse_id: wh })]));
        assert.equal(more.body.accepted, 1);
        await sluice.stop({ keepData: true });
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
