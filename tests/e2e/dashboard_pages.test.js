// The dashboard's pages (web/: #overview, #feed, #picks, #explorer) in Debian's chromium driven
// by playwright-core, against `sluice demo --no-generator` (the demo views, no generated
// events, so every count is exact) with the browser in the Asia/Kolkata time zone. Proves:
// every route loads without console errors; a posted exception appears in the feed; an anomaly
// alert appears highlighted; the overview's KPIs and financial totals and the pick chart's
// legend follow posted events; the explorer lists the views and shows one live with its SQL
// and a filter; kill -9 and a restart on the same port -> the page reconnects and resyncs;
// times are labelled in the browser's zone; no horizontal overflow at 1280×800 and on a
// tablet (820×1180, touch). On a plain `sluice serve` the demo views show "not defined".
// Screenshots: <repo>/test-artifacts/dashboard-<route>-<viewport>.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { freshDataDir, makeEvent, ndjson, postEvents, runSql, startSluice } from './lib/sluice.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const ARTIFACTS = path.join(REPO, 'test-artifacts');
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic',
                       '--disable-background-networking', '--disable-component-update',
                       '--disable-sync', '--no-first-run'];
const ZONE = 'Asia/Kolkata';
const LOCALE = 'en-US';
const ROUTES = ['overview', 'feed', 'picks', 'explorer', 'explorer/recent_exceptions'];
const VIEWPORTS = [
  { name: '1280x800', viewport: { width: 1280, height: 800 } },
  { name: 'tablet-820x1180', viewport: { width: 820, height: 1180 }, hasTouch: true, isMobile: true },
];
const MINUTE_MS = 60_000;
const NOW_MINUTE = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
const tag = Math.random().toString(36).slice(2, 8).toUpperCase();

async function post(url, events) {
  const res = await postEvents(url, 'fulfilment', ndjson(events));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.accepted, events.length, JSON.stringify(res.body));
}

function exception(fields) {
  return makeEvent({ event_type: 'fulfilment.exception', exception_code: 'DAMAGED_ITEM',
                     severity: 'high', ...fields });
}

// Labels as the page must print them: Intl in the browser's zone and locale.
const zoned = (options) => new Intl.DateTimeFormat(LOCALE, { timeZone: ZONE, ...options });
const zonedSeconds = zoned({ hour: '2-digit', minute: '2-digit', second: '2-digit' });
const zonedDateTime = zoned({ month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
const zonedMinute = zoned({ hour: '2-digit', minute: '2-digit' });

// Collects console errors/warnings and page errors, by phase.
function watchConsole(page, problems, phase) {
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push({ phase: phase.now, kind: m.type(), text: m.text() });
  });
  page.on('pageerror', (e) => problems.push({ phase: phase.now, kind: 'pageerror', text: e.message }));
}

async function noHorizontalOverflow(page, what) {
  const m = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    charts: [...document.querySelectorAll('.chart')].filter((c) => c.offsetParent !== null).map((c) => ({
      box: c.getBoundingClientRect().right,
      plot: c.querySelector('.uplot')?.getBoundingClientRect().right ?? 0,
    })),
  }));
  assert.ok(m.scrollWidth <= m.innerWidth, `${what}: page overflows horizontally: ${JSON.stringify(m)}`);
  for (const c of m.charts) assert.ok(c.plot <= c.box + 1, `${what}: chart wider than its box: ${JSON.stringify(m)}`);
}

async function goto(page, base, route) {
  await page.goto(`${base}/#${route}`);
  await page.waitForFunction((r) => window.sluiceDashboard?.route === r &&
      window.sluiceDashboard.connection === 'live', route, { timeout: 10_000 });
}

