// Live views for the dashboard pages: one WebSocket subscription per view (GET /v1/subscribe),
// the view's rows kept in a Map by its key columns, and one shared requestAnimationFrame flush
// in which every page that saw a change renders once.
//
// Wire protocol (docs/http-api.md). Both forms of delta are understood, so the page works
// against servers before and after the `since` field:
// * {type:"snapshot"} replaces the rows. It may arrive again on the same connection (the server
//   resyncs a client in place); the rows are then simply replaced.
// * {type:"delta"} with `since`: skipped when its version <= the one we have, applied when
//   since == the version we have, anything else means we missed one: resubscribe.
// * {type:"delta"} without `since`: applied when version == ours + 1, skipped when older, and
//   anything else means a gap: resubscribe.
// * {type:"dropped"}: the view is gone; we wait for it to be defined again.
// A close reconnects with a capped, jittered backoff. A view that GET /v1/views does not list
// is never subscribed to (a refused upgrade would be a console error): its state is "missing"
// and the list is asked again every few seconds.

const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 4000;
const CATALOG_RETRY_MS = 5000;

// ---- one flush per animation frame for everything ----

const pending = new Set(); // callbacks to run in the next frame (each once)
let framePending = false;

// Runs `fn` once in the next animation frame, however often it is requested before then.
export function requestFrame(fn) {
  pending.add(fn);
  if (framePending) return;
  framePending = true;
  requestAnimationFrame(flush);
}

function flush() {
  framePending = false;
  const fns = [...pending];
  pending.clear();
  for (const fn of fns) fn();
}

// ---- the list of views (GET /v1/views) ----

let catalogRequest = null;
let catalog = null; // Map name -> {name, columns, key, version, rows, state, sql}

// Resolves with the server's views (a Map by name), or null when the server cannot be reached.
// Concurrent callers share one request.
export function loadCatalog() {
  if (catalogRequest) return catalogRequest;
  catalogRequest = fetch('v1/views', { cache: 'no-store' })
      .then((res) => (res.ok ? res.json() : null))
      .then((body) => {
        if (!Array.isArray(body?.views)) return catalog;
        catalog = new Map(body.views.filter((v) => v && typeof v.name === 'string')
                                    .map((v) => [v.name, v]));
        return catalog;
      })
      .catch(() => catalog)
      .finally(() => { catalogRequest = null; });
  return catalogRequest;
}

export function cachedCatalog() {
  return catalog;
}

// ---- subscriptions ----

const active = new Set(); // LiveView objects not closed yet
const stateListeners = new Set();

// `fn(views)` runs (in a frame) whenever a subscription changes state.
export function onStateChange(fn) {
  stateListeners.add(fn);
}

function notifyState() {
  for (const fn of stateListeners) requestFrame(fn);
}

export function activeViews() {
  return [...active];
}

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

// A live copy of one view. `onChange` is requested as a frame callback after every applied
// message and state change (pass a page's render function: it runs once per frame). An
// optional `index` ({reset(), upsert(key, row, old), remove(key, old)}) follows every row
// change, for pages that keep their own secondary index instead of scanning all rows. `where`
// asks the server for the matching rows only (docs/http-api.md, "Filters").
// state: "loading" (asking the view list), "missing" (not defined on this server),
// "connecting", "live", "reconnecting".
export class LiveView {
  constructor(name, onChange, index = null, { where = null } = {}) {
    this.name = name;
    // A filter for the server (`where=`; servers without filters ignore it): a string, or a
    // function giving one at every (re)connect (e.g. a time bound relative to now).
    this.whereSource = where;
    this.where = typeof where === 'function' ? where() : where;
    this.onChange = onChange;
    this.index = index;
    this.state = 'loading';
    this.detail = '';
    this.key = [];
    this.columns = [];
    this.rows = new Map();
    this.version = null;
    this.sql = null;
    this.lastMessageAt = null;
    this.resyncs = 0;      // snapshots after the first one (reconnects and in-place resyncs)
    this.snapshots = 0;
    this.socket = null;
    this.attempt = 0;
    this.timer = null;
    this.closed = false;
    active.add(this);
    this.start();
  }

  close() {
    this.closed = true;
    active.delete(this);
    clearTimeout(this.timer);
    const ws = this.socket;
    this.socket = null;
    if (ws) {
      try { ws.close(1000, 'page closed'); } catch { /* already closing */ }
    }
    notifyState();
  }

  rowKey(row) {
    return JSON.stringify(this.key.map((k) => row[k] ?? null));
  }

  upsert(row) {
    const key = this.rowKey(row);
    const old = this.rows.get(key);
    this.rows.set(key, row);
    this.index?.upsert(key, row, old);
  }

  remove(row) {
    const key = this.rowKey(row);
    const old = this.rows.get(key);
    if (old === undefined) return;
    this.rows.delete(key);
    this.index?.remove(key, old);
  }

