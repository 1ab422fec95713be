// The dashboard's subscription client (web/live.js) against a scripted server: the protocol
// rules it must follow with both forms of delta (with `since`, and consecutive versions
// without it), in-place snapshots, `dropped`, reconnecting after a close, views the server
// does not list, and the one-callback-per-frame flush. Browser globals are stubbed (a fake
// WebSocket, fetch, requestAnimationFrame); the real browser runs in dashboard*.test.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';

const sockets = [];
class FakeSocket {
  constructor(url) {
    this.url = url;
    this.closedWith = null;
    sockets.push(this);
  }
  close(code) {
    this.closedWith = code;
  }
  send() {}
  // Server side of the script.
  deliver(msg) {
    this.onmessage?.({ data: typeof msg === 'string' ? msg : JSON.stringify(msg) });
  }
  drop(code = 1006) {
    this.onclose?.({ code });
  }
}

let views = ['v'];
let frames = [];
globalThis.WebSocket = FakeSocket;
globalThis.document = { baseURI: 'http://127.0.0.1:8080/' };
globalThis.requestAnimationFrame = (fn) => frames.push(fn);
globalThis.fetch = async (url) => {
  assert.equal(String(url), 'v1/views');
  return { ok: true, json: async () => ({ views: views.map((name) => ({ name, sql: `CREATE ... ${name}`, columns: ['k', 'n'] })) }) };
};

const { LiveView, requestFrame } = await import('../../web/live.js');

const flushFrames = () => {
  const due = frames;
  frames = [];
  for (const fn of due) fn();
};
const until = async (cond) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), 'condition not reached');
};
const rowsOf = (view) => Object.fromEntries([...view.rows.values()].map((r) => [r.k, r.n]));
const snapshot = (version, rows) => ({ type: 'snapshot', view: 'v', version, key: ['k'], columns: ['k', 'n'], rows });

test('snapshot, in-place resync, deltas with and without since, gaps, dropped, reconnect', async () => {
  sockets.length = 0;
  views = ['v'];
  let renders = 0;
  const render = () => { renders += 1; };
  const view = new LiveView('v', render);
  await until(() => sockets.length === 1);
  assert.equal(sockets[0].url, 'ws://127.0.0.1:8080/v1/subscribe?view=v');
  assert.equal(view.sql, 'CREATE ... v');
  const ws = sockets[0];

  ws.deliver(snapshot(5, [{ k: 'a', n: 1 }]));
  assert.equal(view.state, 'live');
  assert.deepEqual(rowsOf(view), { a: 1 });

  // Without `since`: consecutive versions apply, older ones are skipped.
  ws.deliver({ type: 'delta', version: 6, rows: [{ k: 'b', n: 2 }] });
  ws.deliver({ type: 'delta', version: 6, rows: [{ k: 'b', n: 99 }] });
  ws.deliver({ type: 'delta', version: 4, rows: [{ k: 'a', n: 99 }] });
  assert.deepEqual(rowsOf(view), { a: 1, b: 2 });
  assert.equal(view.version, 6);

  // With `since` (coalesced deltas may skip versions): applied when since == ours.
  ws.deliver({ type: 'delta', version: 9, since: 6, rows: [{ k: 'a', n: 3 }], deleted: [{ k: 'b' }] });
  assert.deepEqual(rowsOf(view), { a: 3 });
  ws.deliver({ type: 'delta', version: 8, since: 5, rows: [{ k: 'z', n: 0 }] }); // older: skipped
  assert.equal(view.version, 9);
  assert.equal(ws.closedWith, null);

  // An in-place snapshot on the same connection replaces everything.
  ws.deliver(snapshot(20, [{ k: 'c', n: 7 }]));
  assert.deepEqual(rowsOf(view), { c: 7 });
  assert.equal(view.version, 20);
  assert.equal(view.resyncs, 1);
  assert.equal(sockets.length, 1);

  // All of this asked for one render, run once in the next frame.
  assert.equal(renders, 0);
  flushFrames();
  assert.equal(renders, 1);

  // A gap with `since` -> close and resubscribe at once.
  ws.deliver({ type: 'delta', version: 23, since: 21, rows: [] });
  assert.equal(ws.closedWith, 4000);
  assert.equal(view.state, 'reconnecting');
  await until(() => sockets.length === 2);
  const ws2 = sockets[1];
  ws.deliver({ type: 'delta', version: 21, since: 20, rows: [{ k: 'old', n: 1 }] }); // the old socket is ignored
  ws2.deliver(snapshot(23, [{ k: 'c', n: 8 }]));
  assert.deepEqual(rowsOf(view), { c: 8 });
  assert.equal(view.state, 'live');

  // A gap without `since` -> the same.
  ws2.deliver({ type: 'delta', version: 25, rows: [] });
  assert.equal(ws2.closedWith, 4000);
  await until(() => sockets.length === 3);
  const ws3 = sockets[2];
  ws3.deliver(snapshot(25, []));

  // Unreadable message -> resubscribe.
  ws3.deliver('{not json');
  assert.equal(ws3.closedWith, 4000);
  await until(() => sockets.length === 4);
  const ws4 = sockets[3];
  ws4.deliver(snapshot(26, [{ k: 'd', n: 1 }]));

  // The server goes away: reconnect with backoff, then resync from the new snapshot.
  ws4.drop(1006);
  assert.equal(view.state, 'reconnecting');
  await until(() => sockets.length === 5);
  sockets[4].deliver(snapshot(26, [{ k: 'd', n: 1 }, { k: 'e', n: 2 }]));
  assert.deepEqual(rowsOf(view), { d: 1, e: 2 });
  assert.equal(view.state, 'live');

  // Dropped: no rows, not defined until the list has it again (no blind reconnect).
  views = [];
  sockets[4].deliver({ type: 'dropped', view: 'v' });
  sockets[4].drop(1000);
  assert.equal(view.state, 'missing');
  assert.equal(view.rows.size, 0);
  assert.equal(sockets.length, 5);
  view.close();
});

test('a view the server does not list is "missing" and never subscribed to', async () => {
  sockets.length = 0;
  views = ['other'];
  const view = new LiveView('absent', () => {});
  await until(() => view.state === 'missing');
  assert.equal(sockets.length, 0);
  view.close();
});

test('a server filter goes in the URL, recomputed at every reconnect when it is a function', async () => {
  sockets.length = 0;
  views = ['v'];
  let n = 0;
  const view = new LiveView('v', () => {}, null, { where: () => `k >= '${++n}'` });
  await until(() => sockets.length === 1);
  const whereOf = (socket) => new URL(socket.url).searchParams.get('where');
  assert.equal(new URL(sockets[0].url).pathname, '/v1/subscribe');
  assert.equal(whereOf(sockets[0]), "k >= '2'");
  sockets[0].deliver(snapshot(1, []));
  sockets[0].drop(1006);
  await until(() => sockets.length === 2);
  assert.equal(whereOf(sockets[1]), "k >= '3'");
  assert.equal(view.where, "k >= '3'");
  view.close();
});

test('frame callbacks run once per frame however often they are requested', () => {
  flushFrames(); // whatever the tests before left pending
  let a = 0;
  let b = 0;
  const fa = () => { a += 1; };
  const fb = () => { b += 1; };
  for (let i = 0; i < 10; i++) { requestFrame(fa); requestFrame(fb); }
  assert.equal(frames.length, 1, 'one requestAnimationFrame for everything');
  flushFrames();
  assert.deepEqual([a, b], [1, 1]);
  requestFrame(fa);
  flushFrames();
  assert.equal(a, 2);
});
