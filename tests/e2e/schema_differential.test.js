// Differential test of Sluice's JSON Schema validator (src/schema) against ajv, the reference
// implementation: ~30 realistic and tricky schemas, thousands of seeded, mutated events each,
// validated by ajv (draft 2020-12 + ajv-formats, the configuration below) and by
// `schema_validate_tool`. Any disagreement on accept/reject fails the test, printing the
// schema, the event and both answers.
//
// Not in the differential corpus, because JSON.parse and Sluice deliberately differ there, and
// tested separately at the end: duplicate keys (JSON.parse keeps the last, Sluice rejects),
// nesting deeper than 64 levels, numbers beyond the double range and unpaired surrogate escapes
// (invalid JSON for Sluice). Also avoided: property names of Object.prototype (ajv's `required`
// finds inherited members such as "toString"), and "__proto__".
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const TOOL = process.env.SCHEMA_VALIDATE_TOOL ??
    path.resolve(import.meta.dirname, '../../build/tests/schema_validate_tool');
const EVENTS_PER_SCHEMA = Number(process.env.SCHEMA_DIFF_EVENTS ?? 2500);

function makeAjv() {
  const ajv = new Ajv2020({ allErrors: false, strict: false });
  addFormats(ajv);
  return ajv;
}

// ---- Deterministic randomness ----

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rng {
  constructor(seed) { this.next = mulberry32(seed); }
  int(n) { return Math.floor(this.next() * n); }
  pick(list) { return list[this.int(list.length)]; }
  chance(p) { return this.next() < p; }
}

// ---- Event text: a custom serializer, so that numbers can be written as "1.0" or "1e0" and
// strings with escapes, which JSON.stringify never produces ----

class Raw {  // a number token written as is
  constructor(text) { this.text = text; }
}

// A JSON number token whose value is a finite double (1e400 is left to the strictness tests).
function isJsonNumber(text) {
  return /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(text) && Number.isFinite(Number(text));
}

function clone(v) {
  if (v instanceof Raw) return new Raw(v.text);
  if (Array.isArray(v)) return v.map(clone);
  if (v && typeof v === 'object') {
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = clone(x);
    return out;
  }
  return v;
}

function quote(s, rng) {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (cp < 0x20) out += '\\u' + cp.toString(16).padStart(4, '0');
    else if (rng.chance(0.03)) {
      // The same character, escaped: \uXXXX (a surrogate pair above U+FFFF) or \/.
      if (ch === '/') out += '\\/';
      else for (let i = 0; i < ch.length; i++) out += '\\u' + ch.charCodeAt(i).toString(16).padStart(4, '0');
    } else out += ch;
  }
  return out + '"';
}

function serialize(v, rng) {
  const space = () => (rng.chance(0.02) ? rng.pick([' ', '\t', '\r', '  ']) : '');
  if (v instanceof Raw) return v.text;
  if (v === null) return 'null';
  if (typeof v === 'number') return JSON.stringify(v);
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return quote(v, rng);
  if (Array.isArray(v)) return '[' + v.map((x) => space() + serialize(x, rng) + space()).join(',') + ']';
  return '{' + Object.entries(v).map(([k, x]) => space() + quote(k, rng) + space() + ':' + space() +
      serialize(x, rng)).join(',') + '}';
}

// ---- What the mutations draw from ----

const NUMBER_TOKENS = ['0', '-0', '0.0', '-0.0', '1', '1.0', '1e0', '10E-1', '-1', '1.5', '0.1', '0.3',
  '0.30000000000000004', '2.5', '-2.5', '100', '1e2', '1e21', '1e308', '-1e308', '5e-324', '1e-7',
  '9007199254740991', '9007199254740993', '12345678901234567890', '-12345678901234567890',
  '2147483647', '2147483648', '-2147483648', '-2147483649', '19.99', '0.07', '12.34', '1.1',
  '4.35', '0.000001', '123456.789', '3', '7', '42'];

const CHARS = ['a', 'b', 'Z', 'k', 's', 'K', '0', '9', '-', '_', '.', '@', ':', '/', ' ', '\t', '\n',
  '\r', '\u00a0', '\u2028', '\u2029', '\ufeff', '\u3000', 'é', 'ß', 'ſ', 'K', 'İ', '中', '😀',
  'e\u0301', '\u0000', '"', '\\', '+', 'T', 't', 'Z', 'z', 'x', 'W', '1', '2', '5'];

