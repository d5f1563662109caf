// src/guard.ts -- owns the runtime guard of the result events: turns the bytes of
// a Kafka message into a typed OrderFillV1 / OrderRejectionV1, or a precise
// error.  Why: the backend must never trust the wire; a malformed or foreign
// message is reported and skipped, not cast and crashed on later.  The check is
// the JSON Schema of schemas/ itself (copied into src/generated/schemas.ts by the
// generator), so the guard and the generated types follow the same source.
// Cancel requests (contract section 3b) are read the same way: a canceled event
// may name the request that ended it (cancel_intent_id, cancel_reason), and a
// request that could not cancel gets its own rejection (reason not_cancelable);
// canceledBy() tells which request a canceled event ends too.
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js'
import { ajv } from './ajv.js'
import type { OrderFillV1, OrderRejectionV1, ResultEvent } from './generated/events.js'
import { orderFillSchema, orderRejectionSchema } from './generated/schemas.js'

export const FILL_SCHEMA = 'order-fill/v1'
export const REJECTION_SCHEMA = 'order-rejection/v1'

/** Which result topic a message came from: it decides the schema it must carry. */
export type ResultKind = 'fill' | 'rejection'

export type ParseResult =
  | { ok: true; event: ResultEvent }
  | { ok: false; error: string }

const validateFill = ajv.compile(orderFillSchema) as ValidateFunction<OrderFillV1>
const validateRejection = ajv.compile(orderRejectionSchema) as ValidateFunction<OrderRejectionV1>

function describe(errors: ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return 'does not match the schema'
  // if/then and oneOf add a summary error after the specific ones; keep the
  // specific ones, at most 5, so a log line stays short.
  const specific = errors.filter((e) => e.keyword !== 'if')
  return specific
    .slice(0, 5)
    .map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}`)
    .join('; ')
}

/** True when the value is a valid order-fill/v1 event. */
export function isOrderFill(value: unknown): value is OrderFillV1 {
  return validateFill(value)
}

/** True when the value is a valid order-rejection/v1 event. */
export function isOrderRejection(value: unknown): value is OrderRejectionV1 {
  return validateRejection(value)
}

/**
 * Reads one result message.  `expected` (the topic's kind) makes a fill on the
 * rejections topic, or the reverse, an error too.  Never throws.
 */
export function parseResultEvent(value: Buffer | string | null, expected?: ResultKind): ParseResult {
  if (value === null) return { ok: false, error: 'empty message (no value)' }
  const text = typeof value === 'string' ? value : value.toString('utf8')
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (e) {
    return { ok: false, error: `not JSON: ${(e as Error).message}` }
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return { ok: false, error: 'not a JSON object' }
  }
  const schema = (doc as { schema?: unknown }).schema
  let kind: ResultKind
  if (schema === FILL_SCHEMA) kind = 'fill'
  else if (schema === REJECTION_SCHEMA) kind = 'rejection'
  else return { ok: false, error: `unknown schema ${JSON.stringify(schema ?? null)}` }
  if (expected !== undefined && kind !== expected) {
    return { ok: false, error: `${String(schema)} on the ${expected === 'fill' ? 'fills' : 'rejections'} topic` }
  }
  if (kind === 'fill') {
    return validateFill(doc)
      ? { ok: true, event: doc }
      : { ok: false, error: `invalid ${FILL_SCHEMA}: ${describe(validateFill.errors)}` }
  }
  return validateRejection(doc)
    ? { ok: true, event: doc }
    : { ok: false, error: `invalid ${REJECTION_SCHEMA}: ${describe(validateRejection.errors)}` }
}

/** Why an order was canceled, on a canceled event the worker asked for. */
export type CancelReason = NonNullable<OrderFillV1['cancel_reason']>

/**
 * The cancel request a canceled event names (its cancel_intent_id), or null.
 * The event is that request's outcome too: a cancel request that worked has no
 * event of its own.
 */
export function canceledBy(event: ResultEvent): string | null {
  if (event.schema !== FILL_SCHEMA || event.type !== 'canceled') return null
  return event.cancel_intent_id ?? null
}

/** The terminal outcome an event stands for, or null when more events follow. */
export type Outcome = 'fill' | 'canceled' | 'expired' | 'rejected'

export function terminalOutcome(event: ResultEvent): Outcome | null {
  if (event.schema === REJECTION_SCHEMA) return 'rejected'
  switch (event.type) {
    case 'fill':
    case 'canceled':
    case 'expired':
      return event.type
    default:
      return null
  }
}
