// The late-events side output, end to end against the real binary: events a view's windows
// refuse (an on_close window that has closed, a window past the retention) are listed by
// GET /v1/views/{view}/late-events with their position, event time, the watermark and the
// reason, counted in the metrics, and survive kill -9 without being recorded twice when the
// restarted pipeline replays the log.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { freshDataDir, getJson, postEvents, runSql, sleep, startSluice } from './lib/sluice.js';

const event = (id, at) => ({ event_id: id, event_type: 'pick.started', warehouse_id: 'WH-01',
                             occurred_at: at });

async function until(what, check) {
  for (let i = 0; i < 200; i++) {
    const value = await check();
    if (value) return value;
    await sleep(50);
  }
  assert.fail(`timed out waiting for ${what}`);
}

const lateEvents = async (url, view, query = '') => {
  const res = await fetch(`${url}/v1/views/${view}/late-events${query}`);
  return { status: res.status, body: await res.json() };
};

function metric(text, name, view) {
  const m = text.match(new RegExp(`^${name}\\{pipeline="${view}"\\} (\\d+)$`, 'm'));
  return m ? Number(m[1]) : 0;
}

test('late events are kept, listed, counted and not duplicated by a replay after kill -9',
  async () => {
    const dataDir = freshDataDir();
    // No checkpoint before the kill: the restarted pipeline replays every event.
    const config = path.join(dataDir, 'sluice.toml');
    writeFileSync(config, '[pipeline]\ncheckpoint_interval = "1 hour"\n');
    let sluice = await startSluice({ dataDir, args: ['--config', config] });
    try {
      const ddl = await runSql(sluice.url, `
        CREATE STREAM picks WITH (event_time = 'occurred_at', watermark_delay = '1 second',
                                  partitions = 1);
        CREATE MATERIALIZED VIEW closed_minutes WITH (emit = 'on_close') AS
          SELECT window_start, count(*) AS n
          FROM TUMBLE(picks, occurred_at, INTERVAL '1' MINUTE) GROUP BY window_start;
        CREATE MATERIALIZED VIEW recent_minutes WITH (retention = '1 minute') AS
          SELECT window_start, count(*) AS n
          FROM TUMBLE(picks, occurred_at, INTERVAL '1' MINUTE) GROUP BY window_start;
        CREATE MATERIALIZED VIEW order_sessions WITH (emit = 'on_close') AS
          SELECT warehouse_id, window_start, window_end, count(*) AS n
          FROM SESSION(picks, occurred_at, INTERVAL '30' SECOND)
          GROUP BY warehouse_id, window_start, window_end`);
      assert.equal(ddl.status, 200, JSON.stringify(ddl.body));

      const first = await postEvents(sluice.url, 'picks', [
        event('e1', '2026-11-25T08:00:10Z'),
        event('e2', '2026-11-25T08:02:30Z'),  // watermark 08:02:29: 08:00 closes and is purged
      ].map((e) => JSON.stringify(e)).join('\n'));
      assert.equal(first.status, 200);
      await until('the 08:00 window to close', async () =>
        (await getJson(`${sluice.url}/v1/views/closed_minutes`)).body.rows.length === 1);

      const late = event('e3', '2026-11-25T08:00:40Z');
      assert.equal((await postEvents(sluice.url, 'picks', JSON.stringify(late))).status, 200);
      const page = await until('the late event', async () => {
        const r = await lateEvents(sluice.url, 'closed_minutes');
        return r.body.late_events?.length === 1 ? r.body : null;
      });
      assert.equal(page.view, 'closed_minutes');
      const [entry] = page.late_events;
      assert.equal(entry.reason, 'window_closed');
      assert.equal(entry.partition, 0);
      assert.equal(entry.source_offset, 2);
      assert.equal(entry.event_time, '2026-11-25T08:00:40Z');
      assert.equal(entry.watermark, '2026-11-25T08:02:29Z');
      assert.deepEqual(JSON.parse(entry.raw), late);
      assert.equal(page.next_offset, entry.offset + 1);
      assert.equal(page.end_offset, 1);

      const purged = await until('the purged window\'s late event', async () => {
        const r = await lateEvents(sluice.url, 'recent_minutes');
        return r.body.late_events?.length === 1 ? r.body.late_events[0] : null;
      });
      assert.equal(purged.reason, 'past_retention');
      // The session view: e3's own session [08:00:40, 08:01:10) would be closed already.
      const session = await until('the session view\'s late event', async () => {
        const r = await lateEvents(sluice.url, 'order_sessions');
        return r.body.late_events?.length === 1 ? r.body.late_events[0] : null;
      });
      assert.equal(session.reason, 'window_closed');

      const metrics = await (await fetch(`${sluice.url}/metrics`)).text();
      assert.equal(metric(metrics, 'sluice_late_events_recorded_total', 'closed_minutes'), 1);
      assert.equal(metric(metrics, 'sluice_dropped_events_total', 'closed_minutes'), 1);

      // Errors: an unknown view, a malformed parameter.
      assert.equal((await lateEvents(sluice.url, 'nope')).status, 404);
      assert.equal((await lateEvents(sluice.url, 'closed_minutes', '?from=x')).status, 400);
      // Paging past the end: empty, next_offset unchanged.
      const past = await lateEvents(sluice.url, 'closed_minutes', '?from=1&limit=10');
      assert.deepEqual(past.body.late_events, []);
      assert.equal(past.body.next_offset, 1);

      // kill -9 before any checkpoint: the restart replays e1, e2, e3 and refuses e3 again.
      await sluice.kill9();
      sluice = await startSluice({ dataDir, args: ['--config', config] });
      await until('the replay', async () =>
        (await getJson(`${sluice.url}/v1/views/closed_minutes`)).body.rows.length === 1);
      await sleep(300);
      for (const view of ['closed_minutes', 'recent_minutes', 'order_sessions']) {
        const again = await lateEvents(sluice.url, view);
        assert.equal(again.body.late_events.length, 1, `${view}: recorded once`);
      }
      const replayed = await (await fetch(`${sluice.url}/metrics`)).text();
      assert.equal(metric(replayed, 'sluice_dropped_events_total', 'closed_minutes'), 1,
                   'the replay refused it again');
      assert.equal(metric(replayed, 'sluice_late_events_recorded_total', 'closed_minutes'), 0,
                   'but did not record it again');

      // A clean restart (final checkpoint) keeps the entry too; new late events still append.
      await sluice.terminate();
      sluice = await startSluice({ dataDir, args: ['--config', config] });
      assert.equal((await postEvents(sluice.url, 'picks',
                                     JSON.stringify(event('e4', '2026-11-25T08:01:05Z')))).status, 200);
      const after = await until('the second late event', async () => {
        const r = await lateEvents(sluice.url, 'closed_minutes');
        return r.body.late_events?.length === 2 ? r.body.late_events : null;
      });
      assert.deepEqual(after.map((e) => JSON.parse(e.raw).event_id), ['e3', 'e4']);
      assert.equal(after[1].source_offset, 3);

      // Dropping the view drops its late events; a view created again starts with none.
      await runSql(sluice.url, 'DROP MATERIALIZED VIEW closed_minutes');
      assert.equal((await lateEvents(sluice.url, 'closed_minutes')).status, 404);
    } finally {
      await sluice.stop();
    }
  });
