// Backpressure (issue #5): request bodies held in memory across all connections are bounded
// ([http] max_body_bytes_in_memory). A request that would go past the bound is answered 503
// with Retry-After before its body is read, and is accepted once memory is freed; the request
// already in memory is unaffected.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';

import { freshDataDir, postEvents, runSql, sleep, startSluice } from './lib/sluice.js';

function body(prefix, bytes) {
  const lines = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = JSON.stringify({ event_id: `${prefix}-${i}`, at: '2026-11-25T08:00:00Z', pad: 'x'.repeat(40) });
    lines.push(line);
    size += line.length + 1;
  }
  return { text: `${lines.join('\n')}\n`, events: lines.length };
}

test('request bodies in memory are bounded: 503 + Retry-After, then accepted', async () => {
  const dataDir = freshDataDir();
  const config = path.join(dataDir, 'small-budget.toml');
  writeFileSync(config, '[http]\nmax_body_bytes_in_memory = 1048576\n');
  const sluice = await startSluice({ dataDir, args: ['--config', config] });
  try {
    assert.equal((await runSql(sluice.url, `CREATE STREAM bp WITH (event_time = 'at', partitions = 1)`))
        .status, 200);
    // A: a 700 kB request whose body arrives slowly: it holds 700 kB of the 1 MiB bound.
    const a = body('a', 700000);
    const socket = net.connect(sluice.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    let answerA = '';
    socket.on('data', (d) => { answerA += d; });
    socket.write(`POST /v1/streams/bp/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n` +
        `Content-Length: ${Buffer.byteLength(a.text)}\r\nConnection: close\r\n\r\n`);
    socket.write(a.text.slice(0, 1000));
    await sleep(200);
    // B: another 700 kB while A is in memory: refused before its body is read.
    const b = body('b', 700000);
    const refused = await postEvents(sluice.url, 'bp', b.text);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.match(refused.body.error, /^overloaded: .*retry/);
    // A completes normally.
    socket.write(a.text.slice(1000));
    await new Promise((resolve) => socket.once('close', resolve));
    assert.match(answerA, /^HTTP\/1\.1 200/);
    assert.match(answerA, new RegExp(`"accepted":${a.events}`));
    // B, retried once memory is free, is accepted.
    const retried = await postEvents(sluice.url, 'bp', b.text);
    assert.equal(retried.status, 200, JSON.stringify(retried.body));
    assert.equal(retried.body.accepted, b.events);
  } finally {
    await sluice.stop();
  }
});
