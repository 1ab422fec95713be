// Live exception and alert feed (#feed): the newest 100 items of recent_exceptions (one row per
// fulfilment.exception event) and recent_alerts (one row per anomaly alert), newest first;
// alerts highlighted. Each item is an <li data-event-id data-kind="exception"|"alert">, added
// in the animation frame after its delta arrived and kept (not re-created) while it stays.

import { LiveView, requestFrame } from './live.js';
import {
  $, dateTimeFmt, el, intFmt, missingText, parseTime, sameLocalDay, secondsFmt, setText,
} from './util.js';

const MAX_ITEMS = 100;

const FRESH_MS = 1500; // how long a new item stays tinted (a class, not an animation: cheap)
const KEEP = 2 * MAX_ITEMS; // candidates kept sorted, so that deletions rarely force a rebuild

let exceptions = null;
let alerts = null;
const items = new Map(); // item id -> li on screen
const fresh = new Set(); // items still tinted as new
let freshTimer = null;

// The newest KEEP items of both views, sorted newest first, kept up to date from row changes
// (LiveView index hooks) so that a frame never sorts the whole hour of exceptions. A deletion
// that leaves fewer than MAX_ITEMS candidates while the views hold more forces a rebuild.
class Newest {
  constructor() {
    this.top = [];
    this.stale = true;
  }

  hooks(makeItem) {
    return {
      reset: () => { this.stale = true; },
      upsert: (key, row, old) => {
        if (old !== undefined) this.drop(makeItem(old).id);
        this.add(makeItem(row));
      },
      remove: (key, old) => this.drop(makeItem(old).id),
    };
  }

  add(item) {
    if (this.stale) return;
    const last = this.top[this.top.length - 1];
    if (this.top.length >= KEEP && compareItems(item, last) > 0) return;
    let lo = 0;
    let hi = this.top.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareItems(this.top[mid], item) < 0) lo = mid + 1; else hi = mid;
    }
    this.top.splice(lo, 0, item);
    if (this.top.length > KEEP) this.top.pop();
  }

  drop(id) {
    if (this.stale) return;
    const i = this.top.findIndex((it) => it.id === id);
    if (i >= 0) this.top.splice(i, 1);
    if (this.top.length < MAX_ITEMS && total() > this.top.length) this.stale = true;
  }

  shown() {
    if (this.stale) {
      const all = [];
      if (exceptions) for (const row of exceptions.rows.values()) all.push(exceptionItem(row));
      if (alerts) for (const row of alerts.rows.values()) all.push(alertItem(row));
      all.sort(compareItems);
      this.top = all.slice(0, KEEP);
      this.stale = false;
    }
    return this.top.slice(0, MAX_ITEMS);
  }
}

let newest = new Newest();

export function mount() {
  newest = new Newest();
  exceptions = new LiveView('recent_exceptions', render, newest.hooks(exceptionItem));
  alerts = new LiveView('recent_alerts', render, newest.hooks(alertItem));
  return [exceptions, alerts];
}

export function unmount() {
  exceptions?.close();
  alerts?.close();
  exceptions = alerts = null;
  items.clear();
  fresh.clear();
  clearTimeout(freshTimer);
  freshTimer = null;
  $('feed-list').replaceChildren();
}

// Untints the items that have been new for FRESH_MS, in one timer for all of them.
function untint() {
  freshTimer = null;
  const now = performance.now();
  let next = Infinity;
  for (const li of fresh) {
    if (li.freshUntil <= now) {
      li.classList.remove('fresh');
      fresh.delete(li);
    } else {
      next = Math.min(next, li.freshUntil);
    }
  }
  if (next !== Infinity) freshTimer = setTimeout(() => requestFrame(untint), next - now + 20);
}

function total() {
  return (exceptions?.rows.size ?? 0) + (alerts?.rows.size ?? 0);
}

// Newest first; ties by id, so the order does not depend on arrival.
function compareItems(a, b) {
  return b.ms - a.ms || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

const plural = (n, noun) => `${intFmt.format(n)} ${noun}${n === 1 ? '' : 's'}`;

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

function itemNode(item) {
  const li = el('li', { 'data-event-id': item.id, 'data-kind': item.kind, class: `feed-item ${item.kind}` });
  const r = item.row;
  li.feedRow = r;
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

  const shown = newest.shown();
  const count = total();
  setText('feed-count', count > shown.length ? `newest ${shown.length} of ${intFmt.format(count)}`
                                             : plural(count, 'item'));
  setText('feed-alert-count', plural(alerts?.rows.size ?? 0, 'alert'));
  setText('feed-exception-count', plural(exceptions.rows.size, 'exception'));

  // Keyed update: existing items stay, new ones are inserted in place, old ones removed.
  const keep = new Set(shown.map((i) => i.id));
  for (const [id, li] of items) {
    if (!keep.has(id)) { li.remove(); items.delete(id); fresh.delete(li); }
  }
  const arriving = items.size > 0; // items after the first fill are highlighted as they arrive
  let cursor = list.firstElementChild;
  for (const item of shown) {
    let li = items.get(item.id);
    if (li && li.feedRow !== item.row) { // the row changed: draw it again in place
      const again = itemNode(item);
      if (li === cursor) cursor = again;
      li.replaceWith(again);
      li = again;
      items.set(item.id, li);
    }
    if (!li) {
      li = itemNode(item);
      if (arriving) {
        li.classList.add('fresh');
        li.freshUntil = performance.now() + FRESH_MS;
        fresh.add(li);
      }
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
  if (fresh.size > 0 && freshTimer === null) freshTimer = setTimeout(() => requestFrame(untint), FRESH_MS + 20);
  const empty = shown.length === 0;
  $('feed-empty').hidden = !empty;
  if (empty) {
    setText('feed-empty', exceptions.state === 'live' || alerts.state === 'live'
        ? 'No exceptions in the last hour' : exceptions.state === 'missing' ? 'Nothing to show' : 'Loading…');
  }
}
