// test/client.test.mjs -- owns the unit checks of the producer side (no Kafka):
// the builders (fresh ids, the contract's fields, the key of each topic),
// their refusals (every broken field named, numbers refused, nothing sent),
// the validator's verdicts on producers/samples/ (what the worker says of
// them), the signature against an HMAC computed independently by OpenSSL over
// the same bytes, the keys from a file and a callback, and that no error ever
// shows a key; and the outcome waits (a terminal outcome, a cancel request
// ended by its target's canceled event, a timeout naming the intent, an
// outcome seen before the wait).  Why: these are the rules the backend relies
// on before anything reaches Kafka.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import {
  IntentProducer, IntentValidationError, OutcomeTimeoutError, OutcomeTracker, SIGNATURE_HEADER, SigningKeyError,
  buildCancel, buildOrder, checkIntentMessage, loadSigningKey, signIntent,
} from '../dist/index.js'

const KEY_HEX = '6b8f2c1d0e9a7b3c5d4e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081920a1b'
const KEY = Buffer.from(KEY_HEX, 'hex')
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

test('buildOrder: a user intent with a fresh id, keyed by user_id; a bot intent keyed by bot_id', () => {
  const u = buildOrder('user', { user_id: 'alice', symbol: 'AAPL', side: 'buy', type: 'market', qty: '2', meta: { route: 'POST /orders' } })
  assert.match(u.intent.intent_id, UUID)
  assert.equal(u.key, 'alice')
  assert.deepEqual(Object.keys(u.intent), ['intent_id', 'user_id', 'symbol', 'side', 'type', 'qty', 'meta', 'created_at'])
  assert.ok(!Number.isNaN(Date.parse(u.intent.created_at)))
  assert.equal(u.bytes.toString(), JSON.stringify(u.intent), 'the bytes are the intent, compact')
  const b = buildOrder('bot', { bot_id: 'bot-7', user_id: 'alice', symbol: 'IBM', side: 'sell', type: 'stop_limit', qty: '1.5', limit_price: '149.5', stop_price: '150', time_in_force: 'gtc', created_at: new Date('2026-03-02T14:30:00Z') })
  assert.equal(b.key, 'bot-7')
  assert.equal(b.intent.created_at, '2026-03-02T14:30:00.000Z')
  assert.notEqual(buildOrder('user', { user_id: 'a', symbol: 'A', side: 'buy', type: 'market', qty: '1' }).intent.intent_id,
    buildOrder('user', { user_id: 'a', symbol: 'A', side: 'buy', type: 'market', qty: '1' }).intent.intent_id, 'a fresh id each time')
  const c = buildCancel('user', { user_id: 'alice', target_intent_id: u.intent.intent_id })
  assert.deepEqual([c.intent.action, c.intent.target_intent_id, c.key], ['cancel', u.intent.intent_id, 'alice'], 'a cancel is keyed like its target')
})

