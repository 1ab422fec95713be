// Sluice live dashboard: the shell. Hash routes pick a page (#overview, #feed, #picks,
// #explorer, #explorer/<view>); only the shown page holds subscriptions (live.js), and the
// connection badge sums up their state. No framework; uPlot (window.uPlot, loaded by
// index.html) for the charts.

import { activeViews, onStateChange, overallState } from './live.js';
import * as explorer from './explorer.js';
import * as feed from './feed.js';
import * as overview from './overview.js';
import * as picks from './picks.js';
import { $ } from './util.js';

const PAGES = { overview, feed, picks, explorer };
const TITLES = { overview: 'Overview', feed: 'Exceptions & alerts', picks: 'Pick durations',
                 explorer: 'View explorer' };

// Test hooks: overview's counters plus the route and every live view's state.
const dashboard = overview.dashboard;
dashboard.route = null;
dashboard.views = {};
window.sluiceDashboard = dashboard;

let current = null; // { name, module }

function parseRoute() {
  const hash = decodeURIComponent(location.hash.replace(/^#\/?/, ''));
  const [name, ...rest] = hash.split('/');
  return PAGES[name] ? { name, param: rest.join('/') || null } : { name: 'overview', param: null };
}

function route() {
  const { name, param } = parseRoute();
  current?.module.unmount();
  for (const section of document.querySelectorAll('[data-page]')) {
    section.hidden = section.dataset.page !== name;
  }
  for (const link of document.querySelectorAll('nav.tabs a')) {
    if (link.dataset.route === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `${TITLES[name]} — Sluice`;
  dashboard.route = param ? `${name}/${param}` : name;
  current = { name, module: PAGES[name] };
  current.module.mount(param);
  updateConnection();
}

function updateConnection() {
  const views = activeViews();
  dashboard.views = Object.fromEntries(views.map((v) => [v.name, {
    state: v.state, version: v.version, rows: v.rows.size, resyncs: v.resyncs, where: v.where,
  }]));
  const state = overallState(views);
  dashboard.connection = state;
  const badge = $('connection');
  badge.dataset.state = state;
  const problem = views.find((v) => v.state === 'reconnecting');
  badge.title = problem ? `${problem.name}: ${problem.detail}` : views.map((v) => `${v.name}: ${v.state}`).join('\n');
  badge.querySelector('.connection-text').textContent =
      state === 'live' ? 'Live' : state === 'connecting' ? 'Connecting…' : 'Reconnecting…';
}

onStateChange(updateConnection);
window.addEventListener('hashchange', route);
route();
