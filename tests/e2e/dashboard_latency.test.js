// Event posted -> visible in the browser's DOM (issue 7's first bar), measured in Debian's
// chromium driven by playwright-core on the dashboard's feed (#feed), against
// `sluice demo --no-generator` (a fresh server per rate):
// * node stamps Date.now() just before each POST of a probe, a fulfilment.exception with a
//   unique event_id;
// * a MutationObserver in the page stamps performance.timeOrigin + performance.now() when the
//   feed's <li data-event-id> for that probe is added (the clocks are compared once, and the
//   page's offset is taken off);
// * 120 events/s: every event a probe, one event per request; 10,000 events/s: batches of 100
//   every 10 ms over 2 keep-alive connections, the last event of each batch a probe.
// p50/p95/p99 go to t.diagnostic and <repo>/test-artifacts/dom-latency-<rate>.json.
// `make test` runs short phases (10 s and 5 s) with loose bounds; DOM_LATENCY_SECONDS=60 runs
// each phase that long and holds the bars: p99 <= 50 ms at 120/s, <= 100 ms at 10,000/s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';
import { sleep, startSluice } from './lib/sluice.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const ARTIFACTS = path.join(REPO, 'test-artifacts');
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic',
                       '--disable-background-networking', '--disable-component-update',
                       '--disable-sync', '--no-first-run'];
const LONG = Number(process.env.DOM_LATENCY_SECONDS ?? 0);
const PHASES = [
  // `loose`: the short runs' bound, for a loaded machine (builds running next to the test).
  { name: '120', rate: 120, seconds: LONG || 10, bar: 50, loose: 500 },
  { name: '10k', rate: 10_000, seconds: LONG || 5, bar: 100, loose: 2000 },
];
const BARS = LONG >= 60;

