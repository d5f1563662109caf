// test/guard.test.mjs -- owns the unit checks of the runtime guard (no Kafka):
// real-looking events pass, each kind of malformed or foreign message is refused
// with a reason; a canceled event naming its cancel request and a
// not_cancelable rejection are read and told apart.  Why: the guard is what
// stands between the wire and the backend's typed code; it must refuse, never
// throw.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseResultEvent, terminalOutcome, isOrderFill, isOrderRejection, canceledBy } from '../dist/index.js'

const ID = '0b64857e-869a-404a-95e9-0bf842391be5'
export const fill = {
  schema: 'order-fill/v1', event_id: `${ID}:fill:1`, intent_id: ID, bot_id: 'b1', user_id: 'u1',
  symbol: 'AAPL', side: 'buy', occurred_at: '2026-11-23T16:29:40.364Z', type: 'fill',
  client_order_id: `ow-${ID}`, order_id: '7a76a9d0-0337-4e80-a71b-dd36f07f780b', order_type: 'market',
  qty: '1', time_in_force: 'day', status: 'filled', filled_qty: '1', filled_avg_price: '189.13',
  last_fill_qty: '1', last_fill_price: '189.13',
}
const rejection = {
  schema: 'order-rejection/v1', event_id: `${ID}:rejected`, intent_id: ID, bot_id: 'b1', user_id: 'u1',
  symbol: 'aapl', side: 'buy', occurred_at: '2026-11-23T16:29:40Z', reason: 'validation_failed',
  message: 'invalid intent', errors: [{ field: 'symbol', message: 'lower case' }],
}

test('valid events pass and tell their outcome', () => {
  const f = parseResultEvent(JSON.stringify(fill), 'fill')
  assert.equal(f.ok, true)
  assert.equal(terminalOutcome(f.event), 'fill')
  assert.equal(terminalOutcome({ ...fill, type: 'accepted' }), null)
  const r = parseResultEvent(Buffer.from(JSON.stringify(rejection)), 'rejection')
  assert.equal(r.ok, true)
  assert.equal(terminalOutcome(r.event), 'rejected')
  assert.ok(isOrderFill(fill) && isOrderRejection(rejection))
})

test('malformed and foreign messages are refused with a reason', () => {
  const bad = [
    [null, /empty/],
    ['not json', /not JSON/],
    ['[1,2]', /not a JSON object/],
    [JSON.stringify({ ...fill, schema: 'order-fill/v2' }), /unknown schema/],
    [JSON.stringify(fill), /on the rejections topic/, 'rejection'],
    [JSON.stringify({ ...fill, filled_qty: 1 }), /filled_qty must be string/],
    [JSON.stringify({ ...fill, qty: '1.x' }), /qty must match pattern/],
    [JSON.stringify({ ...fill, type: 'filled' }), /type must be equal to one of/],
    [JSON.stringify({ ...fill, occurred_at: 'yesterday' }), /occurred_at must match format/],
    [JSON.stringify((({ last_fill_price, ...rest }) => rest)(fill)), /last_fill_price/],
    [JSON.stringify({ ...fill, notional: '10' }), /oneOf|must match exactly one/],
    [JSON.stringify({ ...fill, event_id: 'x' }), /event_id must match pattern/],
    [JSON.stringify((({ errors, ...rest }) => rest)(rejection)), /errors/, 'rejection'],
    [JSON.stringify({ ...rejection, reason: 'because' }), /reason must be equal to one of/, 'rejection'],
  ]
  for (const [value, why, kind = 'fill'] of bad) {
    const r = parseResultEvent(value, kind)
    assert.equal(r.ok, false, `accepted: ${value}`)
    assert.match(r.error, why)
  }
})

const CX = '2b7e4f10-3c5d-4a6b-8e9f-1a2b3c4d5e6f'
export const canceled = {
  ...fill, event_id: `${ID}:canceled:1`, type: 'canceled', order_type: 'limit', limit_price: '150',
  time_in_force: 'gtc', status: 'canceled', filled_qty: '0', filled_avg_price: null,
  cancel_intent_id: CX, cancel_reason: 'requested',
}
delete canceled.last_fill_qty
delete canceled.last_fill_price
export const notCancelable = {
  schema: 'order-rejection/v1', event_id: `${CX}:rejected`, intent_id: CX, bot_id: 'b1', user_id: 'u1',
  symbol: null, side: null, occurred_at: '2026-11-23T16:29:41Z', reason: 'not_cancelable', message: `not cancelable: no intent ${ID}`,
}

test('cancel requests: the canceled event names its request, not_cancelable is a rejection', () => {
  const c = parseResultEvent(JSON.stringify(canceled), 'fill')
  assert.equal(c.ok, true, c.error)
  assert.equal(terminalOutcome(c.event), 'canceled')
  assert.equal(c.event.cancel_intent_id, CX)
  assert.equal(c.event.cancel_reason, 'requested')
  assert.equal(canceledBy(c.event), CX)
  const { cancel_intent_id, ...operator } = canceled
  assert.ok(isOrderFill({ ...operator, cancel_reason: 'operator' }))
  assert.equal(canceledBy({ ...operator, cancel_reason: 'operator' }), null)
  assert.equal(canceledBy(fill), null)
  const r = parseResultEvent(JSON.stringify(notCancelable), 'rejection')
  assert.equal(r.ok, true, r.error)
  assert.equal(terminalOutcome(r.event), 'rejected')
  assert.equal(r.event.reason, 'not_cancelable')
  assert.equal(canceledBy(r.event), null)
  const bad = [
    [{ ...fill, cancel_intent_id: CX, cancel_reason: 'requested' }, /type must be equal to constant/],
    [{ ...canceled, cancel_reason: 'operator' }, /cancel_reason must be equal to constant/],
    [(({ cancel_reason, ...rest }) => rest)(canceled), /required property 'cancel_reason'/],
    [{ ...canceled, cancel_reason: 'because' }, /cancel_reason must be equal to one of/],
  ]
  for (const [value, why] of bad) {
    const p = parseResultEvent(JSON.stringify(value), 'fill')
    assert.equal(p.ok, false, `accepted: ${JSON.stringify(value)}`)
    assert.match(p.error, why)
  }
})