const FORMAT_POOLS = {
  'date-time': ['2024-02-29T12:00:00Z', '2023-02-29T12:00:00Z', '1900-02-29T00:00:00Z',
    '2000-02-29T00:00:00Z', '2024-12-31T23:59:60Z', '2024-12-31T23:59:60.999Z',
    '2024-12-31T22:59:60-01:00', '2024-12-31T23:59:60+01:00', '2025-01-01T00:59:60+01:00',
    '2024-06-30T23:59:60Z', '2024-06-30T12:59:60Z', '2024-01-01t10:00:00z', '2024-01-01T10:00:00',
    '2024-01-01 10:00:00Z', '2024-01-01\u00a010:00:00Z', '2024-01-01\u200910:00:00Z',
    '2024-01-01\n10:00:00Z', '2024-01-01T10:00:00+0100', '2024-01-01T10:00:00+01',
    '2024-01-01T10:00:00+24:00', '2024-01-01T10:00:00+23:59', '2024-01-01T10:00:00-00:60',
    '2024-01-01T10:00:00.Z', '2024-1-01T10:00:00Z', '2024-01-01T24:00:00Z',
    '2024-01-01T23:60:00Z', '2024-01-01TT10:00:00Z', '2024-01-01T10:00:00.123456789Z',
    '2024-01-01T10:00:00,5Z', '2024-13-01T00:00:00Z', '0000-01-01T00:00:00Z', '2024-04-31T00:00:00Z',
    '2024-04-30T00:00:00Z', '2024-01-01T10:00:00Zx', '２０２４-01-01T10:00:00Z', '2024-01-01T10:00Z',
    '2024-01-01T10:00:59.99999999999999999Z', '2024-12-31T23:59:60.99999999999999999Z',
    '2024-01-01T00:00:00+01:30', '2026-11-25T08:30:00.123Z', '2024-01-01T99:99:99Z',
    '2024-01-01T23:59:60+00:00', '2024-01-01T00:00:60+00:01', '2024-01-01T00:00:60-23:59', ''],
  'date': ['2024-02-29', '2023-02-29', '2024-02-30', '2024-12-31', '2024-00-10', '2024-01-00',
    '2024-1-1', '24-01-01', '2024-01-01T00:00:00Z', '2024-01-01 ', '9999-12-31', '2100-02-29',
    '2400-02-29'],
  'time': ['10:00:00Z', '10:00:00', '23:59:60Z', '23:59:60+01:00', '22:59:60-01:00', '10:00:00.5+05:30',
    '10:00:00z', '25:00:00Z', '10:60:00Z', '10:00:61Z', '1:00:00Z', '10:00:00+1', '10:00:00-0530',
    '00:00:60+00:01'],
  'iso-time': ['10:00:00', '10:00:00Z', '23:59:60', '10:00', '10:00:00+01:00'],
  'iso-date-time': ['2024-01-01T10:00:00', '2024-01-01 10:00:00', '2024-01-01T10:00:00Z',
    '2024-02-30T10:00:00', '2024-01-01T10:00'],
  'email': ['ops@example.com', 'first.last+tag@sub.example.co.uk', 'a@b', 'a@b.c', '@example.com',
    'a@', 'a..b@example.com', '.a@example.com', 'a@-example.com', 'a@example-.com', 'A@EXAMPLE.COM',
    'user@exa_mple.com', 'üser@example.com', 'user@ex\u212Aample.com', 'u\u017Fer@example.com',
    "o'brien@example.ie", 'a b@example.com', 'a@example.com.', 'x@1.2.3.4'],
  'uuid': ['123e4567-e89b-12d3-a456-426614174000', '123E4567-E89B-12D3-A456-426614174000',
    'urn:uuid:123e4567-e89b-12d3-a456-426614174000', 'URN:UUID:123e4567-e89b-12d3-a456-426614174000',
    '123e4567e89b12d3a456426614174000', '123e4567-e89b-12d3-a456-42661417400',
    '123e4567-e89b-12d3-a456-4266141740000', 'g23e4567-e89b-12d3-a456-426614174000',
    '{123e4567-e89b-12d3-a456-426614174000}'],
  'ipv4': ['192.168.0.1', '255.255.255.255', '256.0.0.1', '1.2.3', '01.2.3.4', '0.0.0.0',
    '1.2.3.4.5', '10.0.0.-1', '١.٢.٣.٤'],
  'hostname': ['example.com', 'a', 'a.', 'a-b.c', '-a.com', 'a-.com', 'xn--bcher-kva.example',
    'exa mple.com', 'a'.repeat(63) + '.com', 'a'.repeat(64) + '.com', ('a'.repeat(50) + '.').repeat(5),
    'EXAMPLE.COM', 'ex\u212Aample.com', 'under_score.com', '1.2.3.4'],
  'duration': ['P1D', 'PT1H', 'P1Y2M3DT4H5M6S', 'P', 'PT', 'P1W', 'P1W1D', 'PT1H1M', 'PT1.5S',
    'P1DT', '1D', 'p1d', 'P1M', 'PT36H', 'P0D'],
};

// Collects, from a schema, the values worth trying: numbers at and around every bound,
// multiples, enum members, property names, strings at every length bound, format pools.
function harvest(schema) {
  const numbers = new Set(NUMBER_TOKENS);
  const values = [];
  const keys = new Set(['extra', 'x-debug', 'notes', 'Amount', '']);
  const strings = new Set(['', 'a', 'abc', 'ABC', 'EUR', 'EURO', 'eur', 'é', '😀', 'ab😀', '中文字',
    'e\u0301', ' x', 'x ', 'line\nbreak', '\u2028', 'tab\tsep', '\u00a0', 'ſK', 'A1', '123']);
  const addNumber = (x) => {
    if (typeof x !== 'number' || !Number.isFinite(x)) return;
    for (const d of [0, 1, -1, 0.5, -0.5, 1e-9, -1e-9, 0.01, -0.01]) {
      const y = x + d;
      if (Number.isFinite(y)) numbers.add(String(y));
    }
    if (Number.isInteger(x)) { numbers.add(`${x}.0`); numbers.add(`${x}e0`); }
    for (const n of numbers) if (!isJsonNumber(n)) numbers.delete(n);
  };
  const visit = (s) => {
    if (Array.isArray(s)) { s.forEach(visit); return; }
    if (!s || typeof s !== 'object') return;
    for (const [k, v] of Object.entries(s)) {
      if (['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'].includes(k)) addNumber(v);
      if (k === 'multipleOf') {
        for (const m of [1, 2, 3, 7, 10, 17, 33, 100, 1999, 12345, 0.5, 1.5, 3.3]) {
          if (isJsonNumber(String(m * v))) numbers.add(String(m * v));
        }
      }
      if (k === 'minLength' || k === 'maxLength') {
        for (const n of [v - 1, v, v + 1]) {
          if (n < 0) continue;
          for (const ch of ['a', 'é', '😀', '中', 'e\u0301']) strings.add(ch.repeat(n));
        }
      }
      if (k === 'enum') values.push(...v.map((x) => clone(x)));
      if (k === 'const') values.push(clone(v));
      if (k === 'properties' || k === 'patternProperties') Object.keys(v).forEach((x) => keys.add(x));
      if (k === 'required') v.forEach((x) => keys.add(x));
      if (k === 'format' && FORMAT_POOLS[v]) FORMAT_POOLS[v].forEach((x) => strings.add(x));
      if (typeof v === 'string' && k !== 'pattern' && k !== '$ref') strings.add(v);
      visit(v);
    }
  };
  visit(schema);
  for (const v of values) if (typeof v === 'string') strings.add(v);
  return { numbers: [...numbers], values, keys: [...keys], strings: [...strings] };
}

