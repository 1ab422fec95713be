// Shared pieces of the differential tests that compare Sluice's views with DuckDB running the
// same queries as batch SQL over the same events.
import assert from 'node:assert/strict';

import { runSql, sleep } from './sluice.js';

// A small seeded PRNG (mulberry32): the same seed gives the same events on every run.
export function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Waits until every view named in `views` (all views when omitted) has processed everything
// its stream holds (SHOW VIEWS reports lag 0), for up to `timeoutMs`.
export async function waitForCatchUp(url, views = null, timeoutMs = 20000) {
  for (let i = 0; i < timeoutMs / 50; i++) {
    const shown = (await runSql(url, 'SHOW VIEWS')).body.results[0];
    const lag = shown.columns.indexOf('lag');
    if (shown.rows.every((r) => (views !== null && !views.includes(r[0])) || r[lag] === 0)) return;
    await sleep(50);
  }
  assert.fail('the views did not catch up');
}

// Loads the NDJSON events of `file` into DuckDB as the table `events`, and the view `ev` that
// adds `t_us` (occurred_at in microseconds). A strptime format no value matches keeps RFC 3339
// strings as VARCHAR, as they are in the events.
export async function loadEvents(connection, file) {
  await connection.run(
    `CREATE TABLE events AS SELECT * FROM read_json('${file}', ` +
    `format='newline_delimited', timestampformat='%d|%m|%Y!', dateformat='%d|%m|%Y!', ` +
    `sample_size=-1)`);
  await connection.run(
    'CREATE VIEW ev AS SELECT *, epoch_us(occurred_at::TIMESTAMP) AS t_us FROM events');
}