test('refusals name every broken field, as the worker does; numbers are refused', () => {
  const refused = (fn) => {
    try { fn() } catch (e) { assert.ok(e instanceof IntentValidationError, String(e)); return e }
    assert.fail('not refused')
  }
  let e = refused(() => buildOrder('user', { user_id: 'alice', symbol: 'aapl', side: 'buy', type: 'market', qty: '-5' }))
  assert.deepEqual(e.fields, ['symbol', 'qty'])
  assert.deepEqual(e.errors, [{ field: 'symbol', message: 'must be upper case' }, { field: 'qty', message: 'must be positive' }])
  assert.equal(e.code, 'invalid_intent')
  e = refused(() => buildOrder('user', { user_id: 'alice', symbol: 'AAPL', side: 'buy', type: 'market', qty: 2 }))
  assert.deepEqual(e.fields, ['qty'])
  assert.match(e.message, /not a number/)
  const cases = [
    [{ qty: '1.1234567891' }, ['qty'], /at most 9 decimal places/],
    [{ qty: '1.1234567890' }, [], null], // trailing zeros do not count
    [{ qty: undefined, notional: '10.505' }, ['notional'], /at most 2 decimal places/],
    [{ notional: '10' }, ['notional'], /together with qty/],
    [{ qty: undefined }, ['qty'], /exactly one of qty and notional/],
    [{ type: 'limit' }, ['limit_price'], /required with type limit/],
    [{ stop_price: '4' }, ['stop_price'], /not allowed with type market/],
    [{ created_at: '2026-02-30T00:00:00Z' }, ['created_at'], /RFC 3339/],
    [{ meta: { k: 'x'.repeat(8200) } }, ['meta'], /over the limit of 8192/],
    [{ price: '5' }, ['price'], /not a known field/],
  ]
  for (const [change, fields, why] of cases) {
    const input = { user_id: 'alice', symbol: 'AAPL', side: 'buy', type: 'market', qty: '1', ...change }
    if (fields.length === 0) { assert.doesNotThrow(() => buildOrder('user', input)); continue }
    e = refused(() => buildOrder('user', input))
    assert.deepEqual(e.fields, fields, JSON.stringify(change))
    assert.match(e.message, why)
  }
  e = refused(() => buildOrder('user', { bot_id: 'b', user_id: 'alice', symbol: 'AAPL', side: 'buy', type: 'market', qty: '1' }))
  assert.deepEqual(e.fields, ['bot_id'])
  e = refused(() => buildOrder('bot', { user_id: 'alice', symbol: 'AAPL', side: 'buy', type: 'market', qty: '1' }))
  assert.deepEqual(e.fields, ['bot_id'])
  const id = '6f1c2b9e-8d4a-4e1b-9c3f-2a7d5e0b1c44'
  e = refused(() => buildCancel('user', { intent_id: id, user_id: 'alice', target_intent_id: id }))
  assert.deepEqual(e.fields, ['target_intent_id'])
  e = refused(() => buildCancel('user', { user_id: 'alice', target_intent_id: id, symbol: 'AAPL' }))
  assert.deepEqual(e.fields, ['symbol'])
  e = refused(() => buildOrder('user', { user_id: 'alice', symbol: 'AAPL', side: 'buy', type: 'market', qty: '1', meta: { k: 'x'.repeat(70000) } }))
  assert.equal(e.reason, 'too_large')
})

// The samples, filled in as tests/test_schemas.sh does, and what the worker says of them.
const SAMPLES = new URL('../../samples/', import.meta.url)
const WORKER_SAYS = {
  '07-validation-failed.json': { reason: 'validation_failed', fields: ['symbol', 'qty'] },
  '08-not-json.txt': { reason: 'not_json', fields: [] },
}
function fill(text) {
  const now = new Date().toISOString()
  const values = {
    '@INTENT_ID': crypto.randomUUID(), '@BOT_ID': 'sample-bot', '@USER_ID': 'sample-user', '@NOW': now,
    '@FIVE_MIN_AGO': new Date(Date.now() - 300000).toISOString(), '@MARKETABLE_LIMIT': '1000.00', '@RESTING_LIMIT': '1.00',
  }
  return text.replace(/"(@[A-Z_]+)"/g, (all, p) => (p in values ? JSON.stringify(values[p]) : all))
}

test('validation verdicts on producers/samples/ equal the worker\'s', () => {
  const names = readdirSync(SAMPLES).sort()
  assert.ok(names.length >= 10)
  for (const name of names) {
    const line = fill(readFileSync(new URL(name, SAMPLES), 'utf8').trim())
    const source = line.includes('"bot_id"') ? 'bot' : 'user'
    const v = checkIntentMessage(Buffer.from(line), source)
    const want = WORKER_SAYS[name]
    if (want) {
      assert.equal(v.valid, false, name)
      assert.deepEqual({ reason: v.reason, fields: v.fields }, want, name)
    } else {
      assert.deepEqual(v, { valid: true }, `${name}: ${JSON.stringify(v)}`)
    }
  }
})

test('the signature is OpenSSL\'s HMAC-SHA256 of the exact bytes, in the header x-signature', () => {
  const built = buildOrder('user', { user_id: 'alice', symbol: 'AAPL', side: 'buy', type: 'market', qty: '2', created_at: '2026-03-02T14:30:00Z', intent_id: '6f1c2b9e-8d4a-4e1b-9c3f-2a7d5e0b1c44' })
  const dir = mkdtempSync(join(tmpdir(), 'ow-sign-'))
  writeFileSync(join(dir, 'value'), built.bytes)
  const out = execFileSync('openssl', ['dgst', '-sha256', '-mac', 'HMAC', '-macopt', `hexkey:${KEY_HEX}`, join(dir, 'value')]).toString()
  const want = out.trim().split(/\s+/).pop()
  assert.match(want, /^[0-9a-f]{64}$/)
  assert.equal(signIntent(KEY, built.bytes), `v1=${want}`)
  assert.equal(SIGNATURE_HEADER, 'x-signature')
  // A fixed vector (the same bytes, key and digest as computed above once).
  assert.equal(signIntent(KEY, Buffer.from('{"intent_id":"x"}')),
    'v1=' + execFileSync('openssl', ['dgst', '-sha256', '-mac', 'HMAC', '-macopt', `hexkey:${KEY_HEX}`], { input: '{"intent_id":"x"}' }).toString().trim().split(/\s+/).pop())
})