function mutateString(s, rng) {
  const chars = [...s];
  const op = rng.int(4);
  const at = rng.int(chars.length + 1);
  if (op === 0) chars.splice(at, 0, rng.pick(CHARS));
  else if (op === 1 && chars.length) chars.splice(Math.min(at, chars.length - 1), 1);
  else if (op === 2 && chars.length) chars[Math.min(at, chars.length - 1)] = rng.pick(CHARS);
  else return s.toUpperCase() === s ? s.toLowerCase() : s.toUpperCase();
  return chars.join('');
}

function randomValue(pool, rng, depth) {
  switch (rng.int(depth > 3 ? 7 : 9)) {
    case 0: return new Raw(rng.pick(pool.numbers));
    case 1: return rng.pick(pool.strings);
    case 2: return mutateString(rng.pick(pool.strings), rng);
    case 3: return rng.chance(0.5);
    case 4: return null;
    case 5: return pool.values.length ? clone(rng.pick(pool.values)) : 'v';
    case 6: return new Raw(rng.pick(pool.numbers));
    case 7: {
      const a = [];
      for (let i = rng.int(4); i > 0; i--) a.push(randomValue(pool, rng, depth + 1));
      return a;
    }
    default: {
      const o = {};
      for (let i = rng.int(4); i > 0; i--) o[rng.pick(pool.keys)] = randomValue(pool, rng, depth + 1);
      return o;
    }
  }
}

// Every (container, key) slot of a value tree, for picking a mutation site.
function slots(root) {
  const out = [];
  const walk = (v, depth) => {
    if (v instanceof Raw || v === null || typeof v !== 'object') return;
    for (const k of Object.keys(v)) { out.push({ parent: v, key: k, depth }); walk(v[k], depth + 1); }
    if (!Array.isArray(v) || v.length === 0) out.push({ parent: v, key: null, depth });
  };
  walk(root, 0);
  return out;
}

function mutate(event, pool, rng) {
  const all = slots(event);
  if (all.length === 0) return randomValue(pool, rng, 0);
  const { parent, key, depth } = rng.pick(all);
  const isArray = Array.isArray(parent);
  const current = key === null ? undefined : parent[key];
  switch (rng.int(12)) {
    case 0: case 1:  // replace with a value from the pools
      if (key !== null) parent[key] = randomValue(pool, rng, depth);
      break;
    case 2:  // delete
      if (key !== null) { if (isArray) parent.splice(Number(key), 1); else delete parent[key]; }
      break;
    case 3:  // add a property or an item
      if (isArray) parent.splice(rng.int(parent.length + 1), 0, randomValue(pool, rng, depth));
      else parent[rng.pick(pool.keys)] = randomValue(pool, rng, depth);
      break;
    case 4:  // duplicate an item (uniqueItems), or copy a sibling value
      if (isArray && parent.length) parent.push(clone(rng.pick(parent)));
      else if (!isArray && key !== null) parent[rng.pick(pool.keys)] = clone(current);
      break;
    case 5: case 6:  // perturb a number or a string
      if (current instanceof Raw) {
        const x = Number(current.text);
        const forms = [String(x + 1), String(x - 1), String(-x), String(x * 10), String(x / 10),
          String(x + 0.5), String(x + 0.01), Number.isInteger(x) ? `${x}.0` : String(x), `${x}e0`];
        parent[key] = new Raw(rng.pick(forms.filter(isJsonNumber)));
      } else if (typeof current === 'string') {
        parent[key] = rng.chance(0.7) ? mutateString(current, rng) : rng.pick(pool.strings);
      } else if (key !== null) {
        parent[key] = randomValue(pool, rng, depth);
      }
      break;
    case 7:  // wrap
      if (key !== null && depth < 40) parent[key] = rng.chance(0.5) ? [current] : { [rng.pick(pool.keys)]: current };
      break;
    case 8:  // an enum/const value
      if (key !== null && pool.values.length) parent[key] = clone(rng.pick(pool.values));
      break;
    case 9:  // a number token
      if (key !== null) parent[key] = new Raw(rng.pick(pool.numbers));
      break;
    case 10:  // a format-ish string
      if (key !== null) parent[key] = rng.pick(pool.strings);
      break;
    default:  // swap two items / reorder keys
      if (isArray && parent.length > 1) {
        const i = rng.int(parent.length), j = rng.int(parent.length);
        [parent[i], parent[j]] = [parent[j], parent[i]];
      } else if (!isArray) {
        const entries = Object.entries(parent).reverse();
        for (const k of Object.keys(parent)) delete parent[k];
        for (const [k, v] of entries) parent[k] = v;
      }
  }
  return event;
}

