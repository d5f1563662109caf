// src/validate.ts -- owns the package's verdict on an intent or cancel request:
// the rules of the worker's validator (worker/intent.c, intent_decode) in the
// same order and words, field by field, and then the JSON Schema of
// schemas/intent.schema.json (ajv, 2020-12) as a second, independent check.
// Why both: the schema cannot say everything the worker checks (decimal
// places of numbers, real calendar dates, the 47-character decimals, the
// compact size of meta, a cancel naming itself), and the worker's rules are
// what decides; the schema catches a rule this port would have missed.  The
// verdict names the offending top-level fields as the worker names them, so
// intent-check's output can be compared with `intentctl send --dry-run --json`.
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js'
import { ajv } from './ajv.js'
import { parseDecimal, type DecimalRead } from './decimal.js'
import { intentSchema } from './generated/intent.js'
import { compactBytes, jsonTypeName, isUuid, readIntentText, type RawMembers, type UnreadableReason } from './jsontext.js'
import { parseRfc3339 } from './rfc3339.js'

/** Which topic an intent is for: orders.intents.bot (bot_id required) or orders.intents.user (no bot_id). */
export type IntentSource = 'bot' | 'user'

/** One broken rule, as the worker's rejection lists it. */
export interface FieldError {
  field: string
  message: string
}

export type Verdict =
  | { valid: true }
  | {
      valid: false
      /** validation_failed, or the orders.dlq reason of a message that is no intent at all */
      reason: 'validation_failed' | UnreadableReason
      /** the offending top-level fields, in the worker's order, each once */
      fields: string[]
      errors: FieldError[]
      /** for an unreadable message: why */
      message?: string
    }

export interface ValidateOptions {
  /**
   * 'worker' (default): decimals as the worker takes them, JSON strings or
   * numbers read from their exact text; 'strings': a number is refused (what
   * IntentProducer sends: money never passes through a binary float).
   */
  decimals?: 'worker' | 'strings'
  /** the raw text of the top-level values (readIntentText), for exact numbers and meta's size */
  raw?: RawMembers
}

const MAX_META_BYTES = 8192
const MAX_TIME_CHARS = 47
const ID = /^[A-Za-z0-9._-]{1,64}$/

const FIELDS = [
  'intent_id', 'bot_id', 'user_id', 'symbol', 'side', 'type', 'qty', 'notional', 'limit_price',
  'stop_price', 'time_in_force', 'extended_hours', 'created_at', 'expires_at', 'meta', 'action',
  'target_intent_id',
] as const
const ORDER_FIELDS = FIELDS.slice(FIELDS.indexOf('symbol'), FIELDS.indexOf('extended_hours') + 1)

// One validation: the document, where its errors go, and how decimals are read.
class Check {
  readonly errors: FieldError[] = []
  constructor(
    readonly doc: Record<string, unknown>,
    readonly opts: ValidateOptions,
  ) {}

