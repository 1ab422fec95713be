// Pick durations (#picks): p50/p90/p99 of the time from pick.started to pick.completed per
// warehouse and 5 minutes of pick start (view pick_durations, a demo view): a chart of the
// chosen warehouse's percentiles over the last 6 hours of windows, and a table of each
// warehouse's latest window in those 6 hours. Percentiles of different warehouses cannot be merged from the
// view's rows, so the chart shows one warehouse at a time.

import { LiveView, requestFrame } from './live.js';
import {
  $, AXIS, WindowIndex, collator, el, intFmt, minuteLabel, missingText, placeholderRow,
  setText, timeAxis,
} from './util.js';

const WINDOW_MS = 5 * 60_000;
const CHART_WINDOWS = 72; // 6 hours
const SERIES = [
  { field: 'p50_seconds', label: 'p50', color: '#4e79a7' },
  { field: 'p90_seconds', label: 'p90', color: '#f28e2b' },
  { field: 'p99_seconds', label: 'p99', color: '#e15759' },
];

let picks = null;
let index = null;
let chart = null;
let chartWidth = 0;
let resizeObserver = null;
let selected = null; // warehouse shown in the chart (a string key, 'null' for none)

export function mount() {
  index = new WindowIndex();
  picks = new LiveView('pick_durations', render, index);
  $('picks-warehouse').onchange = (e) => {
    selected = e.target.value;
    requestFrame(render);
  };
  resizeObserver = new ResizeObserver((entries) => {
    const width = Math.floor(entries[entries.length - 1].contentRect.width);
    if (chart && Math.abs(width - chartWidth) >= 1) requestFrame(render);
  });
  resizeObserver.observe($('picks-chart'));
  return [picks];
}

export function unmount() {
  picks?.close();
  picks = null;
  resizeObserver?.disconnect();
  resizeObserver = null;
  chart?.destroy();
  chart = null;
}

const whKey = (v) => (v === null || v === undefined ? 'null' : String(v));
const seconds = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const fmtSeconds = (v) => (v === null ? '—' : v >= 100 ? v.toFixed(0) : v.toFixed(1));

function render() {
  if (!picks) return;
  const missing = missingText(picks);
  $('picks-missing').hidden = !missing;
  setText('picks-missing', missing ?? '');

  // Warehouses with picks in the chart's 6 hours, and each one's latest window there (72
  // lookups, however many days the view keeps).
  const latestByWh = new Map();
  for (let i = 0; index.latestMs !== null && i < CHART_WINDOWS; i++) {
    const ms = index.latestMs - i * WINDOW_MS;
    for (const row of index.rowsAt(ms)) {
      const key = whKey(row.warehouse_id);
      if (!latestByWh.has(key)) latestByWh.set(key, { ms, row });
    }
  }
  const warehouses = [...latestByWh.keys()].sort(collator.compare);
  if (selected === null || !latestByWh.has(selected)) selected = warehouses[0] ?? null;
  renderSelect(warehouses);
  renderTable(warehouses, latestByWh);
  renderChart();
}

function renderSelect(warehouses) {
  const select = $('picks-warehouse');
  const current = [...select.options].map((o) => o.value);
  if (current.length !== warehouses.length || current.some((v, i) => v !== warehouses[i])) {
    select.replaceChildren(...warehouses.map((wh) => el('option', { value: wh }, wh === 'null' ? '(no warehouse)' : wh)));
  }
  if (selected !== null && select.value !== selected) select.value = selected;
  select.disabled = warehouses.length === 0;
}

function renderTable(warehouses, latestByWh) {
  const tbody = $('picks-table').tBodies[0];
  if (warehouses.length === 0) {
    tbody.replaceChildren(placeholderRow(6, picks.state === 'live' ? 'No completed picks yet' : missingText(picks) ?? 'Loading…'));
    return;
  }
  tbody.replaceChildren(...warehouses.map((wh) => {
    const { ms, row } = latestByWh.get(wh);
    const tr = el('tr', { 'data-warehouse': wh });
    tr.append(el('th', { scope: 'row' }, wh === 'null' ? '(no warehouse)' : wh),
              el('td', { class: 'when' }, minuteLabel(ms)),
              el('td', { 'data-field': 'picks' }, intFmt.format(Number(row.picks) || 0)));
    for (const s of SERIES) tr.append(el('td', { 'data-field': s.label }, fmtSeconds(seconds(row[s.field]))));
    return tr;
  }));
}

function chartData() {
  const latest = index.latestMs;
  const xs = [];
  const ys = SERIES.map(() => []);
  if (latest === null || selected === null) return null;
  for (let i = CHART_WINDOWS - 1; i >= 0; i--) {
    const ms = latest - i * WINDOW_MS;
    xs.push(ms / 1000);
    let row = null;
    for (const r of index.rowsAt(ms)) if (whKey(r.warehouse_id) === selected) row = r;
    SERIES.forEach((s, j) => ys[j].push(row ? seconds(row[s.field]) : null));
  }
  return [xs, ...ys];
}

function legendValue(u, si, idx) {
  const i = idx ?? (u.data[0].length - 1);
  // The latest window with data when the cursor is elsewhere.
  let j = i;
  if (idx == null) while (j > 0 && u.data[si][j] == null) j--;
  return fmtSeconds(u.data[si]?.[j] ?? null);
}

function renderChart() {
  const box = $('picks-chart');
  const data = chartData();
  $('picks-chart-empty').hidden = data !== null;
  if (!data || typeof window.uPlot !== 'function') {
    chart?.destroy();
    chart = null;
    return;
  }
  const width = Math.max(240, Math.floor(box.clientWidth));
  const size = { width, height: Math.round(Math.max(200, Math.min(300, width * 0.3))) };
  chartWidth = width;
  if (!chart) {
    chart = new window.uPlot({
      ...size,
      padding: [10, 28, 0, 0],
      cursor: { drag: { x: false, y: false, setScale: false }, points: { size: 7 } },
      legend: { live: true },
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? Math.ceil(max * 1.12) : 5] } },
      axes: [timeAxis(), { ...AXIS, size: 48, label: 'seconds', labelSize: 16 }],
      series: [
        { label: 'Window', value: (u, v, si, idx) => (idx == null ? 'latest' : minuteLabel(u.data[0][idx] * 1000)) },
        ...SERIES.map((s) => ({ label: s.label, stroke: s.color, width: 2, spanGaps: true,
                                points: { show: true, size: 5, fill: s.color },
                                value: (u, v, si, idx) => legendValue(u, si, idx) })),
      ],
    }, data, box);
  } else {
    if (chart.width !== size.width || chart.height !== size.height) chart.setSize(size);
    chart.setData(data);
    chart.setLegend();
  }
}