// ---- The corpus ----

const ts = '2026-11-25T08:30:00.123Z';
const envelope = {
  event_id: 'evt-42-000000000001', event_type: 'order.received', schema_version: 3, occurred_at: ts,
  warehouse_id: 'WH-01', order_id: 'ORD-1a2b-00000001',
  source: { service: 'oms-intake', instance: 'oms-intake-01', region: 'eu-west-1', version: '7.4.1' },
  trace_id: '0123456789abcdef0123456789abcdef',
};
const address = { name: 'Anna de Vries', line1: '12 Market Street', city: 'Rotterdam',
  postal_code: '30211', country: 'NL', phone: '+31612345678' };
const line = (n, q, p) => ({ line_no: n, sku: `SKU-${100000 + n}`, description: 'Yoga mat 6 mm',
  category: 'sports', quantity: q, unit_price_minor: p, weight_g: 1800 });
const orderReceived = { ...envelope, channel: 'web',
  customer: { customer_id: 'CUS-12345678', tier: 'plus', locale: 'nl-NL', marketing_opt_in: true },
  service_level: 'standard', promised_by: '2026-11-28T08:30:00.123Z', shipping_address: address,
  billing_same_as_shipping: true, lines: [line(1, 1, 3495), line(2, 2, 1899)], currency: 'EUR',
  subtotal_minor: 7293, shipping_minor: 0, order_total_minor: 7293, total_weight_g: 5400,
  metadata: { schema: 'fulfilment/v3', site: 'Rotterdam Waalhaven', timezone: 'Europe/Amsterdam',
    producer_seq: '0000000001', tags: ['gift_wrap', 'priority'] },
  notes: 'Customer asked for the parcel to be left with a neighbour if nobody is home.' };
const payment = { ...envelope, event_type: 'payment.captured', amount_minor: 7293, currency: 'EUR',
  payment_method: 'card', card_brand: 'visa', card_last4: '4242', psp: 'adyen',
  psp_reference: 'adyen_0123456789abcdef', risk_score: 12, authorized_at: ts };
const refund = { ...envelope, event_type: 'refund.issued', amount_minor: 3495, currency: 'EUR',
  refund_id: 'RFD-0123456789ab', reason: 'stockout',
  lines: [{ sku: 'SKU-100001', quantity: 1, refund_minor: 3495 }] };
const pick = { ...envelope, event_type: 'pick.completed', picker_id: 'EMP-10007', wave_id: 'WAVE-1234',
  lines_picked: 2, units_picked: 3, short_picks: 0, duration_s: 95,
  lines: [{ line_no: 1, sku: 'SKU-100001', bin: 'A-01-02-B', quantity: 1 }] };

const money = { type: 'integer', minimum: 0 };
const currency = { type: 'string', pattern: '^[A-Z]{3}$' };
const financialTypes = ['payment.captured', 'refund.issued', 'carrier.charge'];
const eventTypes = ['order.received', 'payment.captured', 'order.allocated', 'pick.started',
  'pick.completed', 'pack.completed', 'shipment.dispatched', 'carrier.charge', 'shipment.delivered',
  'fulfilment.exception', 'refund.issued'];
const envelopeSchema = {
  type: 'object',
  required: ['event_id', 'event_type', 'occurred_at', 'warehouse_id'],
  properties: {
    event_id: { type: 'string', pattern: '^evt-[0-9a-z]+-\\d{12}$' },
    event_type: { enum: eventTypes },
    schema_version: { const: 3 },
    occurred_at: { type: 'string', format: 'date-time' },
    warehouse_id: { type: 'string', pattern: '^WH-\\d{2}$' },
    order_id: { type: 'string', minLength: 5, maxLength: 40 },
    source: { type: 'object', required: ['service'], properties: {
      service: { type: 'string', minLength: 1 }, instance: { type: 'string' },
      region: { type: 'string', pattern: '^[a-z]{2}-[a-z]+-\\d$' },
      version: { type: 'string', pattern: '^\\d+\\.\\d+\\.\\d+$' } }, additionalProperties: false },
    trace_id: { type: 'string', pattern: '^[0-9a-f]{32}$' },
  },
};

