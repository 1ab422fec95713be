// The crash harness (issue #5): a producer sends generated fulfilment events and retries each
// batch until it is acknowledged (re-sending after a timeout, and sometimes re-sending a batch
// already acknowledged, as real producers do, so duplicates really reach the server); a killer
// sends SIGKILL to the server at random moments and a supervisor restarts it on the same port
// and data directory. At the end a checker compares what the server holds with the producer's
// ground truth:
//   - the stored events, read from the log's segment files after a clean shutdown (framing
//     and CRC32C checked by the reader below, not by Sluice's code): every financial event
//     (payment.captured, refund.issued, carrier.charge: exactly-once in the embedded
//     `fulfilment` stream) stored exactly once, every operational one (at-least-once) at
//     least once, nothing the producer never sent;
//   - the view `events_per_minute`: its financial counts and amounts per minute exactly equal
//     to the truth, every row well-formed;
//   - no dead letter (every event sent is valid).
// Used by crash.test.js (the short form `make test` runs) and by `make chaos` (the long form):
//   node tests/crash/harness.js [--kills N] [--rate EVENTS_PER_S] [--batch N] [--seed N]
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';

import { random as prng, waitForCatchUp } from '../e2e/lib/differential.js';
import { SLUICE_BIN, freshDataDir, getJson, sleep, startSluice } from '../e2e/lib/sluice.js';

export const FINANCIAL = new Set(['payment.captured', 'refund.issued', 'carrier.charge']);

// CRC32C (Castagnoli), to check the framing of the records read back from disk.
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32c(buffer, start, end, crc = 0) {
  let c = ~crc >>> 0;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ buffer[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

// The event ids stored in a stream's log (docs/log.md: u32 length | u32 crc32c | u64 offset |
// i64 log time | i64 event time | u32 schema id | u32 reserved | payload; the CRC covers all
// but its own field), with how many copies of each.
export function storedEventIds(streamDir) {
  const copies = new Map();
  let damaged = 0;
  for (const partition of readdirSync(streamDir).filter((d) => /^p\d+$/.test(d))) {
    const dir = path.join(streamDir, partition);
    for (const segment of readdirSync(dir).filter((f) => f.endsWith('.log')).sort()) {
      const data = readFileSync(path.join(dir, segment));
      for (let at = 0; at + 40 <= data.length;) {
        const length = data.readUInt32LE(at);
        if (at + 40 + length > data.length) break;  // a torn tail (recovery cuts it)
        const crc = crc32c(data, at + 8, at + 40 + length, crc32c(data, at, at + 4));
        if (crc !== data.readUInt32LE(at + 4)) {
          damaged += 1;
          break;
        }
        const payload = data.toString('utf8', at + 40, at + 40 + length);
        const id = /"event_id":"([^"]+)"/.exec(payload)?.[1];
        copies.set(id, (copies.get(id) ?? 0) + 1);
        at += 40 + length;
      }
    }
  }
  return { copies, damaged };
}

