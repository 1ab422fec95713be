// Sluice live dashboard: subscribes to the `events_per_minute` view over WebSocket, keeps its
// rows in a Map (with an index by minute), and renders the most recent minutes at most once
// per animation frame. No framework; uPlot (window.uPlot, loaded by index.html) for the chart.
//
// Wire protocol (docs/http-api.md): the first message is a snapshot, then deltas with
// consecutive versions whose rows are upserts identified by the view's key columns (and
// optional `deleted` rows). Any close, a version gap or an unreadable message means: reconnect
// with a short, capped backoff and resync from the new snapshot.

const VIEW = 'events_per_minute';
const MINUTE_MS = 60_000;
const CHART_MINUTES = 30;
const TABLE_MINUTES = 10; // must be <= CHART_MINUTES: the table reuses the chart's buckets
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 4000;
// Series colours: a colour-blind friendly qualitative palette, then golden-angle hues.
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#59a14f', '#b07aa1', '#76b7b2', '#edc948',
                 '#9c755f', '#ff9da7', '#5f6b7a', '#1f9e89', '#c44e9c'];

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------------------
// State. Data is applied as soon as a message arrives; only the DOM waits for the next frame.

const state = {
  connection: 'connecting', // connecting | live | reconnecting
  connectionDetail: '',
  version: null,
  key: ['warehouse_id', 'event_type', 'window_start'],
  rows: new Map(),    // row key (JSON of the key columns) -> row
  minutes: new Map(), // minute start (ms since epoch) -> { label, rows: Map<row key, row> }
  latestMs: null,     // the newest window_start in the view (event time)
  lastMessageAt: null,
  sql: null,
};

const dashboard = {
  version: null,
  rowCount: 0,
  renders: 0,
  connection: state.connection,
};
window.sluiceDashboard = dashboard;

function rowKey(row) {
  return JSON.stringify(state.key.map((k) => row[k] ?? null));
}

function minuteOf(row) {
  if (typeof row.window_start !== 'string') return null;
  const ms = Date.parse(row.window_start);
  return Number.isFinite(ms) ? ms : null;
}

function indexAdd(key, row) {
  const ms = minuteOf(row);
  if (ms === null) return;
  let bucket = state.minutes.get(ms);
  if (!bucket) {
    bucket = { label: row.window_start, rows: new Map() };
    state.minutes.set(ms, bucket);
    if (state.latestMs === null || ms > state.latestMs) state.latestMs = ms;
  }
  bucket.rows.set(key, row);
}

function indexRemove(key, row) {
  const ms = minuteOf(row);
  if (ms === null) return;
  const bucket = state.minutes.get(ms);
  if (!bucket) return;
  bucket.rows.delete(key);
  if (bucket.rows.size === 0) {
    state.minutes.delete(ms);
    if (ms === state.latestMs) {
      state.latestMs = null;
      for (const m of state.minutes.keys()) {
        if (state.latestMs === null || m > state.latestMs) state.latestMs = m;
      }
    }
  }
}

function upsertRow(row) {
  const key = rowKey(row);
  const old = state.rows.get(key);
  if (old) indexRemove(key, old);
  state.rows.set(key, row);
  indexAdd(key, row);
}

function deleteRow(row) {
  const key = rowKey(row);
  const old = state.rows.get(key);
  if (!old) return;
  indexRemove(key, old);
  state.rows.delete(key);
}

function replaceRows(rows) {
  state.rows = new Map();
  state.minutes = new Map();
  state.latestMs = null;
  for (const row of rows) upsertRow(row);
}

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------
// Connection.

let socket = null;
let attempt = 0;
let retryTimer = null;

