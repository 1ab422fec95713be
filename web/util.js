// Small DOM and formatting helpers shared by the dashboard pages. Times are shown in the
// viewer's time zone and locale (Intl with no explicit zone).

export const $ = (id) => document.getElementById(id);

export function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

export function setText(node, text) {
  const target = typeof node === 'string' ? $(node) : node;
  if (target && target.textContent !== text) target.textContent = text;
}

export function placeholderRow(colspan, text) {
  const tr = el('tr', { class: 'placeholder' });
  tr.append(el('td', { colspan: String(colspan) }, text));
  return tr;
}

export const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
export const secondsFmt = new Intl.DateTimeFormat(undefined,
    { hour: '2-digit', minute: '2-digit', second: '2-digit' });
export const dateTimeFmt = new Intl.DateTimeFormat(undefined,
    { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
export const intFmt = new Intl.NumberFormat();

export function sameLocalDay(a, b) {
  const x = new Date(a);
  const y = new Date(b);
  return x.getFullYear() === y.getFullYear() && x.getMonth() === y.getMonth() &&
         x.getDate() === y.getDate();
}

// "14:05" today, "Nov 26, 14:05" on another day (the viewer's zone).
export function minuteLabel(ms) {
  return sameLocalDay(ms, Date.now()) ? timeFmt.format(ms) : dateTimeFmt.format(ms);
}

export function parseTime(value) {
  if (typeof value !== 'string') return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

// A minor-unit amount in its currency ("EUR", 12345 -> "€123.45"); unknown codes as numbers.
const moneyFormats = new Map();
export function formatMoney(currency, minor) {
  let fmt = moneyFormats.get(currency);
  if (fmt === undefined) {
    try {
      fmt = new Intl.NumberFormat(undefined, { style: 'currency', currency });
    } catch {
      fmt = null;
    }
    moneyFormats.set(currency, fmt);
  }
  const digits = fmt?.resolvedOptions().maximumFractionDigits ?? 2;
  const value = Number(minor) / 10 ** digits;
  return fmt ? fmt.format(value) : `${value.toFixed(digits)} ${currency}`;
}

// Series colours: a colour-blind friendly qualitative palette, then golden-angle hues; a key
// keeps its colour for the page's lifetime.
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#59a14f', '#b07aa1', '#76b7b2', '#edc948',
                 '#9c755f', '#ff9da7', '#5f6b7a', '#1f9e89', '#c44e9c'];
const colors = new Map();
export function colorFor(key) {
  let c = colors.get(key);
  if (!c) {
    const i = colors.size;
    c = i < PALETTE.length ? PALETTE[i] : `hsl(${Math.round((i * 137.508) % 360)} 55% 45%)`;
    colors.set(key, c);
  }
  return c;
}

export const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

// uPlot axis styling shared by the charts.
export const AXIS = {
  stroke: '#5d6b7b',
  font: '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
  grid: { stroke: '#edf0f4', width: 1 },
  ticks: { stroke: '#dde3ea', width: 1, size: 4 },
};

// The x axis of a time chart: labels by Intl in the viewer's zone.
export function timeAxis() {
  return { ...AXIS, space: 70, values: (u, splits) => splits.map((s) => timeFmt.format(s * 1000)) };
}

// "not defined" text for a view the server does not have, or null when it is there.
export function missingText(view) {
  return view.state === 'missing' || view.state === 'dropped'
      ? `View ${view.name} is not defined on this server` : null;
}

// A LiveView index (live.js) of a windowed view's rows by window_start: pages read the newest
// windows without scanning the whole view, however long its retention.
export class WindowIndex {
  constructor() {
    this.reset();
  }

  reset() {
    this.windows = new Map(); // window start (ms) -> Map<row key, row>
    this.latestMs = null;
  }

  upsert(key, row, old) {
    if (old !== undefined) this.remove(key, old);
    const ms = parseTime(row.window_start);
    if (ms === null) return;
    let bucket = this.windows.get(ms);
    if (!bucket) {
      bucket = new Map();
      this.windows.set(ms, bucket);
      if (this.latestMs === null || ms > this.latestMs) this.latestMs = ms;
    }
    bucket.set(key, row);
  }

  remove(key, old) {
    const ms = parseTime(old.window_start);
    const bucket = ms === null ? undefined : this.windows.get(ms);
    if (!bucket) return;
    bucket.delete(key);
    if (bucket.size > 0) return;
    this.windows.delete(ms);
    if (ms === this.latestMs) {
      this.latestMs = null;
      for (const m of this.windows.keys()) {
        if (this.latestMs === null || m > this.latestMs) this.latestMs = m;
      }
    }
  }

  rowsAt(ms) {
    return this.windows.get(ms)?.values() ?? [];
  }
}