function percentile(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

// POSTs NDJSON over a keep-alive agent; resolves with the status code.
function postBody(agent, url, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/v1/streams/fulfilment/events`, {
      method: 'POST', agent, headers: { 'content-type': 'application/x-ndjson',
                                        'content-length': Buffer.byteLength(body) },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const probe = (id, ms) => JSON.stringify({
  event_id: id, event_type: 'fulfilment.exception', occurred_at: new Date(ms).toISOString(),
  warehouse_id: `WH-${String(1 + (ms % 12)).padStart(2, '0')}`, order_id: `ORD-${id}`,
  exception_code: 'DAMAGED_ITEM', severity: 'high' });

// 99 ordinary events of a batch (unique ids; orders reused, ~5,000 of them, as real orders
// have many events).
function filler(batch, ms) {
  const at = new Date(ms).toISOString();
  let out = '';
  for (let i = 0; i < 99; i++) {
    out += `{"event_id":"fill-${batch}-${i}","event_type":"pick.completed","occurred_at":"${at}",` +
           `"warehouse_id":"WH-${String(1 + (i % 12)).padStart(2, '0')}","order_id":"ORD-F${batch % 50}-${i}"}\n`;
  }
  return out;
}

async function runPhase(t, browser, phase) {
  const sluice = await startSluice({ command: 'demo', args: ['--no-generator'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(e.message));
  const agent = new http.Agent({ keepAlive: true, maxSockets: phase.rate > 1000 ? 2 : 8 });
  try {
    // Splits the latency: when the WebSocket message carrying a probe reaches the page (before
    // the page's own handler runs), so server + network and the page's part show separately.
    await page.addInitScript(() => {
      window.__probeMessage = {};
      const Native = window.WebSocket;
      window.WebSocket = class extends Native {
        constructor(...args) {
          super(...args);
          this.addEventListener('message', (e) => {
            if (typeof e.data !== 'string' || !e.data.includes('"probe-')) return;
            const at = performance.timeOrigin + performance.now();
            for (const m of e.data.matchAll(/"event_id":"(probe-[^"]+)"/g)) {
              if (!(m[1] in window.__probeMessage)) window.__probeMessage[m[1]] = at;
            }
          });
        }
      };
    });
    await page.goto(`${sluice.url}/#feed`);
    await page.waitForFunction(() => window.sluiceDashboard?.views?.recent_exceptions?.state === 'live',
                               null, { timeout: 10_000 });
    await page.evaluate(() => {
      window.__probeSeen = {};
      new MutationObserver((records) => {
        const at = performance.timeOrigin + performance.now();
        for (const r of records) {
          for (const n of r.addedNodes) {
            const id = n.nodeType === 1 ? n.dataset.eventId : undefined;
            if (id?.startsWith('probe-') && !(id in window.__probeSeen)) window.__probeSeen[id] = at;
          }
        }
      }).observe(document.getElementById('feed-list'), { childList: true });
    });
    // The two clocks: the page's high-resolution wall clock against node's Date.now(), from
    // the round trip of 20 that took the least time (its midpoint is the best estimate).
    let best = null;
    for (let i = 0; i < 20; i++) {
      const before = Date.now();
      const pageNow = await page.evaluate(() => performance.timeOrigin + performance.now());
      const after = Date.now();
      if (best === null || after - before < best.rtt) best = { rtt: after - before, offset: pageNow - (before + after) / 2 };
    }
    const clockOffset = best.offset;
    assert.ok(Math.abs(clockOffset) <= 5 + best.rtt / 2,
              `page clock ${clockOffset.toFixed(1)} ms off node's (round trip ${best.rtt} ms)`);

    // The same view subscribed from node (the `ws` package) in the same run: the server's and
    // the network's share, without the browser.
    const nodeSeen = new Map();
    const reference = new WebSocket(`${sluice.url.replace(/^http/, 'ws')}/v1/subscribe?view=recent_exceptions`);
    reference.on('message', (data) => {
      const at = Date.now();
      const text = data.toString();
      if (!text.includes('"probe-')) return;
      for (const m of text.matchAll(/"event_id":"(probe-[^"]+)"/g)) if (!nodeSeen.has(m[1])) nodeSeen.set(m[1], at);
    });
    await new Promise((resolve, reject) => { reference.once('message', resolve); reference.once('error', reject); });

    const sent = new Map(); // probe id -> Date.now() before its POST
    const inflight = new Set();
    let failures = 0;
    const send = (body) => {
      const p = postBody(agent, sluice.url, body).then((status) => { if (status !== 200) failures += 1; },
                                                         () => { failures += 1; });
      inflight.add(p);
      p.finally(() => inflight.delete(p));
    };
    const start = Date.now() + 50;
    const end = start + phase.seconds * 1000;
    if (phase.rate <= 1000) {
      const interval = 1000 / phase.rate;
      for (let i = 0; ; i++) {
        const due = start + i * interval;
        if (due >= end) break;
        const wait = due - Date.now();
        if (wait > 1) await sleep(wait);
        const id = `probe-${phase.name}-${i}`;
        const now = Date.now();
        sent.set(id, now);
        send(probe(id, now) + '\n');
      }
    } else {
      const batchMs = 10;
      for (let b = 0; ; b++) {
        const due = start + b * batchMs;
        if (due >= end) break;
        const wait = due - Date.now();
        if (wait > 1) await sleep(wait);
        const id = `probe-${phase.name}-${b}`;
        const body = filler(b, Date.now());
        const now = Date.now();
        sent.set(id, now);
        send(body + probe(id, now) + '\n');
      }
    }
    await Promise.all([...inflight]);
    const sendSeconds = (Date.now() - start) / 1000;
    // Stragglers: at most 3 s more for the last probes to show.
    const deadline = Date.now() + 3000;
    let seen = {};
    while (Date.now() < deadline) {
      seen = await page.evaluate(() => window.__probeSeen);
      if (Object.keys(seen).length >= sent.size) break;
      await sleep(100);
    }
    const messages = await page.evaluate(() => window.__probeMessage);
    const latencies = [];
    const toMessage = [];
    const toDom = [];
    for (const [id, at] of sent) {
      if (!(id in seen)) continue;
      latencies.push(seen[id] - clockOffset - at);
      if (id in messages) {
        toMessage.push(messages[id] - clockOffset - at);
        toDom.push(seen[id] - messages[id]);
      }
    }
    reference.close();
    const toNode = [];
    for (const [id, at] of sent) if (nodeSeen.has(id)) toNode.push(nodeSeen.get(id) - at);
    for (const a of [latencies, toMessage, toDom, toNode]) a.sort((x, y) => x - y);
    const split = (a) => ({ p50: Number(percentile(a, 0.5).toFixed(1)), p99: Number(percentile(a, 0.99).toFixed(1)) });
    const result = {
      rate: phase.rate, seconds: phase.seconds, send_seconds: Number(sendSeconds.toFixed(2)),
      events: phase.rate <= 1000 ? sent.size : sent.size * 100, probes: sent.size,
      seen: latencies.length, failed_posts: failures,
      p50_ms: percentile(latencies, 0.5), p95_ms: percentile(latencies, 0.95),
      p99_ms: percentile(latencies, 0.99), max_ms: latencies.at(-1),
      clock_offset_ms: Number(clockOffset.toFixed(2)), clock_check_round_trip_ms: best.rtt,
      // post -> WebSocket message in the page, and message -> feed item in the DOM
      post_to_message_ms: split(toMessage), message_to_dom_ms: split(toDom),
      // post -> the same delta at a WebSocket client in node (the server's share)
      post_to_node_client_ms: split(toNode),
    };
    for (const k of ['p50_ms', 'p95_ms', 'p99_ms', 'max_ms']) result[k] = Number(result[k].toFixed(1));
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(path.join(ARTIFACTS, `dom-latency-${phase.name}.json`), JSON.stringify(result, null, 2) + '\n');
    t.diagnostic(`${phase.rate} events/s for ${phase.seconds} s (sent in ${result.send_seconds} s): ` +
                 `${result.seen}/${result.probes} probes seen, p50 ${result.p50_ms} ms, p95 ${result.p95_ms} ms, ` +
                 `p99 ${result.p99_ms} ms, max ${result.max_ms} ms (post -> message p50/p99 ` +
                 `${result.post_to_message_ms.p50}/${result.post_to_message_ms.p99} ms, message -> DOM ` +
                 `${result.message_to_dom_ms.p50}/${result.message_to_dom_ms.p99} ms; node client ` +
                 `${result.post_to_node_client_ms.p50}/${result.post_to_node_client_ms.p99} ms); clocks ${result.clock_offset_ms} ms apart`);

    // Judged after both phases, so that a long run measures both.
    const bound = BARS ? phase.bar : phase.loose;
    return () => {
      assert.equal(failures, 0, 'every POST accepted');
      assert.equal(result.seen, result.probes, 'every probe appeared in the feed');
      assert.ok(result.p99_ms <= bound, `p99 ${result.p99_ms} ms > ${bound} ms at ${phase.rate} events/s`);
      assert.deepEqual(problems, [], 'console errors/warnings');
    };
  } finally {
    agent.destroy();
    await page.close();
    await sluice.stop();
  }
}

test('event posted -> visible in the dashboard feed: p50/p95/p99 at 120 and 10,000 events/s',
     { timeout: 60_000 + 4 * 1000 * (LONG || 10) }, async (t) => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const checks = [];
  for (const phase of PHASES) checks.push(await runPhase(t, browser, phase));
  for (const check of checks) check();
});