  has(name: string): boolean {
    return Object.hasOwn(this.doc, name)
  }
  add(field: string, message: string): void {
    if (this.errors.length < 32) this.errors.push({ field, message })
  }
  string(name: string): string | null {
    const v = this.doc[name]
    if (typeof v === 'string') return v
    this.add(name, `must be a string, not ${jsonTypeName(v)}`)
    return null
  }
  id(name: string): void {
    if (!this.has(name)) return this.add(name, 'is required')
    const s = this.string(name)
    if (s !== null && !ID.test(s)) this.add(name, 'must be 1 to 64 characters of A-Z a-z 0-9 . _ -')
  }
  enumOf(name: string, required: boolean, allowed: readonly string[]): string {
    if (!this.has(name)) {
      if (required) this.add(name, 'is required')
      return ''
    }
    const s = this.string(name)
    if (s === null) return ''
    if (allowed.includes(s)) return s
    this.add(name, `must be one of ${allowed.join(', ')}`)
    return ''
  }
  symbol(): void {
    if (!this.has('symbol')) return this.add('symbol', 'is required')
    const s = this.string('symbol')
    if (s === null) return
    if (s.length < 1 || Buffer.byteLength(s) > 15) return this.add('symbol', 'must be 1 to 15 characters long')
    if (/[^A-Za-z0-9./]/.test(s)) return this.add('symbol', 'may only contain A-Z 0-9 . /')
    if (/[a-z]/.test(s)) this.add('symbol', 'must be upper case')
  }
  // A decimal field: positive, at most maxScale places (-1: any).
  decimal(name: string, maxScale: number): boolean {
    const v = this.doc[name]
    let d: DecimalRead
    if (typeof v === 'string') {
      d = parseDecimal(v, false)
    } else if (typeof v === 'number' && this.opts.decimals === 'strings') {
      this.add(name, 'must be a decimal string like "0.5", not a number (amounts are never sent as binary floats)')
      return false
    } else if (typeof v === 'number') {
      d = parseDecimal(this.opts.raw?.get(name) ?? JSON.stringify(v), true)
    } else {
      this.add(name, `must be a decimal (a string like "0.5" or a number), not ${jsonTypeName(v)}`)
      return false
    }
    if (!d.ok && d.why === 'syntax') {
      this.add(name, `must be a decimal like "10" or "0.5" (digits and an optional fraction; no exponent, '+' or spaces)`)
    } else if (!d.ok) {
      this.add(name, 'has too many digits')
    } else if (d.negative || d.zero) {
      this.add(name, 'must be positive')
    } else if (maxScale >= 0 && d.scale > maxScale) {
      this.add(name, `must have at most ${maxScale} decimal places`)
    } else {
      return true
    }
    return false
  }
  time(name: string): void {
    const s = this.string(name)
    if (s === null) return
    if (Buffer.byteLength(s) > MAX_TIME_CHARS) return this.add(name, `must be at most ${MAX_TIME_CHARS} characters`)
    if (parseRfc3339(s) === null) {
      this.add(name, 'must be an RFC 3339 date-time like "2026-11-23T13:21:25Z" (with a valid date, time and offset)')
    }
  }
  meta(): void {
    const v = this.doc.meta
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      return this.add('meta', `must be an object, not ${jsonTypeName(v)}`)
    }
    const raw = this.opts.raw?.get('meta')
    const n = raw !== undefined ? compactBytes(raw) : Buffer.byteLength(JSON.stringify(v))
    if (n > MAX_META_BYTES) this.add('meta', `is ${n} bytes when compact, over the limit of ${MAX_META_BYTES}`)
  }
}

// A cancel request: its target, and none of an order's fields (validate_cancel).
function cancelRules(c: Check): void {
  const t = c.doc.target_intent_id
  if (!c.has('target_intent_id')) c.add('target_intent_id', 'is required in a cancel request')
  else if (typeof t !== 'string') c.add('target_intent_id', `must be a string, not ${jsonTypeName(t)}`)
  else if (!isUuid(t)) c.add('target_intent_id', 'must be a UUID (8-4-4-4-12 hexadecimal digits)')
  else if (t === c.doc.intent_id) c.add('target_intent_id', 'must name another intent, not the cancel request')
  for (const f of ORDER_FIELDS) if (c.has(f)) c.add(f, 'is not allowed in a cancel request')
}

// An order intent's own fields (validate_order).
function orderRules(c: Check): void {
  if (c.has('target_intent_id')) c.add('target_intent_id', 'is only allowed with action cancel')
  c.symbol()
  c.enumOf('side', true, ['buy', 'sell'])
  const type = c.enumOf('type', true, ['market', 'limit', 'stop', 'stop_limit'])
  const needsLimit = type === 'limit' || type === 'stop_limit'
  const needsStop = type === 'stop' || type === 'stop_limit'
  if (c.has('qty')) c.decimal('qty', 9)
  if (c.has('notional')) {
    if (c.has('qty')) c.add('notional', 'must not be given together with qty: give exactly one of them')
    else if (type && type !== 'market') c.add('notional', 'is only allowed with type market')
    else c.decimal('notional', 2)
  } else if (!c.has('qty')) {
    c.add('qty', 'is required: give exactly one of qty and notional')
  }
  for (const [name, needed] of [['limit_price', needsLimit], ['stop_price', needsStop]] as const) {
    if (c.has(name)) {
      if (type && !needed) c.add(name, `is not allowed with type ${type}`)
      else c.decimal(name, -1)
    } else if (needed) {
      c.add(name, `is required with type ${type}`)
    }
  }
  if (c.has('time_in_force')) c.enumOf('time_in_force', false, ['day', 'gtc', 'opg', 'cls', 'ioc', 'fok'])
  if (c.has('extended_hours') && typeof c.doc.extended_hours !== 'boolean') {
    c.add('extended_hours', `must be a boolean, not ${jsonTypeName(c.doc.extended_hours)}`)
  }
}

