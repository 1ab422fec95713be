// Live exception and alert feed (#feed): the newest 100 items of recent_exceptions (one row per
// fulfilment.exception event) and recent_alerts (one row per anomaly alert), newest first;
// alerts highlighted. Each item is an <li data-event-id data-kind="exception"|"alert">, added
// in the animation frame after its delta arrived and never re-created while it stays.

import { LiveView } from './live.js';
import {
  $, dateTimeFmt, el, intFmt, missingText, parseTime, sameLocalDay, secondsFmt, setText,
} from './util.js';

const MAX_ITEMS = 100;

let exceptions = null;
let alerts = null;
const items = new Map(); // item id -> li on screen

export function mount() {
  exceptions = new LiveView('recent_exceptions', render);
  alerts = new LiveView('recent_alerts', render);
  return [exceptions, alerts];
}

export function unmount() {
  exceptions?.close();
  alerts?.close();
  exceptions = alerts = null;
  items.clear();
  $('feed-list').replaceChildren();
}

function timeLabel(ms) {
  return sameLocalDay(ms, Date.now()) ? secondsFmt.format(ms) : dateTimeFmt.format(ms);
}

function exceptionItem(row) {
  return {
    id: String(row.event_id),
    kind: 'exception',
    ms: parseTime(row.occurred_at) ?? parseTime(row.window_start) ?? 0,
    row,
  };
}

function alertItem(row) {
  return {
    id: `alert:${row.alert}/${row.warehouse_id ?? ''}/${row.window_start}`,
    kind: 'alert',
    // An alert is about a closed minute: it sorts at that minute's end.
    ms: (parseTime(row.window_start) ?? 0) + 60_000,
    row,
  };
}

function newest() {
  const all = [];
  if (exceptions) for (const row of exceptions.rows.values()) all.push(exceptionItem(row));
  if (alerts) for (const row of alerts.rows.values()) all.push(alertItem(row));
  all.sort((a, b) => b.ms - a.ms || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  return { total: all.length, shown: all.slice(0, MAX_ITEMS) };
}

function itemNode(item) {
  const li = el('li', { 'data-event-id': item.id, 'data-kind': item.kind, class: `feed-item ${item.kind}` });
  const r = item.row;
  const time = el('time', { datetime: new Date(item.ms).toISOString() }, timeLabel(item.ms));
  if (item.kind === 'alert') {
    const start = parseTime(r.window_start);
    li.append(
        time,
        el('span', { class: 'badge alert' }, 'Alert'),
        el('span', { class: 'what' }, `${r.alert}: ${r.warehouse_id ?? '(no warehouse)'}`),
        el('span', { class: 'detail' },
           `${intFmt.format(Number(r.exceptions) || 0)} exceptions in the minute from ` +
           `${start === null ? '?' : timeLabel(start)}` +
           (typeof r.threshold === 'number' ? ` (threshold ${r.threshold.toFixed(1)})` : '')));
  } else {
    const severity = typeof r.severity === 'string' ? r.severity : 'unknown';
    li.dataset.severity = severity;
    li.append(
        time,
        el('span', { class: `badge severity-${severity}` }, severity),
        el('span', { class: 'what' }, `${r.exception_code ?? 'EXCEPTION'} · ${r.warehouse_id ?? '(no warehouse)'}`),
        el('span', { class: 'detail' }, `order ${r.order_id ?? '—'}`));
  }
  return li;
}

function render() {
  if (!exceptions) return;
  const list = $('feed-list');
  const note = [missingText(exceptions), missingText(alerts)].filter(Boolean);
  setText('feed-missing', note.join(' · '));
  $('feed-missing').hidden = note.length === 0;

  const { total, shown } = newest();
  setText('feed-count', total > shown.length ? `newest ${shown.length} of ${intFmt.format(total)}`
                                             : `${intFmt.format(total)} item${total === 1 ? '' : 's'}`);
  setText('feed-alert-count', intFmt.format(alerts?.rows.size ?? 0));
  setText('feed-exception-count', intFmt.format(exceptions.rows.size));

  // Keyed update: existing items stay, new ones are inserted in place, old ones removed.
  const keep = new Set(shown.map((i) => i.id));
  for (const [id, li] of items) {
    if (!keep.has(id)) { li.remove(); items.delete(id); }
  }
  let cursor = list.firstElementChild;
  for (const item of shown) {
    let li = items.get(item.id);
    if (!li) {
      li = itemNode(item);
      items.set(item.id, li);
    }
    if (li === cursor) {
      cursor = cursor.nextElementSibling;
    } else {
      list.insertBefore(li, cursor);
    }
  }
  while (cursor) {
    const next = cursor.nextElementSibling;
    if (!cursor.dataset.eventId) cursor.remove(); // the placeholder
    cursor = next;
  }
  const empty = shown.length === 0;
  $('feed-empty').hidden = !empty;
  if (empty) {
    setText('feed-empty', exceptions.state === 'live' || alerts.state === 'live'
        ? 'No exceptions in the last hour' : exceptions.state === 'missing' ? 'Nothing to show' : 'Loading…');
  }
}
