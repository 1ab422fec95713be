// The schema registry driven by Confluent's own JavaScript client (@confluentinc/schemaregistry)
// with base URL http://127.0.0.1:PORT/registry, plus raw HTTP checks of Confluent's error bodies.
// The registry must survive a restart over the same data directory.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { SchemaRegistryClient } from '@confluentinc/schemaregistry';
import Ajv2020 from 'ajv/dist/2020.js';

import { startSluice } from './lib/sluice.js';

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

// A closed object schema (additionalProperties: false) with string properties.
function objectSchema(properties, required) {
  return JSON.stringify({
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    properties: Object.fromEntries(properties.map((p) => [p, { type: 'string' }])),
    required,
    additionalProperties: false,
  });
}

const V1 = objectSchema(['event_id', 'order_id', 'sku'], ['event_id', 'order_id']);
const V2 = objectSchema(['event_id', 'order_id', 'sku', 'gift_note'], ['event_id', 'order_id']);
const V3 = objectSchema(['event_id', 'order_id', 'sku', 'gift_note'],
    ['event_id', 'order_id', 'gift_note']);

describe('schema registry', () => {
  let sluice;
  let base;
  // No retries: every answer here is final, and a retry would hide a wrong status.
  const client = () => new SchemaRegistryClient({ baseURLs: [base], maxRetries: 0 });

  async function call(method, path, body) {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': CONTENT_TYPE },
      body: body === undefined || typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed = text;
    try { parsed = JSON.parse(text); } catch { /* keep the text */ }
    return { status: res.status, type: res.headers.get('content-type'), body: parsed };
  }

  async function expectError(promise, status, errorCode, messagePattern) {
    await assert.rejects(promise, (err) => {
      assert.equal(err.status, status, err.message);
      assert.equal(err.errorCode, errorCode, err.message);
      if (messagePattern) assert.match(err.message, messagePattern);
      return true;
    });
  }

  before(async () => {
    sluice = await startSluice();
    base = `${sluice.url}/registry`;
  });
  after(async () => { await sluice?.stop(); });

  test('register, fetch by id, list versions and subjects with the official client', async () => {
    const sr = client();
    const id = await sr.register('orders-value', { schemaType: 'JSON', schema: V1 });
    // The embedded default registered fulfilment-value first, so ids here start after it.
    assert.ok(Number.isInteger(id) && id > 1, `id ${id}`);
    // The same schema again (even reformatted): same id, no new version.
    const again = await client().register('orders-value',
        { schemaType: 'JSON', schema: JSON.stringify(JSON.parse(V1), null, 2) });
    assert.equal(again, id);
    // Under another subject: the same global id.
    assert.equal(await sr.register('orders-copy-value', { schemaType: 'JSON', schema: V1 }), id);

    const byId = await sr.getBySubjectAndId('orders-value', id);
    assert.equal(byId.schemaType, 'JSON');
    assert.deepEqual(JSON.parse(byId.schema), JSON.parse(V1));

    const latest = await sr.getLatestSchemaMetadata('orders-value');
    assert.equal(latest.id, id);
    assert.equal(latest.version, 1);
    assert.equal(latest.subject, 'orders-value');
    const v1 = await sr.getSchemaMetadata('orders-value', 1);
    assert.equal(v1.id, id);

    assert.deepEqual(await sr.getAllVersions('orders-value'), [1]);
    assert.deepEqual(await sr.getAllSubjects(),
        ['fulfilment-value', 'orders-copy-value', 'orders-value']);

    // Lookup (POST /subjects/{s}).
    assert.equal(await client().getId('orders-value', { schemaType: 'JSON', schema: V1 }), id);
    assert.equal(await client().getVersion('orders-value', { schemaType: 'JSON', schema: V1 }), 1);
    await expectError(client().getId('orders-value', { schemaType: 'JSON', schema: V2 }),
        404, 40403);
  });

  test('evolution: optional field accepted, old events still valid; required field refused',
      async () => {
        const sr = client();
        const ajv = new Ajv2020({ strict: false });
        const oldEvent = { event_id: 'e-1', order_id: 'o-1', sku: 'SKU-1' };
        assert.ok(ajv.validate(JSON.parse(V1), oldEvent));

        // v2 adds an optional field: compatible, registered as version 2; old events still valid.
        assert.equal(await sr.testSubjectCompatibility('orders-value',
            { schemaType: 'JSON', schema: V2 }), true);
        const id1 = (await sr.getSchemaMetadata('orders-value', 1)).id;
        const id2 = await sr.register('orders-value', { schemaType: 'JSON', schema: V2 });
        assert.equal(id2, id1 + 1);
        assert.deepEqual(await sr.getAllVersions('orders-value'), [1, 2]);
        assert.ok(ajv.validate(JSON.parse(V2), oldEvent));

        // v3 makes gift_note required: old events would be rejected, so BACKWARD refuses it.
        assert.equal(ajv.validate(JSON.parse(V3), oldEvent), false);
        assert.equal(await sr.testSubjectCompatibility('orders-value',
            { schemaType: 'JSON', schema: V3 }), false);
        assert.equal(await sr.testCompatibility('orders-value', 1,
            { schemaType: 'JSON', schema: V3 }), false);
        await expectError(sr.register('orders-value', { schemaType: 'JSON', schema: V3 }),
            409, 409, new RegExp([
              'incompatible with an earlier schema for subject "orders-value"',
              'REQUIRED_ATTRIBUTE_ADDED',
              "/properties/gift_note: property 'gift_note' is required by the new schema but not " +
                  'by the old one \\(a reader of the new schema rejects old events without it\\)',
            ].join('.*'), 's'));
        assert.deepEqual(await sr.getAllVersions('orders-value'), [1, 2]);

        // ?verbose=true says why.
        const verbose = await call('POST',
            '/compatibility/subjects/orders-value/versions/latest?verbose=true',
            { schemaType: 'JSON', schema: V3 });
        assert.equal(verbose.status, 200);
        assert.equal(verbose.body.is_compatible, false);
        assert.match(verbose.body.messages[0], /gift_note/);
        assert.ok(verbose.body.messages.includes('{oldSchemaVersion: 2}'), verbose.body.messages);

        // Narrowing a type is refused too, naming the property.
        const narrowed = JSON.parse(V2);
        narrowed.properties.sku = { type: 'string', maxLength: 8 };
        const res = await call('POST', '/subjects/orders-value/versions',
            { schemaType: 'JSON', schema: JSON.stringify(narrowed) });
        assert.equal(res.status, 409);
        assert.equal(res.body.error_code, 409);
        assert.match(res.body.message, /\/properties\/sku\/maxLength: maxLength 8 added/);
      });

  test('compatibility configuration, per subject and global', async () => {
    const sr = client();
    assert.equal(await sr.getDefaultCompatibility(), 'BACKWARD');
    await expectError(sr.getCompatibility('orders-value'), 404, 40408,
        /does not have subject-level compatibility configured/);
    const fallback = await call('GET', '/config/orders-value?defaultToGlobal=true');
    assert.deepEqual(fallback.body, { compatibilityLevel: 'BACKWARD' });

    assert.equal(await sr.updateCompatibility('orders-value', 'FORWARD'), 'FORWARD');
    assert.equal(await sr.getCompatibility('orders-value'), 'FORWARD');
    // Under FORWARD, v3 (required gift_note) is fine: old readers get the field they ignore.
    assert.equal(await sr.testSubjectCompatibility('orders-value',
        { schemaType: 'JSON', schema: V3 }), true);
    assert.equal(await sr.updateCompatibility('orders-value', 'BACKWARD'), 'BACKWARD');

    assert.equal(await sr.updateDefaultCompatibility('FULL_TRANSITIVE'), 'FULL_TRANSITIVE');
    assert.equal(await sr.getDefaultCompatibility(), 'FULL_TRANSITIVE');
    assert.equal(await sr.updateDefaultCompatibility('BACKWARD'), 'BACKWARD');

    const bad = await call('PUT', '/config', { compatibility: 'SIDEWAYS' });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.error_code, 42203);
    assert.match(bad.body.message, /Invalid compatibility level/);
  });

  test('soft and permanent deletes', async () => {
    const sr = client();
    const subject = 'scratch-value';
    await sr.register(subject, { schemaType: 'JSON', schema: V1 });
    await sr.register(subject, { schemaType: 'JSON', schema: V2 });

    assert.equal(await sr.deleteSubjectVersion(subject, 2), 2);
    assert.deepEqual(await sr.getAllVersions(subject), [1]);
    const listed = await call('GET', `/subjects/${subject}/versions?deleted=true`);
    assert.deepEqual(listed.body, [1, 2]);
    const soft = await call('GET', `/subjects/${subject}/versions/2?deleted=true`);
    assert.equal(soft.body.version, 2);
    assert.equal(soft.body.deleted, true);
    // The id stays readable after a soft delete.
    assert.equal((await call('GET', '/schemas/ids/2')).status, 200);

    let res = await call('DELETE', `/subjects/${subject}/versions/2`);
    assert.deepEqual([res.status, res.body.error_code], [404, 40406]);
    res = await call('DELETE', `/subjects/${subject}/versions/1?permanent=true`);
    assert.deepEqual([res.status, res.body.error_code], [404, 40407]);
    assert.equal(await sr.deleteSubjectVersion(subject, 2, true), 2);
    assert.deepEqual((await call('GET', `/subjects/${subject}/versions?deleted=true`)).body, [1]);

    res = await call('DELETE', `/subjects/${subject}?permanent=true`);
    assert.deepEqual([res.status, res.body.error_code], [404, 40405]);
    assert.deepEqual(await sr.deleteSubject(subject), [1]);
    assert.ok(!(await sr.getAllSubjects()).includes(subject));
    assert.ok((await call('GET', '/subjects?deleted=true')).body.includes(subject));
    res = await call('DELETE', `/subjects/${subject}`);
    assert.deepEqual([res.status, res.body.error_code], [404, 40404]);
    assert.deepEqual(await sr.deleteSubject(subject, true), [1]);
    assert.ok(!(await call('GET', '/subjects?deleted=true')).body.includes(subject));
    await expectError(client().getLatestSchemaMetadata(subject), 404, 40401);
  });

  test('Avro schemas: stored, checked for well-formedness and for resolution', async () => {
    const sr = client();
    const v1 = JSON.stringify({ type: 'record', name: 'Pick', namespace: 'ops',
      fields: [{ name: 'sku', type: 'string' }, { name: 'qty', type: 'int' }] });
    // No schemaType: AVRO, as with Confluent.
    const id = await sr.register('picks-value', { schema: v1 });
    const fetched = await call('GET', `/schemas/ids/${id}`);
    assert.equal(fetched.body.schemaType, 'AVRO');
    const v2 = JSON.stringify({ type: 'record', name: 'Pick', namespace: 'ops',
      fields: [{ name: 'sku', type: 'string' }, { name: 'qty', type: 'long' },
        { name: 'bin', type: ['null', 'string'], default: null }] });
    assert.ok(await sr.register('picks-value', { schema: v2 }) > id);
    const v3 = JSON.stringify({ type: 'record', name: 'Pick', namespace: 'ops',
      fields: [{ name: 'sku', type: 'string' }, { name: 'qty', type: 'long' },
        { name: 'bin', type: ['null', 'string'], default: null },
        { name: 'picker', type: 'string' }] });
    await expectError(sr.register('picks-value', { schema: v3 }), 409, 409,
        /READER_FIELD_MISSING_DEFAULT_VALUE.*field 'picker'/s);
    const bad = await call('POST', '/subjects/picks-value/versions',
        { schema: JSON.stringify({ type: 'record', name: 'Pick',
          fields: [{ name: 'x', type: 'strnig' }] }) });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.error_code, 42201);
    assert.match(bad.body.message, /\/fields\/0\/type: unknown type 'strnig'/);
  });

  test('bad input gets Confluent error bodies and codes', async () => {
    const cases = [
      // [method, path, body, status, error_code, message pattern]
      ['POST', '/subjects/orders-value/versions', '{"schema": ', 400, 400, /not valid JSON/],
      ['POST', '/subjects/orders-value/versions', '[1]', 400, 400, /JSON object/],
      ['POST', '/subjects/orders-value/versions', '', 422, 422, /body/],
      ['POST', '/subjects/orders-value/versions',
        { schemaType: 'JSON', schema: '{"type": "strin"}' },
        422, 42201, /Invalid schema of type JSON/],
      ['POST', '/subjects/orders-value/versions', { schemaType: 'JSON', schema: '{"type":' },
        422, 42201, /not valid JSON/],
      ['POST', '/subjects/orders-value/versions', { schemaType: 'JSON' },
        422, 42201, /Empty schema/],
      ['POST', '/subjects/orders-value/versions', { schemaType: 'PROTOBUF', schema: 'x' },
        422, 42201, /PROTOBUF/],
      ['POST', '/subjects/orders-value/versions',
        { schemaType: 'JSON', schema: V1, references: [{ name: 'a', subject: 'b', version: 1 }] },
        422, 42201, /references are not supported/],
      ['GET', '/subjects/nope/versions', undefined, 404, 40401, /Subject 'nope' not found/],
      ['GET', '/subjects/nope/versions/latest', undefined, 404, 40401, /not found/],
      ['GET', '/subjects/orders-value/versions/99', undefined, 404, 40402, /Version 99 not found/],
      ['GET', '/subjects/orders-value/versions/abc', undefined, 422, 42202, /not a valid version/],
      ['GET', '/subjects/orders-value/versions/0', undefined, 422, 42202, /not a valid version/],
      ['GET', '/schemas/ids/999', undefined, 404, 40403, /Schema 999 not found/],
      ['POST', '/compatibility/subjects/orders-value/versions/99',
        { schemaType: 'JSON', schema: V1 }, 404, 40402, /Version 99/],
      ['PUT', '/config/orders-value', { compatibility: 'most' }, 422, 42203, /compatibility level/],
      ['DELETE', '/config/never-configured', undefined, 404, 40401, /never-configured/],
      ['GET', '/nothing/here', undefined, 404, 404, /Not Found/],
      ['PATCH', '/subjects', undefined, 405, 405, /Method Not Allowed/],
    ];
    for (const [method, path, body, status, code, pattern] of cases) {
      const res = await call(method, path, body);
      const label = `${method} ${path} -> ${res.status} ${JSON.stringify(res.body)}`;
      assert.equal(res.status, status, label);
      assert.equal(res.type, CONTENT_TYPE, label);
      assert.deepEqual(Object.keys(res.body), ['error_code', 'message'], label);
      assert.equal(res.body.error_code, code, label);
      assert.match(res.body.message, pattern, label);
    }
  });

  test('everything is still there after a restart over the same data directory', async () => {
    const sr = client();
    const before = {
      subjects: await sr.getAllSubjects(),
      versions: await sr.getAllVersions('orders-value'),
      latest: await sr.getLatestSchemaMetadata('orders-value'),
      schema1: (await call('GET', '/schemas/ids/1')).body,
      deleted: (await call('GET', '/subjects?deleted=true')).body,
    };
    await sr.updateCompatibility('orders-copy-value', 'NONE');

    await sluice.stop({ keepData: true });
    sluice = await startSluice({ dataDir: sluice.dataDir });
    base = `${sluice.url}/registry`;

    const after = client();
    assert.deepEqual(await after.getAllSubjects(), before.subjects);
    assert.deepEqual(await after.getAllVersions('orders-value'), before.versions);
    assert.deepEqual(await after.getLatestSchemaMetadata('orders-value'), before.latest);
    assert.deepEqual((await call('GET', '/schemas/ids/1')).body, before.schema1);
    assert.deepEqual((await call('GET', '/subjects?deleted=true')).body, before.deleted);
    assert.equal(await after.getCompatibility('orders-copy-value'), 'NONE');
    // Still enforcing: v3 is refused, and new ids continue after the old ones.
    await expectError(after.register('orders-value', { schemaType: 'JSON', schema: V3 }), 409, 409);
    const fresh = await after.register('new-value',
        { schemaType: 'JSON', schema: objectSchema(['x'], []) });
    assert.ok(fresh > before.latest.id, `${fresh} > ${before.latest.id}`);
    assert.match(sluice.output(), /schema registry: replayed \d+ record\(s\)/);
  });
});
