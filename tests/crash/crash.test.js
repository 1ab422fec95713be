// The short form of the crash harness (harness.js), run by `make test`: 20 kills -9 under a
// load of 5,000 events/s with producer retries and re-sends. `make chaos` runs the long form.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { runCrashHarness } from './harness.js';

test('20 kills under load: no financial event lost or counted twice, no acknowledged event lost',
    { timeout: 600000 }, async () => {
      const report = await runCrashHarness({ kills: 20, rate: 5000, seed: 20261126 });
      console.log(JSON.stringify({ financial: report.financial, operational: report.operational,
        kills: report.stats.kills, events: report.stats.events,
        eventsPerSecond: Math.round(report.stats.eventsPerSecond),
        duplicatesReported: report.stats.duplicatesReported,
        slowestRestartMs: Math.max(...report.stats.restartMs) }));
      assert.equal(report.stats.kills, 20);
      assert.ok(report.stats.resent > 0, 'the producer re-sent acknowledged batches');
      assert.deepEqual(report.problems, []);
      assert.ok(report.ok);
    });
