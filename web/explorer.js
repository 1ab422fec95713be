// View explorer: #explorer lists the server's views (GET /v1/views); #explorer/<view> shows
// one view live (its rows, newest windows first, at most 200 on screen) with its SQL. The
// filter box takes `column = 'value'` terms joined by AND (numbers unquoted, NULL for null),
// or any other text to match anywhere in a row; it filters on the page. When every term is
// `key_column = 'text'` (a key column other than the window), the filter also goes to the
// server (`where=`), which then sends only the matching rows: a big view's snapshot stays
// small. Servers without filters ignore it, and the page's own filter gives the same rows.

import { LiveView, loadCatalog, requestFrame } from './live.js';
import { $, collator, el, intFmt, missingText, placeholderRow, setText } from './util.js';

const MAX_ROWS = 200;

let view = null;
let filter = { test: () => true, error: null };
let headSignature = '';
let listToken = 0;

export function mount(name) {
  const input = $('explorer-filter');
  input.value = '';
  filter = parseFilter('');
  headSignature = '';
  $('explorer-table').tHead.replaceChildren();
  $('explorer-table').tBodies[0].replaceChildren();
  if (!name) {
    $('explorer-list-panel').hidden = false;
    $('explorer-view-panel').hidden = true;
    renderList();
    return [];
  }
  $('explorer-list-panel').hidden = true;
  $('explorer-view-panel').hidden = false;
  setText('explorer-view-name', name);
  setText('explorer-sql', 'loading…');
  input.oninput = () => {
    filter = parseFilter(input.value);
    requestFrame(render);
    clearTimeout(whereTimer);
    whereTimer = setTimeout(() => resubscribeFiltered(name), WHERE_DEBOUNCE_MS);
  };
  view = new LiveView(name, render);
  return [view];
}

const WHERE_DEBOUNCE_MS = 400;
let whereTimer = null;

// The filter as SQL for the server, or null when the page alone must filter: only string
// equalities on key columns (not the window, whose type a text literal would not match) whose
// values the page has seen to be text, so that the server never refuses the subscription.
function serverWhere(current) {
  if (!current || !filter.terms || filter.terms.length === 0) return null;
  const sample = current.rows.values().next().value;
  for (const { column, value } of filter.terms) {
    if (typeof value !== 'string' || !current.key.includes(column)) return null;
    if (column === 'window_start' || column === 'window_end') return null;
    if (sample !== undefined && typeof sample[column] !== 'string') return null;
  }
  return filter.terms.map(({ column, value }) => `${column} = '${value.replaceAll("'", "''")}'`).join(' AND ');
}

function resubscribeFiltered(name) {
  whereTimer = null;
  if (!view || view.name !== name) return;
  const where = serverWhere(view);
  if (where === view.where) return;
  view.close();
  view = new LiveView(name, render, null, { where });
  requestFrame(render);
}

export function unmount() {
  view?.close();
  view = null;
  clearTimeout(whereTimer);
  whereTimer = null;
  clearTimeout(bigTimer);
  bigTimer = null;
  listToken += 1;
}

async function renderList() {
  const token = ++listToken;
  const tbody = $('explorer-views').tBodies[0];
  tbody.replaceChildren(placeholderRow(5, 'Loading…'));
  const views = await loadCatalog();
  if (token !== listToken) return;
  if (!views) {
    tbody.replaceChildren(placeholderRow(5, 'Cannot reach the server'));
    return;
  }
  const sorted = [...views.values()].sort((a, b) => collator.compare(a.name, b.name));
  tbody.replaceChildren(...sorted.map((v) => {
    const tr = el('tr', { 'data-view': v.name });
    const th = el('th', { scope: 'row' });
    th.append(el('a', { href: `#explorer/${encodeURIComponent(v.name)}` }, v.name));
    tr.append(th,
              el('td', { class: 'key' }, Array.isArray(v.key) ? v.key.join(', ') : ''),
              el('td', { 'data-field': 'rows' }, intFmt.format(Number(v.rows) || 0)),
              el('td', { 'data-field': 'version' }, String(v.version ?? '—')),
              el('td', { 'data-field': 'state' }, String(v.state ?? '')));
    return tr;
  }));
}

// ---- filter ----