// Generated events, read from `sluice gen` (realistic, schema-valid) as they are needed.
class EventSource {
  constructor(seed) {
    this.proc = spawn(SLUICE_BIN, ['gen', '--rate', 'max', '--seed', String(seed),
      '--run-id', `crash${seed}`], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.lines = createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
  }
  async take(n) {
    const out = [];
    while (out.length < n) {
      const { value, done } = await this.lines.next();
      if (done) break;
      out.push(value);
    }
    return out;
  }
  close() { this.proc.kill('SIGKILL'); }
}

function minuteOf(occurredAt) {
  return new Date(Math.floor(Date.parse(occurredAt) / 60000) * 60000).toISOString();
}

export async function runCrashHarness({ kills = 20, rate = 5000, batch = 250, seed = 1,
                                        killAfterMs = [300, 1500], log = () => {} } = {}) {
  const random = prng(seed);
  const dataDir = freshDataDir();
  let server = await startSluice({ dataDir });
  const port = server.port;
  const url = server.url;

  // Ground truth: every event of every batch (each batch is sent until acknowledged).
  const truth = { financialIds: new Set(), operationalIds: new Set(), minutes: new Map() };
  const stats = { batches: 0, events: 0, attempts: 0, failedAttempts: 0, resent: 0,
                  duplicatesReported: 0, kills: 0, restartMs: [] };
  // The latest acknowledged batches (a bounded window: a long run must not keep every body),
  // some of which are sent again.
  const acknowledged = [];
  const kResendWindow = 200;
  let producing = true;

  const record = (lines) => {
    for (const line of lines) {
      const e = JSON.parse(line);
      if (FINANCIAL.has(e.event_type)) {
        truth.financialIds.add(e.event_id);
        const key = `${e.warehouse_id}|${e.event_type}|${minuteOf(e.occurred_at)}`;
        const g = truth.minutes.get(key) ?? { events: 0, amount: 0 };
        g.events += 1;
        g.amount += e.amount_minor ?? 0;
        truth.minutes.set(key, g);
      } else {
        truth.operationalIds.add(e.event_id);
      }
    }
  };

  // Sends `body` until the server acknowledges it (a 200 whose answer covers every event).
  const sendUntilAcknowledged = async (body, count) => {
    for (;;) {
      stats.attempts += 1;
      try {
        const res = await fetch(`${url}/v1/streams/fulfilment/events`, {
          method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body,
          signal: AbortSignal.timeout(3000),
        });
        const answer = await res.json().catch(() => null);
        if (res.status === 200 && answer) {
          if (answer.rejected?.length) {
            throw new Error(`valid events rejected: ${JSON.stringify(answer.rejected.slice(0, 3))}`);
          }
          if (answer.accepted + answer.duplicates !== count) {
            throw new Error(`answer does not cover the batch: ${JSON.stringify(answer)}`);
          }
          stats.duplicatesReported += answer.duplicates;
          return;
        }
        const retryAfter = Number(res.headers.get('retry-after') ?? 0);
        stats.failedAttempts += 1;
        await sleep(retryAfter > 0 ? retryAfter * 1000 : 50);
      } catch (err) {
        if (err.message.startsWith('valid events') || err.message.startsWith('answer does')) {
          throw err;
        }
        stats.failedAttempts += 1;  // refused, reset or timed out: the server is down
        await sleep(50);
      }
    }
  };

  const source = new EventSource(seed);
  const started = Date.now();
  const producer = async () => {
    while (producing) {
      const lines = await source.take(batch);
      const body = `${lines.join('\n')}\n`;
      record(lines);
      stats.batches += 1;
      stats.events += lines.length;
      await sendUntilAcknowledged(body, lines.length);
      acknowledged.push({ body, count: lines.length });
      if (acknowledged.length > kResendWindow) acknowledged.shift();
      // A producer that timed out after the server had accepted sends the batch again.
      if (random() < 0.1) {
        const again = acknowledged[Math.floor(random() * acknowledged.length)];
        stats.resent += again.count;
        await sendUntilAcknowledged(again.body, again.count);
      }
      // Pace the producers to `rate` events/s overall (two producers).
      const due = started + (stats.events / rate) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
    }
  };

  const killer = async () => {
    for (let i = 0; i < kills; i++) {
      const [lo, hi] = killAfterMs;
      await sleep(lo + random() * (hi - lo));
      await server.kill9();
      stats.kills += 1;
      const t0 = Date.now();
      server = await startSluice({ dataDir, port });
      stats.restartMs.push(Date.now() - t0);
      log(`kill ${i + 1}/${kills}: serving again after ${Date.now() - t0} ms, ` +
          `${stats.events} events sent`);
    }
    producing = false;
  };

  try {
    await Promise.all([producer(), producer(), killer()]);
    const seconds = (Date.now() - started) / 1000;
    const result = await check(url, truth, async () => {
      await server.stop({ keepData: true });  // a clean shutdown: the log files are final
      return storedEventIds(path.join(dataDir, 'streams', 'fulfilment'));
    });
    return { ...result, stats: { ...stats, seconds, eventsPerSecond: stats.events / seconds } };
  } finally {
    source.close();
    await server.stop({ keepData: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// Waits for the views to catch up with the log, compares them with the truth, then the stored
// events (`readStored` stops the server and reads its log).
async function check(url, truth, readStored) {
  await waitForCatchUp(url, null, 120000);
  const problems = [];
  const view = (await getJson(`${url}/v1/views/events_per_minute`)).body;
  let financialRows = 0;
  for (const row of view.rows) {
    if (typeof row.events !== 'number' || typeof row.warehouse_id !== 'string') {
      problems.push(`malformed row ${JSON.stringify(row)}`);
      continue;
    }
    if (!FINANCIAL.has(row.event_type)) continue;
    financialRows += 1;
    const key = `${row.warehouse_id}|${row.event_type}|${new Date(row.window_start).toISOString()}`;
    const g = truth.minutes.get(key);
    if (!g) problems.push(`row not in the truth: ${JSON.stringify(row)}`);
    else if (g.events !== row.events || g.amount !== (row.amount_minor ?? 0)) {
      problems.push(`${key}: ${row.events} events / ${row.amount_minor} minor, truth ${g.events} / ${g.amount}`);
    }
  }
  if (financialRows !== truth.minutes.size) {
    problems.push(`financial rows: ${financialRows}, truth ${truth.minutes.size}`);
  }
  const deadLetters = (await getJson(`${url}/v1/streams/fulfilment/dead-letters?limit=10`)).body;
  const deadCount = deadLetters.end_offset - deadLetters.start_offset;
  if (!(deadCount === 0)) problems.push(`dead letters: ${JSON.stringify(deadLetters).slice(0, 300)}`);

  const { copies, damaged } = await readStored();
  if (damaged) problems.push(`${damaged} damaged record(s) in the log`);
  let financialIds = 0, financialCopies = 0, operationalIds = 0, operationalCopies = 0;
  for (const [id, n] of copies) {
    if (truth.financialIds.has(id)) {
      financialIds += 1;
      financialCopies += n;
    } else if (truth.operationalIds.has(id)) {
      operationalIds += 1;
      operationalCopies += n;
    } else if (problems.length < 20) {
      problems.push(`stored event ${id} was never sent`);
    }
  }
  if (financialIds !== truth.financialIds.size) {
    problems.push(`financial events: ${financialIds} stored, ${truth.financialIds.size} sent`);
  }
  if (financialCopies !== financialIds) {
    problems.push(`financial events stored twice: ${financialCopies - financialIds}`);
  }
  if (operationalIds !== truth.operationalIds.size) {
    problems.push(`operational events: ${operationalIds} stored, ${truth.operationalIds.size} sent`);
  }
  return {
    ok: problems.length === 0,
    problems: problems.slice(0, 20),
    financial: { sent: truth.financialIds.size, stored: financialIds, copies: financialCopies },
    operational: { sent: truth.operationalIds.size, stored: operationalIds, copies: operationalCopies },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const report = await runCrashHarness({
    kills: arg('kills', 20), rate: arg('rate', 5000), batch: arg('batch', 250), seed: arg('seed', 1),
    log: (line) => console.error(line),
  });
  const restart = [...report.stats.restartMs].sort((a, b) => a - b);
  console.log(JSON.stringify({ ...report, stats: { ...report.stats, restartMs: undefined,
    restartMsMedian: restart[Math.floor(restart.length / 2)], restartMsMax: restart.at(-1) } },
  null, 2));
  process.exit(report.ok ? 0 : 1);
}