function subscribeUrl() {
  const url = new URL(`v1/subscribe?view=${encodeURIComponent(VIEW)}`, document.baseURI);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

function setConnection(next, detail = '') {
  state.connection = next;
  state.connectionDetail = detail;
  dashboard.connection = next;
  const el = $('connection');
  el.dataset.state = next;
  el.title = detail;
  el.querySelector('.connection-text').textContent =
      next === 'live' ? 'Live' : next === 'connecting' ? 'Connecting…' : 'Reconnecting…';
}

function connect() {
  clearTimeout(retryTimer);
  retryTimer = null;
  let ws;
  try {
    ws = new WebSocket(subscribeUrl());
  } catch (err) {
    scheduleReconnect(`cannot open WebSocket: ${err.message}`);
    return;
  }
  socket = ws;
  ws.onmessage = (event) => {
    if (socket === ws) onMessage(ws, event.data);
  };
  ws.onclose = (event) => {
    if (socket !== ws) return;
    socket = null;
    const why = event.code === 1013 ? 'server asked to resync (client too far behind)'
                                    : `connection closed (code ${event.code})`;
    scheduleReconnect(why);
  };
  // An error is always followed by a close event, which does the reconnecting.
  ws.onerror = () => {};
}

function scheduleReconnect(reason, delayMs) {
  if (retryTimer !== null) return;
  setConnection('reconnecting', reason);
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
  attempt += 1;
  const delay = delayMs ?? Math.round(base * (0.8 + 0.4 * Math.random()));
  retryTimer = setTimeout(connect, delay);
}

// Drops the current socket (ignoring anything it still delivers) and resubscribes.
function resync(ws, reason) {
  if (socket !== ws) return;
  socket = null;
  try { ws.close(4000, 'resync'); } catch { /* already closing */ }
  scheduleReconnect(reason, attempt === 0 ? 0 : undefined);
}

function onMessage(ws, text) {
  let msg;
  try {
    msg = JSON.parse(text);
  } catch {
    resync(ws, 'unreadable message from the server');
    return;
  }
  if (!isObject(msg)) return;
  state.lastMessageAt = Date.now();
  if (msg.type === 'snapshot') {
    if (Array.isArray(msg.key) && msg.key.length > 0) state.key = msg.key;
    replaceRows(Array.isArray(msg.rows) ? msg.rows.filter(isObject) : []);
    state.version = msg.version;
    attempt = 0;
    setConnection('live', `subscribed to ${VIEW}`);
    loadSql();
  } else if (msg.type === 'delta') {
    if (state.version === null) return; // not synced yet: the snapshot comes first
    if (typeof msg.version !== 'number') return;
    if (msg.version <= state.version) return; // already applied
    if (msg.version !== state.version + 1) {
      resync(ws, `version gap: had ${state.version}, got ${msg.version}`);
      return;
    }
    for (const row of msg.rows ?? []) if (isObject(row)) upsertRow(row);
    for (const row of msg.deleted ?? []) if (isObject(row)) deleteRow(row);
    state.version = msg.version;
  } else {
    return;
  }
  dashboard.version = state.version;
  dashboard.rowCount = state.rows.size;
  scheduleRender();
}

let sqlRequest = null;
function loadSql() {
  if (sqlRequest) return;
  sqlRequest = fetch('v1/views', { cache: 'no-store' })
      .then((res) => (res.ok ? res.json() : null))
      .then((body) => {
        const view = body?.views?.find((v) => v.name === VIEW);
        if (view && typeof view.sql === 'string') {
          state.sql = view.sql;
          scheduleRender();
        }
      })
      .catch(() => { /* the SQL is decoration: try again on the next snapshot */ })
      .finally(() => { sqlRequest = null; });
}

window.addEventListener('online', () => {
  if (retryTimer !== null) connect();
});

// ---------------------------------------------------------------------------------------------
// Rendering, coalesced to one per animation frame.

let renderPending = false;
function scheduleRender() {
  if (renderPending) return;
  renderPending = true;
  requestAnimationFrame(render);
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateTimeFmt = new Intl.DateTimeFormat(undefined,
    { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
const clockFmt = new Intl.DateTimeFormat(undefined,
    { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const intFmt = new Intl.NumberFormat();

function isoMinute(ms) {
  return new Date(ms).toISOString().slice(0, 19) + 'Z'; // the view's own format
}

function sameLocalDay(a, b) {
  const x = new Date(a);
  const y = new Date(b);
  return x.getFullYear() === y.getFullYear() && x.getMonth() === y.getMonth() &&
         x.getDate() === y.getDate();
}

function minuteLabel(ms) {
  return sameLocalDay(ms, Date.now()) ? timeFmt.format(ms) : dateTimeFmt.format(ms);
}

// The DOM attribute value for a warehouse (the literal "null" for a null one).
function warehouseKey(value) {
  return value === null || value === undefined ? 'null' : String(value);
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
function compareWarehouses(a, b) {
  if (a.isNull !== b.isNull) return a.isNull ? 1 : -1;
  return collator.compare(a.key, b.key) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

const colors = new Map(); // warehouse key -> colour, stable for the page's lifetime
function colorFor(key) {
  let c = colors.get(key);
  if (!c) {
    const i = colors.size;
    c = i < PALETTE.length ? PALETTE[i]
                           : `hsl(${Math.round((i * 137.508) % 360)} 55% 45%)`;
    colors.set(key, c);
  }
  return c;
}

// Aggregates the minutes on screen from the minute index: O(rows in the last 30 minutes),
// whatever the size of the view.
function aggregate() {
  const latest = state.latestMs;
  if (latest === null) return null;
  const minutes = []; // oldest first
  for (let i = CHART_MINUTES - 1; i >= 0; i--) {
    const ms = latest - i * MINUTE_MS;
    minutes.push({ ms, label: state.minutes.get(ms)?.label ?? isoMinute(ms), total: 0 });
  }
  const byWarehouse = new Map();
  minutes.forEach((minute, i) => {
    const bucket = state.minutes.get(minute.ms);
    if (!bucket) return;
    for (const row of bucket.rows.values()) {
      const n = Number(row.events) || 0;
      const key = warehouseKey(row.warehouse_id);
      let wh = byWarehouse.get(key);
      if (!wh) {
        wh = { key, isNull: row.warehouse_id === null || row.warehouse_id === undefined,
               counts: new Array(CHART_MINUTES).fill(0) };
        byWarehouse.set(key, wh);
      }
      wh.counts[i] += n;
      minute.total += n;
    }
  });
  const warehouses = [...byWarehouse.values()].sort(compareWarehouses);
  for (const wh of warehouses) wh.color = colorFor(wh.key);

  const types = new Map();
  for (const row of state.minutes.get(latest)?.rows.values() ?? []) {
    const key = row.event_type === null || row.event_type === undefined ? null : String(row.event_type);
    types.set(key, (types.get(key) ?? 0) + (Number(row.events) || 0));
  }
  const previous = state.minutes.get(latest - MINUTE_MS);
  return {
    latest,
    minutes,
    warehouses,
    types: [...types.entries()].sort((a, b) => b[1] - a[1] ||
                                               String(a[0]).localeCompare(String(b[0]))),
    latestTotal: minutes[minutes.length - 1].total,
    // The last full minute is the one before the latest; without any older minute there is no
    // full minute to derive a rate from.
    hasFullMinute: state.minutes.size > 1,
    previousTotal: previous ? minutes[minutes.length - 2].total : 0,
  };
}

function render() {
  renderPending = false;
  dashboard.renders += 1;
  const agg = aggregate();
  renderHeader(agg);
  renderChart(agg);
  renderMinuteTable(agg);
  renderTypeTable(agg);
  const sql = $('view-sql');
  if (state.sql !== null && sql.textContent !== state.sql) sql.textContent = state.sql;
}

function setText(id, text) {
  const el = $(id);
  if (el.textContent !== text) el.textContent = text;
}

function renderHeader(agg) {
  setText('view-version', state.version === null ? '—' : String(state.version));
  setText('row-count', intFmt.format(state.rows.size));
  setText('last-update', state.lastMessageAt === null ? 'waiting for data'
                                                      : `updated ${clockFmt.format(state.lastMessageAt)}`);
  if (!agg) {
    setText('latest-events', '—');
    setText('latest-minute', 'no data yet');
    setText('events-per-second', '—');
    setText('events-per-second-basis', 'from the last full minute');
    setText('warehouse-count', '—');
    return;
  }
  setText('latest-events', intFmt.format(agg.latestTotal));
  setText('latest-minute', `minute starting ${minuteLabel(agg.latest)}`);
  if (agg.hasFullMinute) {
    const rate = agg.previousTotal / 60;
    setText('events-per-second', rate >= 100 ? rate.toFixed(0) : rate.toFixed(2));
    setText('events-per-second-basis', `from the full minute ${minuteLabel(agg.latest - MINUTE_MS)}`);
  } else {
    setText('events-per-second', '—');
    setText('events-per-second-basis', 'needs one full minute');
  }
  setText('warehouse-count', String(agg.warehouses.length));
}

// ---- chart ----

let chart = null;
let chartSignature = '';
const hiddenSeries = new Set(); // warehouses switched off in the legend survive re-creation
let chartWidth = 0;

function chartSize() {
  const width = Math.max(240, Math.floor($('chart').clientWidth));
  const height = Math.round(Math.max(200, Math.min(300, width * 0.3)));
  return { width, height };
}

// The legend shows the hovered minute, or the latest minute when the cursor is elsewhere.
function legendIndex(u, idx) {
  return idx ?? (u.data[0].length > 0 ? u.data[0].length - 1 : null);
}
function legendMinute(u, idx) {
  const i = legendIndex(u, idx);
  if (i === null) return '—';
  return minuteLabel(u.data[0][i] * 1000) + (idx == null ? ' (latest)' : '');
}
function legendValue(u, si, idx) {
  const i = legendIndex(u, idx);
  const v = i === null ? null : u.data[si]?.[i];
  return v == null ? '—' : String(v);
}

function chartOptions(warehouses, size) {
  const axis = {
    stroke: '#5d6b7b',
    font: '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
    grid: { stroke: '#edf0f4', width: 1 },
    ticks: { stroke: '#dde3ea', width: 1, size: 4 },
  };
  return {
    ...size,
    padding: [10, 28, 0, 0], // room on the right for the last time label
    cursor: { drag: { x: false, y: false, setScale: false }, points: { size: 7 } },
    legend: { live: true },
    scales: {
      x: { time: true },
      y: { range: (u, min, max) => [0, max > 0 ? Math.ceil(max * 1.12) : 5] },
    },
    axes: [
      { ...axis, space: 70,
        values: (u, splits) => splits.map((s) => timeFmt.format(s * 1000)) },
      { ...axis, size: 48, values: (u, splits) => splits.map((s) => (Number.isInteger(s) ? String(s) : '')) },
    ],
    series: [
      { label: 'Minute', value: (u, v, si, idx) => legendMinute(u, idx) },
      ...warehouses.map((wh) => ({
        label: wh.isNull ? '(no warehouse)' : wh.key,
        stroke: wh.color,
        width: 2,
        show: !hiddenSeries.has(wh.key),
        points: { size: 5, fill: wh.color },
        value: (u, v, si, idx) => legendValue(u, si, idx),
      })),
    ],
    hooks: {
      setSeries: [(u, i) => {
        if (!i) return;
        const key = warehouses[i - 1]?.key;
        if (key === undefined) return;
        if (u.series[i].show) hiddenSeries.delete(key); else hiddenSeries.add(key);
      }],
    },
  };
}

function renderChart(agg) {
  const el = $('chart');
  $('chart-empty').hidden = agg !== null;
  if (!agg || typeof window.uPlot !== 'function') {
    if (chart) { chart.destroy(); chart = null; chartSignature = ''; }
    return;
  }
  const size = chartSize();
  chartWidth = size.width;
  const data = [agg.minutes.map((m) => m.ms / 1000), ...agg.warehouses.map((wh) => wh.counts)];
  const signature = agg.warehouses.map((wh) => `${wh.key}\u0000${wh.color}`).join('\u0001');
  if (!chart || signature !== chartSignature) {
    if (chart) chart.destroy();
    chart = new window.uPlot(chartOptions(agg.warehouses, size), data, el);
    chartSignature = signature;
  } else {
    if (chart.width !== size.width || chart.height !== size.height) chart.setSize(size);
    chart.setData(data);
    chart.setLegend();
  }
}

// Re-render when the chart's box changes width (window resize, layout breakpoints). The
// resize itself happens in the next frame, never inside the observer callback.
new ResizeObserver((entries) => {
  const width = Math.floor(entries[entries.length - 1].contentRect.width);
  if (chart && Math.abs(width - chartWidth) >= 1) scheduleRender();
}).observe($('chart'));

// ---- tables ----

const reduceMotion = window.matchMedia('(prefers-reduced-motion: reduce)');
function flash(td) {
  if (reduceMotion.matches || typeof td.animate !== 'function') return;
  td.animate([{ boxShadow: 'inset 0 0 0 2px rgba(37, 99, 235, 0.85)' },
              { boxShadow: 'inset 0 0 0 2px rgba(37, 99, 235, 0)' }],
             { duration: 1400, easing: 'ease-out' });
}

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function placeholderRow(colspan, text) {
  const tr = el('tr', { class: 'placeholder' });
  tr.append(el('td', { colspan: String(colspan) }, text));
  return tr;
}

let tableHeadSignature = '';
const warehouseRows = new Map(); // warehouse key -> tr

function renderMinuteTable(agg) {
  const table = $('minute-table');
  const tbody = table.tBodies[0];
  const tfoot = table.tFoot;
  const minutes = agg ? agg.minutes.slice(-TABLE_MINUTES).reverse() : []; // newest first

  const headSignature = minutes.map((m) => m.label).join(',') + `|${new Date().getDate()}`;
  if (headSignature !== tableHeadSignature) {
    tableHeadSignature = headSignature;
    const tr = el('tr');
    tr.append(el('th', { scope: 'col', class: 'wh' }, 'Warehouse'));
    minutes.forEach((m, i) => {
      tr.append(el('th', { scope: 'col', title: `${m.label} (UTC)`, 'data-column-minute': m.label,
                           class: i === 0 ? 'newest' : '' }, minuteLabel(m.ms)));
    });
    tr.append(el('th', { scope: 'col', class: 'total' }, 'Total'));
    table.tHead.replaceChildren(tr);
  }

  if (!agg) {
    warehouseRows.clear();
    tbody.replaceChildren(placeholderRow(2, 'Waiting for events…'));
    tfoot.replaceChildren();
    return;
  }

  const offset = CHART_MINUTES - 1; // index of the newest minute in wh.counts
  let maxCell = 0;
  for (const wh of agg.warehouses) {
    for (let i = 0; i < minutes.length; i++) maxCell = Math.max(maxCell, wh.counts[offset - i]);
  }

  const seen = new Set();
  const ordered = [];
  for (const wh of agg.warehouses) {
    seen.add(wh.key);
    let tr = warehouseRows.get(wh.key);
    if (!tr) {
      tr = el('tr', { 'data-warehouse': wh.key });
      const th = el('th', { scope: 'row', title: wh.isNull ? 'events without a warehouse_id' : wh.key });
      const swatch = el('span', { class: 'swatch', 'aria-hidden': 'true' });
      th.append(swatch, el('span', wh.isNull ? { class: 'null-id' } : {},
                           wh.isNull ? '(no warehouse)' : wh.key));
      tr.append(th);
      warehouseRows.set(wh.key, tr);
    }
    tr.querySelector('.swatch').style.backgroundColor = wh.color;
    // Cells: one per minute, then the total.
    while (tr.cells.length - 1 > minutes.length + 1) tr.lastElementChild.remove();
    while (tr.cells.length - 1 < minutes.length + 1) tr.append(el('td'));
    let total = 0;
    minutes.forEach((m, i) => {
      const n = wh.counts[offset - i];
      total += n;
      const td = tr.cells[i + 1];
      const text = String(n);
      if (td.dataset.minute === m.label) {
        if (td.textContent !== text) { td.textContent = text; flash(td); }
      } else {
        td.dataset.minute = m.label;
        td.textContent = text;
      }
      td.className = (n === 0 ? 'zero' : '') + (i === 0 ? ' newest' : '');
      td.style.backgroundColor = n > 0 && maxCell > 0
          ? `rgba(37, 99, 235, ${(0.04 + 0.2 * (n / maxCell)).toFixed(3)})` : '';
    });
    const totalCell = tr.cells[minutes.length + 1];
    totalCell.className = 'total';
    totalCell.removeAttribute('data-minute');
    totalCell.style.backgroundColor = '';
    if (totalCell.textContent !== String(total)) totalCell.textContent = String(total);
    ordered.push(tr);
  }
  for (const key of warehouseRows.keys()) if (!seen.has(key)) warehouseRows.delete(key);

  const current = [...tbody.children];
  if (current.length !== ordered.length || current.some((tr, i) => tr !== ordered[i])) {
    tbody.replaceChildren(...ordered);
  }

  const foot = el('tr');
  foot.append(el('th', { scope: 'row' }, 'All warehouses'));
  let grand = 0;
  minutes.forEach((m, i) => {
    grand += m.total;
    foot.append(el('td', { 'data-total-minute': m.label, class: i === 0 ? 'newest' : '' }, String(m.total)));
  });
  foot.append(el('td', { class: 'total' }, String(grand)));
  tfoot.replaceChildren(foot);
}

function renderTypeTable(agg) {
  const tbody = $('type-table').tBodies[0];
  setText('types-minute', agg ? `minute starting ${minuteLabel(agg.latest)}` : '');
  if (!agg || agg.types.length === 0) {
    tbody.replaceChildren(placeholderRow(3, 'Waiting for events…'));
    return;
  }
  const total = agg.latestTotal || 1;
  const rows = agg.types.map(([type, n]) => {
    const tr = el('tr', { 'data-event-type': type === null ? 'null' : type });
    const name = el('td', { class: 'type-name', title: type ?? 'events without an event_type' });
    name.append(el('span', type === null ? { class: 'null-id' } : {}, type ?? '(no type)'));
    const share = el('td', { class: 'share', title: `${((100 * n) / total).toFixed(1)} %` });
    const bar = el('div', { class: 'bar' });
    const fill = el('span');
    fill.style.width = `${((100 * n) / total).toFixed(1)}%`;
    bar.append(fill);
    share.append(bar);
    tr.append(name, el('td', { class: 'num' }, String(n)), share);
    return tr;
  });
  tbody.replaceChildren(...rows);
}

// ---------------------------------------------------------------------------------------------

setConnection('connecting', `subscribing to ${VIEW}`);
scheduleRender();
connect();