/** The worker's rules alone (intent_decode's field checks), for an object whose intent_id is usable. */
export function workerRules(doc: Record<string, unknown>, source: IntentSource, opts: ValidateOptions = {}): FieldError[] {
  const c = new Check(doc, opts)
  if (source === 'bot') c.id('bot_id')
  else if (c.has('bot_id')) c.add('bot_id', 'must be absent on the user topic')
  c.id('user_id')
  const action = c.enumOf('action', false, ['place', 'cancel'])
  if (action === 'cancel') cancelRules(c)
  else orderRules(c)
  if (!c.has('created_at')) c.add('created_at', 'is required')
  else c.time('created_at')
  if (c.has('expires_at')) c.time('expires_at')
  if (c.has('meta')) c.meta()
  // In document order (Object.keys puts integer-like keys first).
  for (const key of opts.raw ? opts.raw.keys() : Object.keys(doc)) {
    if (!(FIELDS as readonly string[]).includes(key)) c.add(key, 'is not a known field (extras belong in meta)')
  }
  return c.errors
}

const schemaFor: Record<IntentSource, ValidateFunction> = (() => {
  ajv.addSchema(intentSchema)
  const get = (def: string): ValidateFunction => {
    const v = ajv.getSchema(`${intentSchema.$id}#/$defs/${def}`)
    if (!v) throw new Error(`intent schema: no $defs/${def}`)
    return v
  }
  return { bot: get('bot_intent'), user: get('user_intent') }
})()

// A schema error as a field error: the top-level field it is about ("" when
// it is about the whole object, e.g. a failed oneOf of qty and notional).
function schemaError(e: ErrorObject): FieldError {
  const params = e.params as { missingProperty?: string; additionalProperty?: string }
  const field = e.instancePath.split('/')[1] ?? params.missingProperty ?? params.additionalProperty ?? ''
  return { field, message: `schema: ${e.instancePath || '/'} ${e.message ?? e.keyword}` }
}

/** The JSON Schema's errors alone (schemas/intent.schema.json, as bot_intent or user_intent). */
export function schemaRules(doc: unknown, source: IntentSource): FieldError[] {
  const validate = schemaFor[source]
  if (validate(doc)) return []
  return (validate.errors ?? []).filter((e) => e.keyword !== 'if').map(schemaError)
}

function verdictOf(errors: FieldError[]): Verdict {
  if (errors.length === 0) return { valid: true }
  return { valid: false, reason: 'validation_failed', fields: [...new Set(errors.map((e) => e.field))], errors }
}

/**
 * Checks an intent object (an order intent or a cancel request): the worker's
 * rules, and, when they find nothing, the JSON Schema (whose errors then tell
 * of a rule this package misses).  The object's intent_id must be usable;
 * checkIntentMessage also checks what makes a message unreadable.
 */
export function validateIntent(doc: Record<string, unknown>, source: IntentSource, opts: ValidateOptions = {}): Verdict {
  if (typeof doc.intent_id !== 'string' || !isUuid(doc.intent_id)) {
    return { valid: false, reason: 'no_intent_id', fields: [], errors: [], message: 'intent_id is not a UUID (8-4-4-4-12 hexadecimal digits)' }
  }
  const errors = workerRules(doc, source, opts)
  return verdictOf(errors.length > 0 ? errors : schemaRules(doc, source))
}

/** Checks a message's bytes as the worker would: first whether it is an intent at all, then its rules. */
export function checkIntentMessage(message: Uint8Array | string, source: IntentSource, opts: ValidateOptions = {}): Verdict {
  const read = readIntentText(message)
  if (!read.ok) return { valid: false, reason: read.reason, fields: [], errors: [], message: read.message }
  return validateIntent(read.value, source, { ...opts, raw: read.raw })
}