test('dashboard pages: feed, alerts, charts, explorer, reconnect, time zone, viewports',
     { timeout: 90_000 }, async (t) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const dataDir = freshDataDir();
  const sluice = { server: await startSluice({ dataDir, command: 'demo', args: ['--no-generator'] }) };
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  t.after(async () => {
    await browser.close();
    await sluice.server.stop();
  });
  const context = await browser.newContext({ viewport: VIEWPORTS[0].viewport, timezoneId: ZONE, locale: LOCALE });
  const page = await context.newPage();
  const problems = [];
  const phase = { now: 'normal' };
  watchConsole(page, problems, phase);
  try {
    await exercise(t, browser, page, sluice, dataDir, problems, phase);
  } catch (err) {
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-pages-failure.png'), fullPage: true })
        .catch(() => {});
    throw err;
  }
});

async function exercise(t, browser, page, sluice, dataDir, problems, phase) {
  const url = () => sluice.server.url;
  const port = sluice.server.port;

  // 1. An anomaly alert (a test alert that needs only 2 windows of history) over closed
  // minutes of event time 20 minutes ago: a baseline of 1-3 exceptions, then a spike of 25.
  const alertWh = `ALERT-${tag}`;
  const created = await runSql(url(), `CREATE ALERT e2e_spike ON exceptions_per_minute
      WITH (metric = exceptions, sigmas = 3, alpha = 0.2, warmup = 2, min_delta = 2)`);
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const start = NOW_MINUTE - 20 * MINUTE_MS;
  const minute = (m, n) => Array.from({ length: n }, (_, i) => exception({
    warehouse_id: alertWh, order_id: `ALERT-ORD-${m}-${i}`,
    occurred_at: new Date(start + m * MINUTE_MS + 1000 + i * 500).toISOString() }));
  const baseline = [2, 1, 3, 2, 1, 2];
  for (let m = 0; m < baseline.length; m++) await post(url(), minute(m, baseline[m]));
  await post(url(), minute(6, 25));
  await post(url(), minute(8, 1)); // closes minute 6 at the watermark

  await goto(page, url(), 'feed');
  const alertItem = `#feed-list li[data-kind="alert"][data-event-id^="alert:e2e_spike/${alertWh}/"]`;
  await page.waitForSelector(alertItem, { timeout: 10_000 });
  const alertLook = await page.$eval(alertItem, (li) => ({
    text: li.textContent, background: getComputedStyle(li).backgroundColor,
    border: getComputedStyle(li).borderLeftColor, badge: li.querySelector('.badge')?.textContent,
  }));
  assert.match(alertLook.text, new RegExp(`e2e_spike: ${alertWh}`));
  assert.match(alertLook.text, /25 exceptions in the minute from/);
  assert.equal(alertLook.badge, 'Alert');
  assert.equal(await page.textContent('#feed-alert-count'), '1 alert');
  assert.notEqual(alertLook.background, 'rgba(0, 0, 0, 0)', 'alert item highlighted');
  const plain = await page.$eval('#feed-list li[data-kind="exception"]', (li) => getComputedStyle(li).backgroundColor);
  assert.notEqual(alertLook.background, plain, 'alert looks different from an exception');

  // 2. A posted exception appears in the feed, on top, labelled in the browser's zone.
  const wh = `WH-${tag}`;
  const fresh = exception({ warehouse_id: wh, order_id: `ORD-${tag}-1`, exception_code: 'STOCKOUT',
                            occurred_at: new Date(NOW_MINUTE + 7_000).toISOString() });
  await post(url(), [fresh]);
  const item = `#feed-list li[data-event-id="${fresh.event_id}"]`;
  await page.waitForSelector(item, { timeout: 5000 });
  const shown = await page.$eval(item, (li) => ({
    kind: li.dataset.kind, text: li.textContent, time: li.querySelector('time').textContent,
    datetime: li.querySelector('time').getAttribute('datetime'), first: li.parentElement.firstElementChild === li,
  }));
  assert.equal(shown.kind, 'exception');
  assert.ok(shown.first, 'newest item first');
  assert.match(shown.text, new RegExp(`STOCKOUT · ${wh}`));
  assert.match(shown.text, new RegExp(`order ORD-${tag}-1`));
  const ms = Date.parse(fresh.occurred_at);
  assert.equal(shown.datetime, new Date(ms).toISOString());
  assert.ok([zonedSeconds.format(ms), zonedDateTime.format(ms)].includes(shown.time),
            `feed time ${shown.time} is not ${zonedSeconds.format(ms)} (${ZONE})`);
  const feedCount = await page.$$eval('#feed-list li', (lis) => lis.length);
  const exceptionCount = baseline.reduce((a, b) => a + b, 0) + 25 + 1 + 1;
  assert.equal(feedCount, exceptionCount + 1, 'every exception and the alert');
  assert.equal(await page.textContent('#feed-exception-count'), `${exceptionCount} exceptions`);

  // 3. Overview: exceptions in the latest minute, open exceptions (SQL over order_sessions),
  // financial totals, the chart's legend, minute labels in the browser's zone.
  await post(url(), [
    exception({ warehouse_id: wh, order_id: `ORD-${tag}-2`, occurred_at: new Date(NOW_MINUTE + 9_000).toISOString() }),
    makeEvent({ warehouse_id: wh, event_type: 'payment.captured', amount_minor: 12345, currency: 'EUR',
                occurred_at: new Date(NOW_MINUTE + 10_000).toISOString() }),
    makeEvent({ warehouse_id: wh, event_type: 'refund.issued', amount_minor: 345, currency: 'EUR',
                occurred_at: new Date(NOW_MINUTE + 11_000).toISOString() }),
  ]);
  await goto(page, url(), 'overview');
  await page.waitForFunction(() => document.querySelector('#latest-exceptions').textContent === '2');
  await page.waitForFunction(() => document.querySelector('#finance-table tr[data-currency="EUR"] td[data-field="net"]')
      ?.textContent === '€120.00');
  assert.equal(await page.textContent('#finance-table tr[data-currency="EUR"] td[data-field="captured"]'), '€123.45');
  // Orders with an exception and no delivery: one per exception posted for the alert, and ours.
  const open = String(baseline.reduce((a, b) => a + b, 0) + 25 + 1 + 2);
  await page.waitForFunction((n) => document.querySelector('#open-exceptions').textContent === n, open, { timeout: 8000 });
  const legend = (name) => page.waitForFunction(([n, v]) => [...document.querySelectorAll('#chart .u-legend .u-series')]
      .some((s) => s.textContent.includes(n) && s.querySelector('.u-value')?.textContent === v), [wh, name]);
  await legend('4');
  await post(url(), [makeEvent({ warehouse_id: wh, occurred_at: new Date(NOW_MINUTE + 12_000).toISOString() })]);
  await legend('5');
  const heads = await page.$$eval('#minute-table thead th[data-column-minute]',
                                  (ths) => ths.map((th) => [th.dataset.columnMinute, th.textContent]));
  assert.equal(heads.length, 10);
  for (const [iso, label] of heads) {
    const m = Date.parse(iso);
    assert.ok([zonedMinute.format(m), zonedDateTime.format(m)].includes(label), `${label} for ${iso} in ${ZONE}`);
  }
  t.diagnostic(`minute ${heads[0][0]} labelled ${heads[0][1]} in ${ZONE}`);

  // 4. Picks: a pick of 12 s, then one of 40 s in the same window: the legend follows.
  const pick = (order, startSec, seconds) => [
    makeEvent({ warehouse_id: wh, order_id: order, event_type: 'pick.started',
                occurred_at: new Date(NOW_MINUTE + startSec * 1000).toISOString() }),
    makeEvent({ warehouse_id: wh, order_id: order, event_type: 'pick.completed',
                occurred_at: new Date(NOW_MINUTE + (startSec + seconds) * 1000).toISOString() }),
  ];
  await post(url(), pick(`PICK-${tag}-1`, 13, 12));
  await goto(page, url(), 'picks');
  await page.waitForSelector(`#picks-table tr[data-warehouse="${wh}"]`);
  await page.selectOption('#picks-warehouse', wh);
  const pickLegend = (label) => page.evaluate((l) => [...document.querySelectorAll('#picks-chart .u-legend .u-series')]
      .find((s) => s.querySelector('.u-label')?.textContent === l)?.querySelector('.u-value')?.textContent, label);
  await page.waitForFunction(() => /^1[12]\.\d$/.test([...document.querySelectorAll('#picks-chart .u-legend .u-series')]
      .find((s) => s.querySelector('.u-label')?.textContent === 'p99')?.querySelector('.u-value')?.textContent ?? ''));
  const p99Before = Number(await pickLegend('p99'));
  assert.ok(Math.abs(p99Before - 12) <= 0.2, `p99 ${p99Before}`);
  await post(url(), pick(`PICK-${tag}-2`, 14, 40));
  await page.waitForFunction(() => Number([...document.querySelectorAll('#picks-chart .u-legend .u-series')]
      .find((s) => s.querySelector('.u-label')?.textContent === 'p99')?.querySelector('.u-value')?.textContent) > 39);
  assert.equal(await page.textContent(`#picks-table tr[data-warehouse="${wh}"] td[data-field="picks"]`), '2');

  // 5. Explorer: the list, one view live with its SQL, the filter.
  await goto(page, url(), 'explorer');
  await page.waitForSelector('#explorer-views tr[data-view="recent_exceptions"] a');
  const listed = await page.$$eval('#explorer-views tbody tr', (trs) => trs.map((tr) => tr.dataset.view));
  for (const v of ['events_per_minute', 'recent_exceptions', 'recent_alerts', 'pick_durations', 'financial_totals'])
    assert.ok(listed.includes(v), `${v} listed: ${listed}`);
  await page.click('#explorer-views tr[data-view="recent_exceptions"] a');
  await page.waitForFunction(() => window.sluiceDashboard.route === 'explorer/recent_exceptions' &&
      window.sluiceDashboard.connection === 'live');
  await page.waitForFunction(() => document.querySelector('#explorer-sql').textContent.includes('CREATE MATERIALIZED VIEW recent_exceptions'));
  await page.waitForFunction((id) => [...document.querySelectorAll('#explorer-table td[data-column="event_id"]')]
      .some((td) => td.textContent === id), fresh.event_id);
  await page.fill('#explorer-filter', `warehouse_id = '${wh}' AND exception_code = 'STOCKOUT'`);
  await page.waitForFunction(() => document.querySelectorAll('#explorer-table tbody tr').length === 1);
  assert.equal(await page.textContent('#explorer-table td[data-column="event_id"]'), fresh.event_id);
  assert.match(await page.textContent('#explorer-count'), /^1 of \d+ rows/);
  // Equalities on key columns also go to the server as `where=` (a server without filters
  // ignores it; the page's own filter gives the same row).
  const where = `warehouse_id = '${wh}' AND exception_code = 'STOCKOUT'`;
  await page.waitForFunction((w) => window.sluiceDashboard.views.recent_exceptions?.where === w &&
      window.sluiceDashboard.views.recent_exceptions.state === 'live', where);
  await page.waitForFunction(() => document.querySelectorAll('#explorer-table tbody tr').length === 1 &&
      document.querySelector('#explorer-count').textContent.includes('(filter sent to the server)'));
  assert.equal(await page.textContent('#explorer-table td[data-column="event_id"]'), fresh.event_id);
  // A filter on a column that is not a key stays on the page.
  await page.fill('#explorer-filter', "severity = 'high' AND occurred_at = 'x'");
  await page.waitForFunction(() => window.sluiceDashboard.views.recent_exceptions?.where === null);
  await page.fill('#explorer-filter', 'warehouse_id = WH');
  await page.waitForFunction(() => document.querySelector('#explorer-filter-error').textContent.startsWith('cannot read'));
  await goto(page, url(), 'explorer/no_such_view');
  await page.waitForFunction(() => document.querySelector('#explorer-missing').textContent ===
      'View no_such_view is not defined on this server');

  // 6. kill -9 while on the feed; a new server on the same port and data dir: the page
  // reconnects, resyncs (same items) and shows what is posted next.
  await goto(page, url(), 'feed');
  await page.waitForSelector(item);
  const before = await page.$$eval('#feed-list li', (lis) => lis.map((li) => li.dataset.eventId));
  phase.now = 'outage';
  await sluice.server.kill9();
  await page.waitForSelector('#connection[data-state="reconnecting"]', { timeout: 5000 });
  sluice.server = await startSluice({ dataDir, port, command: 'demo', args: ['--no-generator'] });
  await page.waitForFunction(() => window.sluiceDashboard.connection === 'live' &&
      window.sluiceDashboard.views.recent_exceptions?.resyncs >= 1, null, { timeout: 15_000 });
  phase.now = 'normal';
  const after = await page.$$eval('#feed-list li', (lis) => lis.map((li) => li.dataset.eventId));
  assert.deepEqual(after, before, 'the same feed after the resync');
  const later = exception({ warehouse_id: wh, order_id: `ORD-${tag}-3`, occurred_at: new Date(NOW_MINUTE + 20_000).toISOString() });
  await post(url(), [later]);
  await page.waitForSelector(`#feed-list li[data-event-id="${later.event_id}"]`, { timeout: 5000 });
  for (const p of problems.filter((p) => p.phase === 'outage')) {
    assert.match(p.text, /WebSocket connection to .* failed|ERR_CONNECTION_REFUSED/, `during the outage: ${JSON.stringify(p)}`);
  }

  // 7. Every route at 1280×800 and on a tablet: live, no console errors, no overflow.
  for (const vp of VIEWPORTS) {
    const ctx = vp.name === VIEWPORTS[0].name ? null
        : await browser.newContext({ viewport: vp.viewport, hasTouch: vp.hasTouch, isMobile: vp.isMobile,
                                     timezoneId: ZONE, locale: LOCALE });
    const p = ctx ? await ctx.newPage() : page;
    if (ctx) watchConsole(p, problems, phase);
    for (const route of ROUTES) {
      await goto(p, url(), route);
      if (route === 'overview') await p.waitForSelector('#chart .uplot');
      if (route === 'picks') await p.waitForSelector('#picks-chart .uplot');
      if (route === 'feed') await p.waitForSelector(item);
      if (route.startsWith('explorer/')) await p.waitForSelector('#explorer-table td');
      await noHorizontalOverflow(p, `${route} at ${vp.name}`);
      await p.screenshot({ path: path.join(ARTIFACTS, `dashboard-${route.replace('/', '-')}-${vp.name}.png`), fullPage: true });
    }
    await ctx?.close();
  }

  assert.deepEqual(problems.filter((p) => p.phase === 'normal'), [], 'console errors/warnings');
}

test('dashboard pages on a plain sluice serve: the demo views are "not defined"', { timeout: 30_000 }, async (t) => {
  const sluice = await startSluice();
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  t.after(async () => {
    await browser.close();
    await sluice.stop();
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const problems = [];
  watchConsole(page, problems, { now: 'normal' });
  await goto(page, sluice.url, 'feed');
  await page.waitForFunction(() => document.querySelector('#feed-missing').textContent ===
      'View recent_exceptions is not defined on this server · View recent_alerts is not defined on this server');
  await goto(page, sluice.url, 'picks');
  await page.waitForFunction(() => document.querySelector('#picks-missing').textContent ===
      'View pick_durations is not defined on this server');
  await goto(page, sluice.url, 'overview');
  await page.waitForFunction(() => document.querySelector('#finance-table tbody').textContent ===
      'View financial_totals is not defined on this server');
  await page.waitForFunction(() => document.querySelector('#open-exceptions-basis').textContent === 'order_sessions not defined');
  assert.deepEqual(problems, []);
});
