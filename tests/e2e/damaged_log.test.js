// A flipped bit on disk (issue #5): the damaged record is detected by its CRC32C and never
// served, the records around it are, the damage is reported (error log and the
// sluice_log_damaged_records metric), and the server keeps serving.
import assert from 'node:assert/strict';
import { closeSync, openSync, readSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { freshDataDir, getJson, ndjson, postEvents, runSql, sleep, startSluice } from './lib/sluice.js';

test('a bit flipped inside a sealed segment: that record is skipped and reported, none other', async () => {
  const dataDir = freshDataDir();
  const config = path.join(dataDir, 'small-segments.toml');
  writeFileSync(config, '[log]\nsegment_bytes = 65536\n');
  try {
    let sluice = await startSluice({ dataDir, args: ['--config', config] });
    assert.equal((await runSql(sluice.url,
        `CREATE STREAM orders WITH (event_time = 'placed_at', partitions = 1)`)).status, 200);
    const events = Array.from({ length: 2000 }, (_, i) => ({
      event_id: `o-${i}`, placed_at: new Date(Date.UTC(2026, 10, 25, 8, 0, i % 60)).toISOString(),
      customer: `C${i % 5}`, total: i,
    }));
    for (let i = 0; i < events.length; i += 100) {  // a segment rolls between appends
      const res = await postEvents(sluice.url, 'orders', ndjson(events.slice(i, i + 100)));
      assert.equal(res.status, 200);
      assert.equal(res.body.accepted, 100);
    }
    await sluice.stop({ keepData: true });

    const partitionDir = path.join(dataDir, 'streams', 'orders', 'p0');
    const segments = readdirSync(partitionDir).filter((f) => f.endsWith('.log')).sort();
    assert.ok(segments.length >= 3, `expected several segments, got ${segments}`);
    const fd = openSync(path.join(partitionDir, segments[0]), 'r+');
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, 30000);
    byte[0] ^= 0x04;
    writeSync(fd, byte, 0, 1, 30000);
    closeSync(fd);

    sluice = await startSluice({ dataDir, args: ['--config', config] });
    assert.equal((await runSql(sluice.url, `CREATE MATERIALIZED VIEW per_customer AS
        SELECT customer, count(*) AS orders, sum(total) AS revenue FROM orders GROUP BY customer`))
        .status, 200);
    let total = 0;
    for (let i = 0; i < 100 && total < 1999; i++) {
      const rows = (await getJson(`${sluice.url}/v1/views/per_customer`)).body.rows;
      total = rows.reduce((n, r) => n + r.orders, 0);
      if (total < 1999) await sleep(50);
    }
    assert.equal(total, 1999, 'every record but the damaged one is served');
    let metrics = '';
    for (let i = 0; i < 40 && !/sluice_log_damaged_records_total\{stream="orders"\} 1\b/.test(metrics); i++) {
      await sleep(250);
      metrics = await (await fetch(`${sluice.url}/metrics`)).text();
    }
    assert.match(metrics, /sluice_log_damaged_records_total\{stream="orders"\} 1\b/);
    assert.match(sluice.output(), /are damaged .*skipped, never served/);
    assert.equal((await getJson(`${sluice.url}/healthz`)).status, 200);
    await sluice.stop({ keepData: true });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
