// Operations overview (#overview): events and exceptions per minute, open exceptions, the
// financial totals per currency, and the per-warehouse series of events per minute.
// Views: events_per_minute (always defined), financial_totals and order_sessions (demo views;
// "not defined" on a plain `sluice serve`).

import { LiveView, cachedCatalog, loadCatalog, requestFrame } from './live.js';
import {
  $, AXIS, WindowIndex, collator, colorFor, el, formatMoney, intFmt, minuteLabel,
  missingText, placeholderRow, secondsFmt, setText, timeAxis,
} from './util.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const CHART_MINUTES = 30;
const TABLE_MINUTES = 10; // must be <= CHART_MINUTES: the table reuses the chart's buckets
const FINANCE_HOURS = 24;
const OPEN_EXCEPTIONS_EVERY_MS = 5000;
const EXCEPTION = 'fulfilment.exception';
const OPEN_EXCEPTIONS_SQL = 'SELECT count(*) AS open FROM order_sessions ' +
    "WHERE exceptions > 0 AND last_event <> 'shipment.delivered'";

// Test hooks (read by tests/e2e/dashboard*.test.js): the events_per_minute subscription.
export const dashboard = { version: null, rowCount: 0, renders: 0, connection: 'connecting' };

let events = null;   // LiveView events_per_minute
let finance = null;  // LiveView financial_totals
let eventsIndex = null;
let financeIndex = null;
let openTimer = null;
let openPoll = 0; // the current mount's poll loop (an older one stops)
let open = { state: 'loading', value: null, at: null };
let resizeObserver = null;

export function mount() {
  eventsIndex = new WindowIndex();
  financeIndex = new WindowIndex();
  // Only recent windows from the server (a view kept two years would otherwise send all of
  // them): the page shows 30 minutes and 24 hours of event time before the newest window.
  events = new LiveView('events_per_minute', render, eventsIndex, { where: () => since(2 * HOUR_MS) });
  finance = new LiveView('financial_totals', render, financeIndex, { where: () => since(48 * HOUR_MS) });
  resizeObserver = new ResizeObserver((entries) => {
    const width = Math.floor(entries[entries.length - 1].contentRect.width);
    if (chart && Math.abs(width - chartWidth) >= 1) requestFrame(render);
  });
  resizeObserver.observe($('chart'));
  pollOpenExceptions(++openPoll);
  requestFrame(render);
  return [events, finance];
}

// `window_start >= TIMESTAMP '<now - ms>'` (UTC), for the server's filter.
function since(ms) {
  const at = new Date(Date.now() - ms).toISOString().slice(0, 19).replace('T', ' ');
  return `window_start >= TIMESTAMP '${at}'`;
}

export function unmount() {
  events?.close();
  finance?.close();
  events = finance = null;
  clearTimeout(openTimer);
  openTimer = null;
  resizeObserver?.disconnect();
  resizeObserver = null;
}

// Open exceptions: orders with an exception whose session has not ended in a delivery, asked
// of order_sessions with SQL every few seconds (only when the view exists: a failed request
// would be a console error).
async function pollOpenExceptions(poll) {
  const views = cachedCatalog()?.has('order_sessions') ? cachedCatalog() : await loadCatalog();
  if (!events || poll !== openPoll) return;
  if (!views) {
    open = { ...open, state: 'unreachable' };
  } else if (!views.has('order_sessions')) {
    open = { state: 'missing', value: null, at: null };
  } else {
    try {
      const res = await fetch('v1/sql', { method: 'POST', headers: { 'content-type': 'application/sql' },
                                          body: OPEN_EXCEPTIONS_SQL, cache: 'no-store' });
      const body = res.ok ? await res.json() : null;
      const value = body?.results?.[0]?.rows?.[0]?.[0];
      open = typeof value === 'number' ? { state: 'ok', value, at: Date.now() } : { ...open, state: 'error' };
    } catch {
      open = { ...open, state: 'unreachable' };
    }
  }
  if (!events || poll !== openPoll) return;
  requestFrame(render);
  openTimer = setTimeout(() => pollOpenExceptions(poll), OPEN_EXCEPTIONS_EVERY_MS);
}