  setState(state, detail = '') {
    if (this.state === state && this.detail === detail) return;
    this.state = state;
    this.detail = detail;
    notifyState();
    this.changed();
  }

  changed() {
    if (!this.closed && this.onChange) requestFrame(this.onChange);
  }

  // Asks the view list whether the view exists, then subscribes (or waits and asks again).
  async start() {
    const views = await loadCatalog();
    if (this.closed) return;
    const info = views?.get(this.name);
    if (!info) {
      this.setState(views ? 'missing' : 'reconnecting',
                    views ? `view ${this.name} is not defined on this server`
                          : 'cannot reach the server');
      this.timer = setTimeout(() => this.start(), CATALOG_RETRY_MS);
      return;
    }
    if (typeof info.sql === 'string') this.sql = info.sql;
    if (Array.isArray(info.columns)) this.columns = info.columns;
    this.connect();
  }

  url() {
    if (typeof this.whereSource === 'function') this.where = this.whereSource();
    const where = this.where ? `&where=${encodeURIComponent(this.where)}` : '';
    const url = new URL(`v1/subscribe?view=${encodeURIComponent(this.name)}${where}`, document.baseURI);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return url.href;
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.closed) return;
    if (this.state !== 'reconnecting') this.setState('connecting');
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch (err) {
      this.scheduleReconnect(`cannot open WebSocket: ${err.message}`);
      return;
    }
    this.socket = ws;
    ws.onmessage = (event) => {
      if (this.socket === ws) this.onMessage(ws, event.data);
    };
    ws.onclose = (event) => {
      if (this.socket !== ws) return;
      this.socket = null;
      if (this.state === 'dropped') {
        this.setState('missing', `view ${this.name} was dropped`);
        this.timer = setTimeout(() => this.start(), CATALOG_RETRY_MS);
        return;
      }
      this.scheduleReconnect(event.code === 1013
          ? 'server asked to resync (client too far behind)'
          : `connection closed (code ${event.code})`);
    };
    // An error is always followed by a close event, which does the reconnecting.
    ws.onerror = () => {};
  }

  scheduleReconnect(reason, delayMs) {
    if (this.closed || this.timer !== null) return;
    this.setState('reconnecting', reason);
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    this.attempt += 1;
    const delay = delayMs ?? Math.round(base * (0.8 + 0.4 * Math.random()));
    this.timer = setTimeout(() => this.connect(), delay);
  }

  // Drops the current socket (ignoring anything it still delivers) and subscribes again.
  resubscribe(ws, reason) {
    if (this.socket !== ws) return;
    this.socket = null;
    try { ws.close(4000, 'resync'); } catch { /* already closing */ }
    this.scheduleReconnect(reason, this.attempt === 0 ? 0 : undefined);
  }

  onMessage(ws, text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      this.resubscribe(ws, 'unreadable message from the server');
      return;
    }
    if (!isObject(msg)) return;
    this.lastMessageAt = Date.now();
    if (msg.type === 'snapshot') {
      if (Array.isArray(msg.key) && msg.key.length > 0) this.key = msg.key;
      if (Array.isArray(msg.columns)) this.columns = msg.columns;
      this.rows = new Map();
      this.index?.reset();
      for (const row of Array.isArray(msg.rows) ? msg.rows : []) {
        if (isObject(row)) this.upsert(row);
      }
      if (this.snapshots > 0) this.resyncs += 1;
      this.snapshots += 1;
      this.version = typeof msg.version === 'number' ? msg.version : null;
      this.attempt = 0;
      this.setState('live', `subscribed to ${this.name}`);
      notifyState(); // an in-place resync keeps the state but counts in `resyncs`
    } else if (msg.type === 'delta') {
      if (this.version === null || typeof msg.version !== 'number') return;
      if (msg.version <= this.version) return; // already applied
      const inOrder = typeof msg.since === 'number' ? msg.since === this.version
                                                    : msg.version === this.version + 1;
      if (!inOrder) {
        this.resubscribe(ws, `version gap: had ${this.version}, got ${msg.version}` +
                             (typeof msg.since === 'number' ? ` since ${msg.since}` : ''));
        return;
      }
      for (const row of msg.rows ?? []) if (isObject(row)) this.upsert(row);
      for (const row of msg.deleted ?? []) if (isObject(row)) this.remove(row);
      this.version = msg.version;
    } else if (msg.type === 'dropped') {
      this.rows = new Map();
      this.index?.reset();
      this.version = null;
      this.setState('dropped', `view ${this.name} was dropped`);
    } else {
      return;
    }
    this.changed();
  }
}

// The state of a set of subscriptions for the connection badge: "reconnecting" when any is,
// "connecting" while any has not had its first snapshot, else "live".
export function overallState(views) {
  let state = 'live';
  for (const v of views) {
    if (v.state === 'reconnecting') return 'reconnecting';
    if (v.state === 'loading' || v.state === 'connecting') state = 'connecting';
  }
  return state;
}