const corpus = [
  { name: 'envelope', schema: { $schema: 'https://json-schema.org/draft/2020-12/schema', ...envelopeSchema },
    seeds: [envelope, orderReceived, payment] },
  { name: 'order.received', seeds: [orderReceived], schema: {
    $id: 'https://sluice.example/schemas/order-received.json', title: 'order.received',
    allOf: [{ $ref: '#/$defs/envelope' }],
    required: ['customer', 'shipping_address', 'lines', 'currency'],
    properties: {
      event_type: { const: 'order.received' },
      channel: { enum: ['web', 'ios_app', 'android_app', 'marketplace', 'b2b_edi'] },
      customer: { type: 'object', required: ['customer_id'], properties: {
        customer_id: { type: 'string', pattern: '^CUS-\\d{8}$' },
        tier: { enum: ['standard', 'plus', 'business'] },
        locale: { type: 'string', pattern: '^[a-z]{2}-[A-Z]{2}$' },
        marketing_opt_in: { type: 'boolean' } } },
      shipping_address: { $ref: '#/$defs/address' }, billing_address: { $ref: '#/$defs/address' },
      lines: { type: 'array', minItems: 1, maxItems: 12, items: { $ref: '#/$defs/line' } },
      currency, subtotal_minor: money, shipping_minor: money, order_total_minor: money,
      total_weight_g: { type: 'integer', exclusiveMinimum: 0 },
      metadata: { type: 'object', properties: { tags: { type: 'array', items: { type: 'string' }, uniqueItems: true } } },
      notes: { type: 'string', maxLength: 500 },
    },
    $defs: {
      envelope: envelopeSchema,
      address: { type: 'object', required: ['name', 'line1', 'city', 'postal_code', 'country'],
        properties: { name: { type: 'string', minLength: 1, maxLength: 80 }, line1: { type: 'string' },
          line2: { type: 'string' }, city: { type: 'string' }, postal_code: { type: 'string', pattern: '^[0-9A-Z -]{3,10}$' },
          country: { type: 'string', pattern: '^[A-Z]{2}$' }, phone: { type: 'string', pattern: '^\\+\\d{6,15}$' } },
        additionalProperties: false },
      line: { type: 'object', required: ['line_no', 'sku', 'quantity', 'unit_price_minor'],
        properties: { line_no: { type: 'integer', minimum: 1 }, sku: { type: 'string', pattern: '^SKU-\\d{6}$' },
          description: { type: 'string' }, category: { type: 'string' },
          quantity: { type: 'integer', minimum: 1, maximum: 99 }, unit_price_minor: money,
          weight_g: { type: 'number', minimum: 0 } } },
    } } },
  { name: 'financial if/then/else', seeds: [payment, refund, orderReceived, pick], schema: {
    type: 'object', required: ['event_type'],
    properties: { event_type: { enum: eventTypes }, amount_minor: true, currency: true },
    if: { properties: { event_type: { enum: financialTypes } } },
    then: { required: ['amount_minor', 'currency'],
      properties: { amount_minor: { type: 'integer' }, currency: { type: 'string', pattern: '^[A-Z]{3}$' } } },
    else: { not: { required: ['amount_minor'] } } } },
  { name: 'oneOf by event type', seeds: [payment, refund, pick], schema: {
    oneOf: [
      { type: 'object', required: ['event_type', 'amount_minor', 'currency', 'psp'],
        properties: { event_type: { const: 'payment.captured' }, amount_minor: { type: 'integer', exclusiveMinimum: 0 },
          currency: { enum: ['EUR', 'GBP', 'USD', 'SEK', 'PLN'] }, card_last4: { type: 'string', pattern: '^\\d{4}$' } } },
      { type: 'object', required: ['event_type', 'amount_minor', 'refund_id'],
        properties: { event_type: { const: 'refund.issued' }, amount_minor: { type: 'integer', minimum: 1 },
          lines: { type: 'array', items: { type: 'object', required: ['sku'], properties: { refund_minor: { type: 'integer' } } } } } },
      { type: 'object', required: ['event_type'], properties: { event_type: { enum: ['pick.started', 'pick.completed'] } },
        not: { anyOf: [{ required: ['amount_minor'] }, { required: ['currency'] }] } },
    ] } },
  { name: 'overlapping oneOf', seeds: [{ a: 1 }, { a: 1, b: 'x' }, { b: 'x' }, { c: [1, 2] }, 5, 'str'], schema: {
    oneOf: [{ required: ['a'] }, { required: ['b'] }, { type: 'object', properties: { a: { type: 'integer' } } }] } },
  { name: 'anyOf id forms', seeds: [{ id: '123e4567-e89b-12d3-a456-426614174000' }, { id: 42 }, { id: 'x' }], schema: {
    type: 'object', properties: { id: { anyOf: [{ type: 'string', format: 'uuid' }, { type: 'integer', minimum: 1 },
      { type: 'string', pattern: '^ord_[a-z0-9]{6,}$' }] } }, required: ['id'] } },
  { name: 'recursive $defs tree', seeds: [
    { name: 'root', children: [{ name: 'a', children: [] }, { name: 'b', children: [{ name: 'c' }] }] },
    { name: 'x', value: 1.5 }], schema: {
    $ref: '#/$defs/node',
    $defs: { node: { type: 'object', required: ['name'], properties: {
      name: { type: 'string', minLength: 1 }, value: { type: 'number' },
      children: { type: 'array', items: { $ref: '#/$defs/node' }, maxItems: 5 } }, additionalProperties: false } } } },
  { name: 'linked list via # root ref', seeds: [{ v: 1, next: { v: 2, next: { v: 3 } } }, { v: 1, next: null }], schema: {
    type: 'object', required: ['v'], properties: { v: { type: 'integer' }, next: { anyOf: [{ type: 'null' }, { $ref: '#' }] } } } },
  { name: 'definitions and escaped refs', seeds: [{ 'a/b': 'x', 'c~d': 2, 'e%f': true }], schema: {
    type: 'object', properties: { 'a/b': { $ref: '#/definitions/str' }, 'c~d': { $ref: '#/definitions/int~1thing' },
      'e%f': { $ref: '#/definitions/b%25ool' } },
    definitions: { str: { type: 'string', maxLength: 3 }, 'int/thing': { type: 'integer', multipleOf: 2 },
      'b%ool': { type: 'boolean' } } } },
  { name: 'allOf with additionalProperties false gotcha', seeds: [{ a: 1, b: 2 }, { a: 1 }, {}], schema: {
    allOf: [{ properties: { a: { type: 'integer' } }, additionalProperties: false },
      { properties: { b: { type: 'integer' } } }] } },
  { name: '$ref with siblings', seeds: [{ qty: 5 }, { qty: 50 }], schema: {
    type: 'object', properties: { qty: { $ref: '#/$defs/positive', maximum: 10 } },
    $defs: { positive: { type: 'integer', exclusiveMinimum: 0 } } } },
  { name: 'not', seeds: [{ status: 'open' }, { status: null }, { status: 'open', closed_at: ts }], schema: {
    type: 'object', properties: { status: { not: { type: 'null' } } },
    not: { required: ['closed_at'], properties: { status: { const: 'open' } } } } },
  { name: 'patterns: dot, \\s, \\w, unicode, classes', seeds: [{ a: 'x y', b: 'Ab_9', c: 'é', d: 'caf\u00e9', e: 'AB-12', f: 'x' }], schema: {
    type: 'object', properties: {
      a: { type: 'string', pattern: '^.\\s.$' }, b: { type: 'string', pattern: '^\\w+$' },
      c: { type: 'string', pattern: '^.$' }, d: { type: 'string', pattern: 'caf[é\\u00e8]' },
      e: { type: 'string', pattern: '^(?<letters>[A-Z]{2})-\\d{2,}$' }, f: { type: 'string', pattern: '[^]' },
      g: { type: 'string', pattern: '^[\\s\\S]{2}$' }, h: { type: 'string', pattern: '^\\S+$' },
      i: { type: 'string', pattern: '\\bword\\b' }, j: { type: 'string', pattern: '^\\p{Lu}' },
      k: { type: 'string', pattern: '^[^\\s]*$' }, l: { type: 'string', pattern: '\\u{1F600}|\\uD83D\\uDE00|\\x41' },
      m: { type: 'string', pattern: 'a|b|' }, n: { type: 'string', pattern: '^\\d*\\.?\\d+$' },
      o: { type: 'string', pattern: '[\\-\\/\\\\]' } } } },
  { name: 'string lengths in code points', seeds: [{ s: 'abc', t: '😀😀', u: 'e\u0301' }], schema: {
    type: 'object', properties: { s: { type: 'string', minLength: 2, maxLength: 4 },
      t: { type: 'string', maxLength: 2 }, u: { type: 'string', minLength: 2, maxLength: 2 },
      v: { type: 'string', maxLength: 0 }, w: { type: 'string', minLength: 10 } } } },
  { name: 'number edges', seeds: [{ a: 1, b: 0, c: 1e308, d: 5, e: 2.5 }], schema: {
    type: 'object', properties: {
      a: { type: 'integer' }, b: { type: 'number', minimum: 0, maximum: 0 },
      c: { type: 'number', maximum: 1e308 }, d: { type: 'number', exclusiveMinimum: 1, exclusiveMaximum: 10 },
      e: { type: 'number', exclusiveMaximum: 2.5000000000000004 }, f: { type: 'integer', minimum: -9007199254740992 },
      g: { type: 'number', maximum: 9007199254740992 }, h: { type: ['integer', 'null'] } } } },
  { name: 'multipleOf floating point', seeds: [{ price: 12.5, qty: 3, pct: 0.5, tiny: 4e-8, half: 2.5 },
    { price: 19.99, pct: 0.7, tiny: 3e-8 }, { price: 19.5, pct: 1.1, big: 7e21 }], schema: {
    type: 'object', properties: { price: { type: 'number', multipleOf: 0.01 }, qty: { type: 'integer', multipleOf: 3 },
      pct: { multipleOf: 0.1 }, tiny: { multipleOf: 1e-8 }, big: { multipleOf: 7 }, half: { multipleOf: 0.5 } } } },
  { name: 'date-time and friends', seeds: [{ at: ts, day: '2024-02-29', clock: '10:00:00Z', local: '10:00:00', ldt: '2024-01-01T10:00:00' }], schema: {
    type: 'object', required: ['at'], properties: { at: { type: 'string', format: 'date-time' },
      day: { format: 'date' }, clock: { format: 'time' }, local: { format: 'iso-time' },
      ldt: { format: 'iso-date-time' }, n: { format: 'date-time' } } } },
  { name: 'other formats', seeds: [{ email: 'ops@example.com', id: '123e4567-e89b-12d3-a456-426614174000',
    ip: '10.0.0.1', host: 'wh-01.example.com', ttl: 'PT5M', i32: 5, i64: 1e15, f: 1.5, pw: 'secret', bin: 'x' }], schema: {
    type: 'object', properties: { email: { format: 'email' }, id: { format: 'uuid' }, ip: { format: 'ipv4' },
      host: { format: 'hostname' }, ttl: { format: 'duration' }, i32: { format: 'int32' }, i64: { format: 'int64' },
      f: { format: 'float' }, d: { format: 'double' }, pw: { format: 'password' }, bin: { format: 'binary' } } } },
  { name: 'uniqueItems', seeds: [{ tags: ['a', 'b'], nums: [1, 2, 3], objs: [{ a: 1, b: [1, 2] }, { a: 2 }], mixed: [1, '1', null, true, [1], {}] }], schema: {
    type: 'object', properties: { tags: { type: 'array', items: { type: 'string' }, uniqueItems: true },
      nums: { type: 'array', uniqueItems: true }, objs: { uniqueItems: true }, mixed: { uniqueItems: true },
      off: { uniqueItems: false } } } },
  { name: 'const and enum with structure', seeds: [{ k: { a: 1, b: [1, 2] }, e: [1, 2], n: null, m: 1 }], schema: {
    type: 'object', properties: { k: { const: { a: 1, b: [1, 2] } },
      e: { enum: [[1, 2], [2, 1], { x: null }, 'str', 3, null] }, n: { const: null }, m: { enum: [1, '1', true, 0] },
      z: { const: 0 }, f: { const: false } } } },
  { name: 'tuples: prefixItems + items', seeds: [{ point: [1.5, 2.5], rec: ['id', 1, true], rest: ['a', 1, 2, 3] }], schema: {
    type: 'object', properties: {
      point: { type: 'array', prefixItems: [{ type: 'number' }, { type: 'number' }], items: false },
      rec: { prefixItems: [{ type: 'string' }, { type: 'integer' }], minItems: 2, maxItems: 3 },
      rest: { prefixItems: [{ const: 'a' }], items: { type: 'integer', minimum: 0 } } } } },
  { name: 'patternProperties and propertyNames', seeds: [{ 'x-a': 1, S_1: 'v', name: 'n' }, { metrics: { cpu_pct: 5, mem_mb: 100 } }], schema: {
    type: 'object', properties: { name: { type: 'string' },
      metrics: { type: 'object', patternProperties: { '_pct$': { type: 'number', maximum: 100 }, '_mb$': { type: 'integer' } },
        additionalProperties: false, propertyNames: { maxLength: 12 } } },
    patternProperties: { '^x-': { type: 'integer' }, '^S_\\d$': { type: 'string' } },
    additionalProperties: { type: 'string', maxLength: 3 }, propertyNames: { pattern: '^[A-Za-z_x-][\\w-]*$' } } },
  { name: 'min/maxProperties', seeds: [{ a: 1 }, { a: 1, b: 2, c: 3 }, {}], schema: {
    type: 'object', minProperties: 1, maxProperties: 3, properties: { nested: { type: 'object', maxProperties: 0 } } } },
  { name: 'boolean schemas everywhere', seeds: [{ ok: 1, arr: [1, 2] }, { no: 1 }], schema: {
    type: 'object', properties: { no: false, ok: true, arr: { items: true, prefixItems: [true, false] },
      any: { anyOf: [false, { type: 'string' }] }, all: { allOf: [true, { type: 'integer' }] },
      never: { not: true }, always: { not: false } } } },
  { name: 'type arrays', seeds: [{ a: 'x', b: 1, c: null, d: [1] }], schema: {
    type: 'object', properties: { a: { type: ['string', 'null'] }, b: { type: ['integer', 'string'] },
      c: { type: ['null'] }, d: { type: ['array', 'object'] }, e: { type: ['number', 'boolean'], minimum: 3 } } } },
  { name: 'if without then, then/else only', seeds: [{ a: 1 }, { a: 'x' }], schema: {
    type: 'object', properties: { a: { if: { type: 'string' } }, b: { then: false, else: false },
      c: { if: { type: 'integer' }, else: { type: 'string', minLength: 2 } } } } },
  { name: 'delivered: nested geo ranges', seeds: [{ ...envelope, event_type: 'shipment.delivered', carrier: 'PostNL',
    proof_of_delivery: { method: 'signature', signed_by: 'Jansen', geo: { lat: 51.9225, lon: 4.47917 } }, on_time: true }], schema: {
    type: 'object', required: ['proof_of_delivery'], properties: {
      proof_of_delivery: { type: 'object', required: ['method', 'geo'], properties: {
        method: { enum: ['signature', 'photo', 'pin_code', 'none'] },
        geo: { type: 'object', required: ['lat', 'lon'], additionalProperties: false, properties: {
          lat: { type: 'number', minimum: -90, maximum: 90 }, lon: { type: 'number', exclusiveMinimum: -180, maximum: 180 } } } },
        if: { properties: { method: { const: 'signature' } } }, then: { required: ['signed_by'] } },
      on_time: { type: 'boolean' } } } },
  { name: 'refund lines via refs', seeds: [refund], schema: {
    type: 'object', required: ['amount_minor', 'lines'], properties: {
      amount_minor: { $ref: '#/$defs/amount' }, currency: { $ref: '#/$defs/currency' },
      lines: { type: 'array', minItems: 1, items: { $ref: '#/$defs/refund_line' } } },
    $defs: { amount: { type: 'integer', minimum: 1 }, currency: { enum: ['EUR', 'GBP', 'USD', 'SEK', 'PLN'] },
      refund_line: { type: 'object', required: ['sku', 'refund_minor'], properties: {
        sku: { type: 'string', pattern: '^SKU-' }, quantity: { type: 'integer', minimum: 1 },
        refund_minor: { $ref: '#/$defs/amount' } } } } } },
  { name: 'pick.completed with deep arrays', seeds: [pick, { matrix: [[[1, 2], [3]], [[4]]] }], schema: {
    type: 'object', properties: {
      lines: { type: 'array', items: { type: 'object', properties: { bin: { type: 'string', pattern: '^[A-F]-\\d{2}-\\d{2}-[A-E]$' } } } },
      matrix: { type: 'array', items: { type: 'array', items: { type: 'array', items: { type: 'integer' }, maxItems: 2 } } } } } },
  { name: 'root true', seeds: [{ a: 1 }, [1], 'x', null], schema: true },
  { name: 'root false', seeds: [{ a: 1 }, 1], schema: false },
  { name: 'root scalar constraints', seeds: ['abc', 5, null, true], schema: {
    anyOf: [{ type: 'string', maxLength: 3 }, { type: 'number', multipleOf: 5 }, { const: true }] } },
];