// ---- aggregation of the minutes on screen: O(rows in the last 30 minutes) ----

function warehouseKey(value) {
  return value === null || value === undefined ? 'null' : String(value);
}

function compareWarehouses(a, b) {
  if (a.isNull !== b.isNull) return a.isNull ? 1 : -1;
  return collator.compare(a.key, b.key) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

function isoMinute(ms) {
  return new Date(ms).toISOString().slice(0, 19) + 'Z'; // the view's own format
}

function aggregate() {
  const latest = eventsIndex.latestMs;
  if (latest === null) return null;
  const minutes = []; // oldest first
  for (let i = CHART_MINUTES - 1; i >= 0; i--) {
    const ms = latest - i * MINUTE_MS;
    minutes.push({ ms, label: isoMinute(ms), total: 0, exceptions: 0 });
  }
  const byWarehouse = new Map();
  minutes.forEach((minute, i) => {
    for (const row of eventsIndex.rowsAt(minute.ms)) {
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
      if (row.event_type === EXCEPTION) minute.exceptions += n;
    }
  });
  const warehouses = [...byWarehouse.values()].sort(compareWarehouses);
  for (const wh of warehouses) wh.color = colorFor(wh.key);

  const types = new Map();
  for (const row of eventsIndex.rowsAt(latest)) {
    const key = row.event_type === null || row.event_type === undefined ? null : String(row.event_type);
    types.set(key, (types.get(key) ?? 0) + (Number(row.events) || 0));
  }
  const last = minutes[minutes.length - 1];
  const previous = minutes[minutes.length - 2];
  return {
    latest,
    minutes,
    warehouses,
    types: [...types.entries()].sort((a, b) => b[1] - a[1] ||
                                               String(a[0]).localeCompare(String(b[0]))),
    latestTotal: last.total,
    latestExceptions: last.exceptions,
    // The last full minute is the one before the latest; without any older minute there is no
    // full minute to derive a rate from.
    hasFullMinute: eventsIndex.windows.size > 1,
    previousTotal: eventsIndex.windows.has(previous.ms) ? previous.total : 0,
    previousExceptions: eventsIndex.windows.has(previous.ms) ? previous.exceptions : 0,
  };
}

function render() {
  if (!events) return;
  dashboard.renders += 1;
  dashboard.version = events.version;
  dashboard.rowCount = events.rows.size;
  const agg = aggregate();
  renderHeader(agg);
  renderChart(agg);
  renderMinuteTable(agg);
  renderTypeTable(agg);
  renderFinance();
  if (events.sql !== null) setText('view-sql', events.sql);
}

function renderHeader(agg) {
  setText('view-version', events.version === null ? '—' : String(events.version));
  setText('row-count', intFmt.format(events.rows.size));
  setText('last-update', events.lastMessageAt === null ? 'waiting for data'
                                                       : `updated ${secondsFmt.format(events.lastMessageAt)}`);
  if (open.state === 'missing') {
    setText('open-exceptions', '—');
    setText('open-exceptions-basis', 'order_sessions not defined');
  } else if (open.value !== null) {
    setText('open-exceptions', intFmt.format(open.value));
    setText('open-exceptions-basis', `orders not delivered · ${secondsFmt.format(open.at)}`);
  }
  if (!agg) {
    setText('latest-events', '—');
    setText('latest-minute', 'no data yet');
    setText('events-per-second', '—');
    setText('events-per-second-basis', 'from the last full minute');
    setText('latest-exceptions', '—');
    setText('exceptions-basis', 'no data yet');
    setText('warehouse-count', '—');
    return;
  }
  setText('latest-events', intFmt.format(agg.latestTotal));
  setText('latest-minute', `minute starting ${minuteLabel(agg.latest)}`);
  setText('latest-exceptions', intFmt.format(agg.latestExceptions));
  setText('exceptions-basis', agg.hasFullMinute
      ? `${intFmt.format(agg.previousExceptions)} in the minute before`
      : `minute starting ${minuteLabel(agg.latest)}`);
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

// ---- chart: events per minute, one series per warehouse ----

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
      timeAxis(),
      { ...AXIS, size: 48, values: (u, splits) => splits.map((s) => (Number.isInteger(s) ? String(s) : '')) },
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
  const box = $('chart');
  $('chart-empty').hidden = agg !== null;
  if (!agg || typeof window.uPlot !== 'function') {
    if (chart) { chart.destroy(); chart = null; chartSignature = ''; }
    return;
  }
  const size = chartSize();
  chartWidth = size.width;
  const data = [agg.minutes.map((m) => m.ms / 1000), ...agg.warehouses.map((wh) => wh.counts)];
  const signature = agg.warehouses.map((wh) => `${wh.key}\u0000${wh.color}`).join('\u0001');
  if (!chart || signature !== chartSignature || !box.contains(chart.root)) {
    if (chart) chart.destroy();
    chart = new window.uPlot(chartOptions(agg.warehouses, size), data, box);
    chartSignature = signature;
  } else {
    if (chart.width !== size.width || chart.height !== size.height) chart.setSize(size);
    chart.setData(data);
    chart.setLegend();
  }
}

// ---- tables ----

const reduceMotion = window.matchMedia('(prefers-reduced-motion: reduce)');
function flash(td) {
  if (reduceMotion.matches || typeof td.animate !== 'function') return;
  td.animate([{ boxShadow: 'inset 0 0 0 2px rgba(37, 99, 235, 0.85)' },
              { boxShadow: 'inset 0 0 0 2px rgba(37, 99, 235, 0)' }],
             { duration: 1400, easing: 'ease-out' });
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
    setText(totalCell, String(total));
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

// ---- financial totals per currency, the last 24 hours of event time ----

const FINANCE_TYPES = { 'payment.captured': 'captured', 'refund.issued': 'refunded',
                        'carrier.charge': 'carrier' };

function renderFinance() {
  const tbody = $('finance-table').tBodies[0];
  const missing = missingText(finance);
  if (missing) {
    setText('finance-note', '');
    tbody.replaceChildren(placeholderRow(5, missing));
    tbody.dataset.state = 'missing';
    return;
  }
  tbody.dataset.state = finance.state;
  const latest = financeIndex.latestMs;
  if (latest === null) {
    setText('finance-note', '');
    tbody.replaceChildren(placeholderRow(5, finance.state === 'live' ? 'No financial events yet' : 'Loading…'));
    return;
  }
  const from = latest - (FINANCE_HOURS - 1) * HOUR_MS;
  setText('finance-note', `event time ${minuteLabel(from)} to ${minuteLabel(latest + HOUR_MS)} · net = captured − refunded − carrier`);
  const byCurrency = new Map();
  for (let hour = from; hour <= latest; hour += HOUR_MS) for (const row of financeIndex.rowsAt(hour)) {
    const field = FINANCE_TYPES[row.event_type];
    if (!field) continue;
    const currency = row.currency ?? '—';
    let c = byCurrency.get(currency);
    if (!c) {
      c = { currency, captured: 0, refunded: 0, carrier: 0 };
      byCurrency.set(currency, c);
    }
    c[field] += Number(row.amount_minor) || 0;
  }
  const rows = [...byCurrency.values()].sort((a, b) => collator.compare(a.currency, b.currency)).map((c) => {
    const tr = el('tr', { 'data-currency': c.currency });
    tr.append(el('th', { scope: 'row' }, c.currency));
    for (const field of ['captured', 'refunded', 'carrier']) {
      tr.append(el('td', { 'data-field': field }, formatMoney(c.currency, c[field])));
    }
    tr.append(el('td', { 'data-field': 'net', class: 'total' },
                 formatMoney(c.currency, c.captured - c.refunded - c.carrier)));
    return tr;
  });
  tbody.replaceChildren(...(rows.length ? rows : [placeholderRow(5, 'No financial events yet')]));
}
