// Schemas at ingest, end to end: the default `fulfilment` stream validates against the
// registered `fulfilment-value` schema from the start; a rejected event names the JSON pointer
// and the rule and is kept as a dead letter with the schema id; after a compatible schema
// change the dead letters are replayed and pass; a producer can pin a schema version.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  ViewSubscription, eventsFor, getJson, makeEvent, ndjson, postEvents, startSluice,
} from './lib/sluice.js';

const financial = (fields = {}) => makeEvent({
  event_type: 'payment.captured', amount_minor: 12900, currency: 'EUR', ...fields,
});

describe('schemas at ingest', () => {
  let sluice;
  let schemaId;
  before(async () => {
    sluice = await startSluice();
    const latest = await getJson(`${sluice.url}/registry/subjects/fulfilment-value/versions/latest`);
    assert.equal(latest.status, 200);
    assert.equal(latest.body.version, 1);
    assert.equal(latest.body.schemaType, 'JSON');
    schemaId = latest.body.id;
  });
  after(async () => { await sluice.stop(); });

  test('the default stream rejects events that break its schema, with pointer and rule',
      async () => {
        const cases = [
          [financial({ amount_minor: 12.5 }), /^\/amount_minor: .*integer/],
          [financial({ currency: 'EURO' }), /^\/currency: .*pattern/],
          [financial({ currency: undefined }), /missing required property 'currency'/],
          [makeEvent({ event_type: 'order.teleported' }), /^\/event_type: .*not one of the allowed values/],
          [makeEvent({ lines: [{ sku: 'A', quantity: 1 }, { sku: 'B', quantity: 0 }] }),
            /^\/lines\/1\/quantity: 0 is less than minimum 1/],
          [makeEvent({ order_id: undefined }), /missing required property 'order_id'/],
        ];
        const good = financial();
        const res = await postEvents(sluice.url, 'fulfilment',
            ndjson([good, ...cases.map(([e]) => e)]));
        assert.equal(res.status, 200);
        assert.equal(res.body.accepted, 1);
        assert.equal(res.body.rejected.length, cases.length);
        for (const [i, [, pattern]] of cases.entries()) {
          const r = res.body.rejected.find((x) => x.index === i + 1);
          assert.match(r.error, pattern);
        }
        // Each one is a dead letter that names the schema it failed against.
        const page = await getJson(`${sluice.url}/v1/streams/fulfilment/dead-letters?limit=1000`);
        for (const [event] of cases) {
          const letter = page.body.dead_letters.find((d) => d.raw.includes(event.event_id));
          assert.ok(letter, event.event_id);
          assert.equal(letter.schema_id, schemaId);
        }
      });

  test('after a compatible schema change, replayed dead letters pass; versions can be pinned',
      async () => {
        const wh = `WH-EVOLVE-${Date.now()}`;
        const returned = makeEvent({ warehouse_id: wh, event_type: 'return.received' });
        const first = await postEvents(sluice.url, 'fulfilment', ndjson([returned]));
        assert.equal(first.body.accepted, 0);
        assert.match(first.body.rejected[0].error, /event_type/);

        // v2 adds the new event type: widening an enum is BACKWARD compatible.
        const v1 = JSON.parse((await getJson(
            `${sluice.url}/registry/subjects/fulfilment-value/versions/1`)).body.schema);
        const v2 = structuredClone(v1);
        v2.properties.event_type.enum.push('return.received');
        const registered = await fetch(`${sluice.url}/registry/subjects/fulfilment-value/versions`, {
          method: 'POST',
          headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
          body: JSON.stringify({ schemaType: 'JSON', schema: JSON.stringify(v2) }),
        });
        assert.equal(registered.status, 200, await registered.clone().text());
        const v2Id = (await registered.json()).id;
        assert.notEqual(v2Id, schemaId);

        const sub = new ViewSubscription(sluice.url, 'events_per_minute');
        await sub.opened;
        const replay = await (await fetch(
            `${sluice.url}/v1/streams/fulfilment/dead-letters/replay`, { method: 'POST' })).json();
        assert.ok(replay.accepted >= 1, JSON.stringify(replay));
        await sub.waitFor(() => eventsFor(sub.rows.values(), wh) === 1);
        await sub.close();

        // New events of the type pass now; pinned to version 1 they are still refused.
        const later = makeEvent({ warehouse_id: wh, event_type: 'return.received' });
        const pinned = await postEvents(sluice.url, 'fulfilment', ndjson([later]),
            'application/x-ndjson', { 'Sluice-Schema-Version': '1' });
        assert.equal(pinned.body.accepted, 0);
        const page = await getJson(`${sluice.url}/v1/streams/fulfilment/dead-letters?limit=10000`);
        assert.equal(page.body.dead_letters.find((d) => d.raw.includes(later.event_id)).schema_id,
            schemaId);
        const latest = await postEvents(sluice.url, 'fulfilment', ndjson([makeEvent({
          warehouse_id: wh, event_type: 'return.received' })]));
        assert.equal(latest.body.accepted, 1);

        const badHeader = await postEvents(sluice.url, 'fulfilment', ndjson([makeEvent()]),
            'application/x-ndjson', { 'Sluice-Schema-Version': 'one' });
        assert.equal(badHeader.status, 400);
        assert.match(badHeader.body.error, /Sluice-Schema-Version/);
        const noSuchVersion = await postEvents(sluice.url, 'fulfilment', ndjson([makeEvent()]),
            'application/x-ndjson', { 'Sluice-Schema-Version': '99' });
        assert.equal(noSuchVersion.status, 400);
        assert.match(noSuchVersion.body.error, /version 99/);
      });

  test('a stream whose subject lost every version refuses events with a clear 409', async () => {
    // Soft-delete both versions: the stream cannot validate, so it must not accept anything.
    for (const v of [2, 1]) {
      const res = await fetch(`${sluice.url}/registry/subjects/fulfilment-value/versions/${v}`,
          { method: 'DELETE' });
      assert.equal(res.status, 200);
    }
    const res = await postEvents(sluice.url, 'fulfilment', ndjson([makeEvent()]));
    assert.equal(res.status, 409);
    assert.match(res.body.error, /subject 'fulfilment-value', which has no schema/);
  });
});

test('the default schema is registered once and survives restarts', async () => {
  let sluice = await startSluice();
  const { dataDir } = sluice;
  const before = (await getJson(`${sluice.url}/registry/subjects/fulfilment-value/versions`)).body;
  await sluice.kill9();
  sluice = await startSluice({ dataDir });
  const afterRestart = (await getJson(`${sluice.url}/registry/subjects/fulfilment-value/versions`)).body;
  assert.deepEqual(afterRestart, before);
  assert.deepEqual(before, [1]);
  const res = await postEvents(sluice.url, 'fulfilment',
      ndjson([financial(), financial({ amount_minor: 'lots' })]));
  assert.equal(res.body.accepted, 1);
  assert.match(res.body.rejected[0].error, /^\/amount_minor/);
  await sluice.stop();
});
