// The live dashboard (`GET /`, web/ embedded in the binary) in a real browser: Debian's
// chromium driven by playwright-core, against `sluice serve` (no generator, so every count is
// exact). Proves that the page goes live without console errors, shows posted events in the
// right warehouse/minute cell, updates the chart, coalesces renders to animation frames,
// reconnects and resyncs on its own after the server is SIGKILLed and restarted on the same
// port, and lays out at 1280×800 and 800×1100 without horizontal page overflow.
// Screenshots go to <repo>/test-artifacts/dashboard-*.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { freshDataDir, makeEvent, ndjson, postEvents, startSluice } from './lib/sluice.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const ARTIFACTS = path.join(REPO, 'test-artifacts');
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic',
                       '--disable-background-networking', '--disable-component-update',
                       '--disable-sync', '--no-first-run'];

const MINUTE_MS = 60_000;
// A fixed event-time minute (the newest one in this fresh view): the page's "latest minute"
// is the view's newest window_start, never the browser's clock.
const MINUTE = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
const minuteLabel = (ms) => new Date(ms).toISOString().slice(0, 19) + 'Z';
const at = (ms, seconds) => new Date(ms + seconds * 1000).toISOString();

async function post(url, events) {
  const res = await postEvents(url, 'fulfilment', ndjson(events));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.accepted, events.length, JSON.stringify(res.body));
}

function events(n, fields) {
  return Array.from({ length: n }, (_, i) => makeEvent({ ...fields, order_id: `ORD-${i}` }));
}

// Resolves once the cell for (warehouse, minute) shows `count`.
async function waitForCell(page, warehouse, minute, count, timeout = 5000) {
  await page.waitForFunction(([wh, m, n]) => {
    const row = document.querySelector(`#minute-table tbody tr[data-warehouse="${CSS.escape(wh)}"]`);
    return row?.querySelector(`td[data-minute="${m}"]`)?.textContent === String(n);
  }, [warehouse, minute, count], { timeout });
}

async function cellText(page, warehouse, minute, selector) {
  return page.evaluate(([wh, m, sel]) => {
    const row = document.querySelector(`#minute-table tbody tr[data-warehouse="${CSS.escape(wh)}"]`);
    return row?.querySelector(sel ?? `td[data-minute="${m}"]`)?.textContent ?? null;
  }, [warehouse, minute, selector]);
}

const dashboard = (page) => page.evaluate(() => ({ ...window.sluiceDashboard }));

async function noHorizontalOverflow(page) {
  const m = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    chartRight: document.querySelector('#chart .uplot')?.getBoundingClientRect().right,
    boxRight: document.querySelector('#chart').getBoundingClientRect().right,
  }));
  assert.ok(m.scrollWidth <= m.innerWidth, `page overflows horizontally: ${JSON.stringify(m)}`);
  assert.ok(m.chartRight <= m.boxRight + 1, `chart wider than its box: ${JSON.stringify(m)}`);
}

test('dashboard: live counts, chart, reconnect after kill -9, responsive layout',
     { timeout: 60_000 }, async (t) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const dataDir = freshDataDir();
  // The running server; replaced after the kill -9 below.
  const sluice = { server: await startSluice({ dataDir }) };
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  t.after(async () => {
    await browser.close();
    await sluice.server.stop(); // also removes dataDir
  });

  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  try {
    await exercise(t, page, sluice, dataDir);
  } catch (err) {
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-failure.png'), fullPage: true })
        .catch(() => {});
    throw err;
  }
});