test('keys from a file and a callback; no error or print shows a key', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ow-key-'))
  writeFileSync(join(dir, 'good.key'), `${KEY_HEX}\n`)
  assert.deepEqual(Buffer.from(await loadSigningKey({ file: join(dir, 'good.key') })), KEY)
  assert.deepEqual(Buffer.from(await loadSigningKey(async () => KEY)), KEY)
  assert.deepEqual(Buffer.from(await loadSigningKey(async () => KEY_HEX.toUpperCase())), KEY)
  const almost = KEY_HEX.slice(0, 63) + 'g'
  writeFileSync(join(dir, 'bad.key'), almost)
  const failures = [
    () => loadSigningKey({ file: join(dir, 'bad.key') }),
    () => loadSigningKey({ file: join(dir, 'missing.key') }),
    () => loadSigningKey(async () => almost),
    () => loadSigningKey(async () => KEY.subarray(0, 31)),
    () => loadSigningKey(async () => { throw new Error('vault sealed') }),
  ]
  for (const f of failures) {
    const e = await f().then(() => assert.fail('accepted'), (err) => err)
    assert.ok(e instanceof SigningKeyError, String(e))
    const shown = inspect(e) + String(e) + JSON.stringify(e)
    assert.ok(!shown.includes(almost) && !shown.includes(KEY_HEX.slice(0, 40)) && !shown.includes(KEY.toString('base64')), `a key in: ${shown}`)
  }
  // A producer (never connected) shows no key either, nor does a refusal made with a key loaded.
  const p = new IntentProducer({ source: 'user', brokers: ['127.0.0.1:1'], signingKey: async () => KEY_HEX })
  const e = (() => { try { p.buildOrder({ user_id: 'alice', symbol: 'aapl', side: 'buy', type: 'market', qty: '1' }) } catch (err) { return err } })()
  for (const shown of [inspect(p, { showHidden: true, depth: 5 }), inspect(e), String(e)]) assert.ok(!shown.includes(KEY_HEX), shown)
  await p.disconnect()
})

test('outcome waits: an intent, a cancel request ended by its target, a timeout naming the intent', async () => {
  const t = new OutcomeTracker()
  const A = 'aaaaaaaa-0000-4000-8000-000000000001', CX = 'aaaaaaaa-0000-4000-8000-000000000002'
  const fill = { intent_id: A, outcome: 'fill', event: {} }
  const early = t.wait(A, { timeoutMs: 1000 })
  t.record(fill)
  assert.equal(await early, fill)
  assert.equal(await t.wait(A), fill, 'an outcome seen before the wait resolves it at once')
  const B = 'aaaaaaaa-0000-4000-8000-000000000003'
  const canceled = { intent_id: B, outcome: 'canceled', cancel_intent_id: CX, cancel_reason: 'requested', event: {} }
  const request = t.wait(CX, { timeoutMs: 1000 })
  t.record(canceled)
  t.record({ ...canceled, outcome: 'fill' }) // a later terminal event does not change the first
  assert.equal(await request, canceled, "the request's outcome is its target's canceled event")
  assert.equal(await t.wait(B), canceled)
  const started = Date.now()
  const e = await t.wait('aaaaaaaa-0000-4000-8000-00000000000f', { timeoutMs: 200 }).then(() => assert.fail('resolved'), (err) => err)
  assert.ok(e instanceof OutcomeTimeoutError)
  assert.equal(e.intentId, 'aaaaaaaa-0000-4000-8000-00000000000f')
  assert.match(e.message, /aaaaaaaa-0000-4000-8000-00000000000f within 200 ms/)
  assert.ok(Date.now() - started >= 190)
  assert.equal(t.waiting, 0)
  const pending = t.wait('aaaaaaaa-0000-4000-8000-00000000000e', { timeoutMs: 0 })
  t.close()
  await assert.rejects(pending, /stopped/)
})