function literal(text) {
  const t = text.trim();
  if (/^null$/i.test(t)) return null;
  const quoted = t.match(/^'((?:[^']|'')*)'$/);
  if (quoted) return quoted[1].replaceAll("''", "'");
  if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(t)) return Number(t);
  if (/^(true|false)$/i.test(t)) return t.toLowerCase() === 'true';
  return undefined;
}

// Returns { test(row), error, terms }: an error names the term it could not read; `terms`
// ({column, value}) only for the `column = value` form.
export function parseFilter(text) {
  const trimmed = text.trim();
  if (trimmed === '') return { test: () => true, error: null };
  if (!trimmed.includes('=')) {
    const needle = trimmed.toLowerCase();
    return { test: (row) => Object.values(row).some((v) => String(v).toLowerCase().includes(needle)), error: null };
  }
  const terms = trimmed.split(/\s+and\s+/i);
  const checks = [];
  const parsed = [];
  for (const term of terms) {
    const m = term.match(/^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.+?)\s*$/);
    const value = m ? literal(m[2]) : undefined;
    if (!m || value === undefined) {
      return { test: () => true, error: `cannot read "${term.trim()}": write column = 'text', column = 123 or column = NULL` };
    }
    const column = m[1];
    parsed.push({ column, value });
    checks.push((row) => (value === null ? row[column] === null || row[column] === undefined
                                         : row[column] === value));
  }
  return { test: (row) => checks.every((c) => c(row)), error: null, terms: parsed };
}

// ---- one view ----

function compareRows(a, b) {
  const wa = a.window_start ?? '';
  const wb = b.window_start ?? '';
  if (wa !== wb) return wa < wb ? 1 : -1; // newest window first
  return 0;
}

function cellText(v) {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Math.round(v * 1e6) / 1e6);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

// A big view is re-sorted at most every BIG_VIEW_EVERY_MS (its deltas may come every frame).
const BIG_VIEW_ROWS = 5000;
const BIG_VIEW_EVERY_MS = 500;
let lastBigRender = 0;
let bigTimer = null;

function render() {
  if (!view) return;
  if (view.rows.size > BIG_VIEW_ROWS) {
    const wait = lastBigRender + BIG_VIEW_EVERY_MS - performance.now();
    if (wait > 0) {
      bigTimer ??= setTimeout(() => { bigTimer = null; requestFrame(render); }, wait);
      return;
    }
    lastBigRender = performance.now();
  }
  const missing = missingText(view);
  $('explorer-missing').hidden = !missing;
  setText('explorer-missing', missing ?? '');
  setText('explorer-sql', view.sql ?? (missing ? '' : 'loading…'));
  setText('explorer-version', view.version === null ? '—' : String(view.version));
  setText('explorer-filter-error', filter.error ?? '');
  $('explorer-filter').setAttribute('aria-invalid', filter.error ? 'true' : 'false');

  const columns = view.columns.map((c) => (typeof c === 'string' ? c : c?.name)).filter(Boolean);
  const table = $('explorer-table');
  const signature = columns.join('\u0000');
  if (signature !== headSignature) {
    headSignature = signature;
    const tr = el('tr');
    for (const c of columns) tr.append(el('th', { scope: 'col', class: view.key.includes(c) ? 'key' : '' }, c));
    table.tHead.replaceChildren(tr);
  }
  const matching = [];
  for (const row of view.rows.values()) if (filter.test(row)) matching.push(row);
  matching.sort(compareRows);
  const shown = matching.slice(0, MAX_ROWS);
  setText('explorer-count', `${intFmt.format(matching.length)} of ${intFmt.format(view.rows.size)} rows` +
          (view.where ? ' (filter sent to the server)' : '') +
          (matching.length > shown.length ? ` · newest ${shown.length} shown` : ''));
  const tbody = table.tBodies[0];
  if (shown.length === 0) {
    tbody.replaceChildren(placeholderRow(Math.max(1, columns.length),
        missing ?? (view.state === 'live' ? 'No rows' : 'Loading…')));
    return;
  }
  tbody.replaceChildren(...shown.map((row) => {
    const tr = el('tr');
    for (const c of columns) {
      const v = row[c];
      tr.append(el('td', { class: typeof v === 'number' ? 'num' : 'text', 'data-column': c }, cellText(v)));
    }
    return tr;
  }));
}