// Schemas that ajv accepts and Sluice must refuse as unsupported rather than under-validate.
const unsupported = [
  { contains: { type: 'string' } },
  { properties: { lines: { type: 'array', contains: { const: 1 } } } },
  { dependentRequired: { a: ['b'] } },
  { unevaluatedProperties: false },
  { type: 'string', format: 'uri' },
  { $ref: 'https://example.com/other.json' },
  { $dynamicRef: '#meta' },
  { dependencies: { a: ['b'] } },
  { additionalItems: false },
  { requried: ['typo'] },
];

// ---- Running both validators ----

const work = mkdtempSync(path.join(tmpdir(), 'sluice-schema-diff-'));
after(() => rmSync(work, { recursive: true, force: true }));

function runTool(schema, lines) {
  const file = path.join(work, 'schema.json');
  writeFileSync(file, JSON.stringify(schema));
  const input = lines.length ? lines.join('\n') + '\n' : '';
  const res = spawnSync(TOOL, [file], { input, maxBuffer: 1 << 28 });
  // EPIPE: the tool exited (a schema it rejects) before reading its input; the status says why.
  if (res.error && !(res.error.code === 'EPIPE' && res.status !== null)) throw res.error;
  return { status: res.status, stderr: String(res.stderr),
    answers: String(res.stdout).split('\n').slice(0, lines.length) };
}

