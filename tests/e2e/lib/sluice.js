// Shared helpers for the end-to-end tests: start the real `sluice` binary on a free port over a
// fresh data directory, post events with Node's own fetch, and watch a view over WebSocket
// with the `ws` package (clients we did not write).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';

export const SLUICE_BIN =
  process.env.SLUICE_BIN ?? path.resolve(import.meta.dirname, '../../../build/src/app/sluice');

export function freshDataDir() {
  return mkdtempSync(path.join(tmpdir(), 'sluice-e2e-'));
}

// Starts `sluice <command>` (serve by default) and resolves once it prints its URL and
// answers /readyz and, unless `waitForViews` is false, once no view is still restoring its rows
// after a restart (their state in GET /v1/views). `port` 0 picks a free port. The returned
// handle kills the process (and, unless keepData, removes the data directory) on stop().
export async function startSluice({ dataDir = freshDataDir(), port = 0, command = 'serve',
                                    args = [], waitForViews = true } = {}) {
  const proc = spawn(SLUICE_BIN,
      [command, '--data-dir', dataDir, '--http-port', String(port), '--log-level', 'info', ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (d) => { output += d; });
  proc.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));

  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sluice did not start in 20 s:\n${output}`)), 20000);
    const check = () => {
      const m = output.match(/Dashboard: (http:\/\/[^/\s]+)\//);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    proc.stdout.on('data', check);
    proc.stderr.on('data', check);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`sluice exited (code ${code}, signal ${signal}) before serving:\n${output}`));
    });
  });
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${url}/readyz`).catch(() => null);
    if (res?.ok) break;
    await sleep(50);
  }
  for (let i = 0; waitForViews && i < 600; i++) {
    const res = await fetch(`${url}/v1/views`).catch(() => null);
    const views = res?.ok ? (await res.json()).views : null;
    if (views && !views.some((v) => v.state === 'restoring')) break;
    await sleep(50);
  }

  return {
    url,
    port: Number(new URL(url).port),
    dataDir,
    proc,
    exited,
    output: () => output,
    // SIGKILL: nothing gets to flush or checkpoint.
    async kill9() {
      proc.kill('SIGKILL');
      return exited;
    },
    // SIGTERM: a clean shutdown; resolves with the exit status.
    async terminate() {
      proc.kill('SIGTERM');
      return exited;
    },
    async stop({ keepData = false } = {}) {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timeout = setTimeout(() => proc.kill('SIGKILL'), 10000);
        await exited;
        clearTimeout(timeout);
      }
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

let eventCounter = 0;
// A valid fulfilment event; `fields` override or add fields.
export function makeEvent(fields = {}) {
  eventCounter += 1;
  return {
    event_id: `e2e-${process.pid}-${Date.now()}-${eventCounter}`,
    event_type: 'pick.completed',
    occurred_at: new Date().toISOString(),
    warehouse_id: 'WH-01',
    order_id: `ORD-${eventCounter}`,
    ...fields,
  };
}

export function ndjson(events) {
  return events.map((e) => JSON.stringify(e)).join('\n') + '\n';
}

// POSTs a body to a stream; resolves with { status, body } (body parsed when JSON).
export async function postEvents(url, stream, body,
                                 contentType = 'application/x-ndjson', extraHeaders = {}) {
  const res = await fetch(`${url}/v1/streams/${stream}/events`, {
    method: 'POST',
    headers: { 'content-type': contentType, ...extraHeaders },
    body,
  });
  const text = await res.text();
  let parsed = text;
  try { parsed = JSON.parse(text); } catch { /* not JSON: keep the text */ }
  return { status: res.status, body: parsed, headers: res.headers };
}

// POST /v1/sql; resolves with { status, body } (body parsed). `sql` is the text, sent as
// application/sql, unless `asJson` (then {"sql": ...} as application/json).
export async function runSql(url, sql, { asJson = false } = {}) {
  const res = await fetch(`${url}/v1/sql`, {
    method: 'POST',
    headers: { 'content-type': asJson ? 'application/json' : 'application/sql' },
    body: asJson ? JSON.stringify({ sql }) : sql,
  });
  return { status: res.status, body: await res.json() };
}

export async function getJson(url) {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

// A WebSocket subscription to a view that keeps the view's rows up to date from the snapshot
// and deltas, following the client rule of docs/http-api.md (skip version <= have, apply when
// since == have, anything else is a gap), and lets a test wait for a condition. `where`: an
// optional filter (sent URL-encoded).
export class ViewSubscription {
  constructor(baseUrl, view, { where } = {}) {
    this.messages = [];
    this.rows = new Map();
    this.version = null;
    this.gaps = 0;
    this.key = [];
    this.waiters = [];
    const filter = where === undefined ? '' : `&where=${encodeURIComponent(where)}`;
    this.ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/v1/subscribe?view=${view}${filter}`);
    this.closed = new Promise((resolve) => this.ws.on('close', (code, reason) =>
        resolve({ code, reason: reason.toString() })));
    this.opened = new Promise((resolve, reject) => {
      this.ws.on('error', reject);
      this.ws.on('unexpected-response', (_req, res) =>
          reject(new Error(`upgrade refused with HTTP ${res.statusCode}`)));
      this.ws.on('message', (data) => {
        const msg = JSON.parse(data.toString());
        this.messages.push(msg);
        this.apply(msg);
        if (msg.type === 'snapshot') resolve(msg);
        this.waiters = this.waiters.filter((w) => !w());
      });
    });
  }

  rowKey(row) {
    return JSON.stringify(this.key.map((k) => row[k]));
  }

  apply(msg) {
    if (msg.type === 'snapshot') {
      this.key = msg.key;
      this.rows = new Map(msg.rows.map((r) => [this.rowKey(r), r]));
    } else if (msg.type === 'delta') {
      if (this.version !== null && msg.version <= this.version) return;
      if (this.version !== null && msg.since !== this.version) this.gaps += 1;
      for (const r of msg.rows) this.rows.set(this.rowKey(r), r);
      for (const r of msg.deleted ?? []) this.rows.delete(this.rowKey(r));
    }
    this.version = msg.version;
  }

  find(predicate) {
    for (const r of this.rows.values()) if (predicate(r)) return r;
    return undefined;
  }

  // Resolves once `condition()` is true (checked after every message), or rejects after
  // `timeoutMs`.
  waitFor(condition, timeoutMs = 5000) {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`condition not met within ${timeoutMs} ms (version ${this.version})`));
      }, timeoutMs);
      const check = () => {
        if (!condition()) return false;
        clearTimeout(timer);
        resolve();
        return true;
      };
      this.waiters.push(check);
    });
  }

  close() {
    this.ws.close();
    return this.closed;
  }
}

// The number of events counted for one warehouse across a view's rows.
export function eventsFor(rows, warehouseId) {
  let total = 0;
  for (const r of rows) if (r.warehouse_id === warehouseId) total += r.events;
  return total;
}