async function exercise(t, page, sluice, dataDir) {
  const port = sluice.server.port;
  // Everything the browser reports. During the outage below Chromium itself logs each refused
  // WebSocket connection as a console error; that phase is judged separately.
  let phase = 'normal';
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push({ phase, kind: m.type(), text: m.text() });
  });
  page.on('pageerror', (e) => problems.push({ phase, kind: 'pageerror', text: e.message }));
  const foreign = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.hostname !== '127.0.0.1' || Number(u.port) !== port) foreign.push(r.url());
  });
  const normalProblems = () => problems.filter((p) => p.phase === 'normal');

  // 1. Loads and goes live on an empty view.
  await page.goto(`${sluice.server.url}/`);
  await page.waitForSelector('#connection[data-state="live"]', { timeout: 10_000 });
  await page.waitForFunction(() => document.querySelector('#view-version').textContent === '0');
  assert.equal(await page.textContent('h1'), 'Sluice — fulfilment operations');
  await page.waitForFunction(() => document.querySelector('#view-sql').textContent.includes('TUMBLE'));

  // 2. Events for a fresh warehouse at a fixed minute land in that row/minute cell, exactly.
  const wh = `E2E-${Math.random().toString(36).slice(2, 8)}`;
  const other = `E2E-${Math.random().toString(36).slice(2, 8)}-B`;
  const third = `E2E-${Math.random().toString(36).slice(2, 8)}-C`;
  const m0 = minuteLabel(MINUTE);
  const m1 = minuteLabel(MINUTE - MINUTE_MS);
  const rendersBefore = (await dashboard(page)).renders;
  await post(sluice.server.url, [
    ...events(2, { warehouse_id: wh, event_type: 'pick.completed', occurred_at: at(MINUTE, 5) }),
    ...events(1, { warehouse_id: wh, event_type: 'order.received', occurred_at: at(MINUTE, 42) }),
    // The full minute before: 120 events -> 2.00 events/s; and a third warehouse.
    ...events(120, { warehouse_id: other, event_type: 'order.received', occurred_at: at(MINUTE - MINUTE_MS, 30) }),
    ...events(1, { warehouse_id: third, event_type: 'pick.completed', occurred_at: at(MINUTE, 1) }),
  ]);
  await waitForCell(page, wh, m0, 3);
  await waitForCell(page, other, m1, 120);
  await waitForCell(page, third, m0, 1);
  assert.equal(await cellText(page, wh, m1), '0');
  assert.equal(await cellText(page, wh, m0, 'td.total'), '3');
  assert.equal(await cellText(page, other, m0, 'td.total'), '120');
  // Newest minute first, ten minutes.
  const minutes = await page.$$eval(`#minute-table tr[data-warehouse="${wh}"] td[data-minute]`,
                                    (tds) => tds.map((td) => td.dataset.minute));
  assert.equal(minutes.length, 10);
  assert.deepEqual(minutes.slice(0, 2), [m0, m1]);
  await page.waitForFunction(() => document.querySelector('#latest-events').textContent === '4');
  assert.equal(await page.textContent('#events-per-second'), '2.00');
  assert.equal(await page.textContent('#type-table tr[data-event-type="pick.completed"] td.num'), '3');

  // 3. The chart re-rendered with a series for the new warehouse.
  const afterFirst = await dashboard(page);
  assert.ok(afterFirst.renders > rendersBefore, `renders ${rendersBefore} -> ${afterFirst.renders}`);
  assert.ok(await page.$('#chart canvas'), 'chart canvas exists');
  await page.waitForFunction((name) => [...document.querySelectorAll('#chart .u-legend .u-series')]
      .some((s) => s.textContent.includes(name) && s.querySelector('.u-value')?.textContent === '3'), wh);

  // A second post updates the cell; the version increases and matches the server's.
  const v1 = Number(await page.textContent('#view-version'));
  assert.ok(v1 > 0);
  await post(sluice.server.url, events(2, { warehouse_id: wh, event_type: 'pick.completed', occurred_at: at(MINUTE, 50) }));
  await waitForCell(page, wh, m0, 5);
  const serverVersion = (await (await fetch(`${sluice.server.url}/v1/views/events_per_minute`)).json()).version;
  await page.waitForFunction((v) => window.sluiceDashboard.version === v &&
      document.querySelector('#view-version').textContent === String(v), serverVersion);
  assert.ok(serverVersion > v1, `version ${v1} -> ${serverVersion}`);
  await page.waitForFunction((name) => [...document.querySelectorAll('#chart .u-legend .u-series')]
      .some((s) => s.textContent.includes(name) && s.querySelector('.u-value')?.textContent === '5'), wh);
  assert.equal((await dashboard(page)).rowCount, 4);

  // Renders are coalesced to animation frames: a burst of single-event posts (many deltas)
  // never renders more often than frames go by.
  await page.evaluate(() => {
    window.__frames = 0;
    const tick = () => { window.__frames += 1; window.__raf = requestAnimationFrame(tick); };
    window.__raf = requestAnimationFrame(tick);
  });
  const burstStart = await dashboard(page);
  await Promise.all(Array.from({ length: 30 }, () =>
      post(sluice.server.url, events(1, { warehouse_id: wh, event_type: 'pack.completed', occurred_at: at(MINUTE, 55) }))));
  await waitForCell(page, wh, m0, 35);
  const burstEnd = await dashboard(page);
  const frames = await page.evaluate(() => { cancelAnimationFrame(window.__raf); return window.__frames; });
  const renders = burstEnd.renders - burstStart.renders;
  assert.ok(renders >= 1 && renders <= frames + 1,
            `${renders} renders for ${burstEnd.version - burstStart.version} deltas over ${frames} frames`);
  t.diagnostic(`burst: ${renders} renders for ${burstEnd.version - burstStart.version} deltas over ${frames} frames`);
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-1280x800.png') });
  await noHorizontalOverflow(page);

  // 4. SIGKILL the server: the page notices and keeps retrying; a new server on the same port
  // and data dir brings it back to live with the same counts, then new posts show up.
  phase = 'outage';
  await sluice.server.kill9();
  await page.waitForSelector('#connection[data-state="reconnecting"]', { timeout: 5000 });
  // Stay down until the page has had at least one attempt refused, so the retry loop (not
  // just the first reconnect) is what brings it back.
  await page.waitForEvent('console', {
    predicate: (m) => /WebSocket connection to .* failed/.test(m.text()), timeout: 5000 });
  sluice.server = await startSluice({ dataDir, port });
  await page.waitForSelector('#connection[data-state="live"]', { timeout: 15_000 });
  phase = 'normal';
  await waitForCell(page, wh, m0, 35);
  await waitForCell(page, other, m1, 120);
  await waitForCell(page, third, m0, 1);
  await post(sluice.server.url, events(4, { warehouse_id: wh, event_type: 'pick.completed', occurred_at: at(MINUTE, 58) }));
  await waitForCell(page, wh, m0, 39);
  const after = await dashboard(page);
  const afterServer = (await (await fetch(`${sluice.server.url}/v1/views/events_per_minute`)).json()).version;
  await page.waitForFunction((v) => window.sluiceDashboard.version === v, afterServer);
  assert.equal(after.connection, 'live');
  // Only Chromium's own reports of the refused connections may appear while the server is down.
  const outage = problems.filter((p) => p.phase === 'outage');
  for (const p of outage) {
    assert.match(p.text, /WebSocket connection to .* failed|ERR_CONNECTION_REFUSED/,
                 `unexpected message during the outage: ${JSON.stringify(p)}`);
  }

  t.diagnostic(`after restart: version ${afterServer}; ${outage.length} browser message(s) during the outage` +
               (outage.length ? `, e.g. ${outage[0].text}` : ''));

  // 5. Tablet-sized viewport: the layout reflows, the chart follows its box, no page overflow.
  const rendersBeforeResize = (await dashboard(page)).renders;
  await page.setViewportSize({ width: 800, height: 1100 });
  await page.waitForFunction((r) => window.sluiceDashboard.renders > r, rendersBeforeResize);
  await page.waitForFunction(() => {
    const chart = document.querySelector('#chart .uplot');
    return chart && chart.getBoundingClientRect().right <= document.querySelector('#chart').getBoundingClientRect().right + 1;
  });
  await noHorizontalOverflow(page);
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-800x1100.png'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.waitForFunction(() => window.sluiceDashboard.renders > 0 &&
      document.querySelector('#chart .uplot').getBoundingClientRect().width > 700);
  await noHorizontalOverflow(page);
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-1280x800-full.png'), fullPage: true });

  assert.deepEqual(normalProblems(), [], 'console errors/warnings in normal operation');
  assert.deepEqual(foreign, [], 'requests outside the sluice server');
}