function generate(entry, count, seed) {
  const rng = new Rng(seed);
  const pool = harvest(entry.schema);
  const events = [];
  for (const s of entry.seeds) events.push(serialize(s, rng));
  while (events.length < count) {
    let event = clone(rng.pick(entry.seeds));
    for (let m = rng.int(4); m > 0; m--) event = mutate(event, pool, rng);
    events.push(serialize(event, rng));
  }
  return events;
}

describe('JSON Schema validator agrees with ajv', () => {
  test('the tool exists', () => {
    const res = spawnSync(TOOL, []);
    assert.ok(!res.error, `cannot run ${TOOL} (build target schema_validate_tool): ${res.error}`);
  });

  let total = 0;
  for (const [index, entry] of corpus.entries()) {
    test(`schema: ${entry.name}`, (t) => {
      const validate = makeAjv().compile(entry.schema);
      const events = generate(entry, EVENTS_PER_SCHEMA, 1000 + index);
      const tool = runTool(entry.schema, events);
      assert.equal(tool.status, 0, `our compiler rejected a schema ajv accepts: ${tool.stderr}`);
      const disagreements = [];
      let accepted = 0;
      for (let i = 0; i < events.length; i++) {
        const expected = validate(JSON.parse(events[i]));
        const ours = tool.answers[i] ?? '(no answer)';
        if (expected) accepted++;
        if (expected !== (ours === 'ok')) {
          disagreements.push(`event:  ${events[i]}\najv:    ${expected ? 'valid' :
              JSON.stringify(validate.errors)}\nsluice: ${ours}`);
        }
      }
      total += events.length;
      t.diagnostic(`${events.length} events, ${accepted} valid per ajv, all agree`);
      assert.equal(disagreements.length, 0,
          `${disagreements.length} of ${events.length} events disagree for schema ` +
          `${JSON.stringify(entry.schema)}\n\n${disagreements.slice(0, 8).join('\n\n')}`);
      // The mutations must produce both outcomes, or the comparison proves little.
      assert.ok(typeof entry.schema === 'boolean' || (accepted > 0 && accepted < events.length),
          `degenerate corpus for ${entry.name}: ${accepted} of ${events.length} valid`);
    });
  }

  test('unsupported keywords are compile errors, never ignored', () => {
    for (const schema of unsupported) {
      const tool = runTool(schema, []);
      assert.equal(tool.status, 2, `accepted ${JSON.stringify(schema)}`);
      assert.match(tool.stderr, /unsupported/, tool.stderr);
    }
  });

  test('corpus size', (t) => {
    t.diagnostic(`${corpus.length} schemas, ${total} events`);
    assert.ok(corpus.length >= 25);
  });
});

describe('where Sluice is deliberately stricter than JSON.parse', () => {
  const schema = { type: 'object', properties: { a: { type: 'integer' } } };
  const cases = [
    ['{"a":1,"a":2}', /duplicate key 'a'/],
    ['{"a":1,"\\u0061":1}', /duplicate key 'a'/],
    ['{"o":{"k":1,"k":1}}', /^error \/o: duplicate key 'k'/],
    ['{"l":[{"k":1},{"k":1,"k":1}]}', /^error \/l\/1: duplicate key 'k'/],
    ['{"a":1e400}', /invalid JSON/],
    ['{"s":"\\ud800"}', /invalid JSON/],
    ['{"d":' + '['.repeat(70) + ']'.repeat(70) + '}', /nested deeper than 64 levels/],
    ['{"a":1} {"a":2}', /invalid JSON at byte 8/],
  ];
  for (const [text, expected] of cases) {
    test(text.slice(0, 40), () => {
      JSON.parse(text.startsWith('{"a":1} ') ? '{}' : text);  // valid for JSON.parse
      const tool = runTool(schema, [text]);
      assert.equal(tool.status, 0);
      assert.match(tool.answers[0], /^error /);
      assert.match(tool.answers[0], expected);
    });
  }
});
