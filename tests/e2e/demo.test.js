// `sluice demo`: the dashboard's views are defined (in SQL, by the binary) and fill from the
// built-in generator; a second start over the same data keeps them.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';

import { freshDataDir, getJson, runSql, sleep, startSluice } from './lib/sluice.js';

const DEMO_VIEWS = ['events_per_minute', 'events_per_minute_1d', 'events_per_minute_1h',
  'exceptions_per_minute', 'financial_totals',
  'order_sessions', 'pick_durations', 'recent_alerts', 'recent_exceptions'];

async function viewNames(url) {
  const res = await runSql(url, 'SHOW VIEWS');
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.results[0].rows.map((r) => r[0]).sort();
}

test('sluice demo defines the dashboard views and the generator fills them', async () => {
  const dataDir = freshDataDir();
  try {
    // A fast shift schedule, so that orders go through their lifecycle within seconds.
    let demo = await startSluice({ dataDir, command: 'demo', args: ['--speedup', '600'] });
    assert.deepEqual(await viewNames(demo.url), [...DEMO_VIEWS].sort());
    const alerts = (await runSql(demo.url, 'SHOW ALERTS')).body.results[0].rows;
    assert.deepEqual(alerts.map((r) => r[0]), ['exception_spike']);

    const filled = ['events_per_minute', 'financial_totals', 'order_sessions', 'pick_durations'];
    const deadline = Date.now() + 30000;
    let empty = filled;
    while (empty.length > 0 && Date.now() < deadline) {
      const counts = await Promise.all(empty.map(
          async (v) => (await getJson(`${demo.url}/v1/views/${v}`)).body.rows.length));
      empty = empty.filter((_, i) => counts[i] === 0);
      if (empty.length > 0) await sleep(250);
    }
    assert.deepEqual(empty, [], 'views still empty after 30 s of generated events');
    const picks = await runSql(demo.url,
        'SELECT sum(picks) AS picks, min(p50_seconds) AS fastest FROM pick_durations');
    assert.equal(picks.status, 200, JSON.stringify(picks.body));
    const [total, fastest] = picks.body.results[0].rows[0];
    assert.ok(total > 0 && fastest >= 0, JSON.stringify(picks.body));
    await demo.stop({ keepData: true });

    demo = await startSluice({ dataDir, command: 'demo', args: ['--no-generator'] });
    assert.deepEqual(await viewNames(demo.url), [...DEMO_VIEWS].sort());
    assert.ok(!/demo view not created/.test(demo.output()), demo.output());
    await demo.stop({ keepData: true });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
