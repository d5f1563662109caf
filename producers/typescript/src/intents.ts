// src/intents.ts -- owns the building of an order intent or a cancel request
// from typed input (contract sections 3 and 3b): a fresh intent_id and
// created_at unless given, the fields in the contract's order, serialised once
// to the exact bytes that will be signed and sent, and checked on those bytes
// as the worker will check them (validate.ts), with money as decimal strings
// only.  Also where each one goes: the topic of its source and its key
// (user_id on the user topic, bot_id on the bot topic; a cancel request is
// keyed like its target, which is the same sender's).  Pure: no Kafka, no key.
import { randomUUID } from 'node:crypto'
import { IntentValidationError } from './errors.js'
import type { IntentV1 } from './generated/intent.js'
import { checkIntentMessage, type IntentSource } from './validate.js'

/** A decimal as text: "10", "0.5", "187.25" (never a number: money does not pass through binary floats). */
export type DecimalString = string

/** Who sends: on the user topic a user (no bot_id), on the bot topic a bot for a user. */
export type Sender<S extends IntentSource> = S extends 'bot'
  ? { bot_id: string; user_id: IntentV1['user_id'] }
  : { user_id: IntentV1['user_id']; bot_id?: never }

interface Common {
  /** the idempotency key; default a fresh UUID. Retry a send with the same one, never a new one. */
  intent_id?: string
  /** default now */
  created_at?: string | Date
  /** default: INTENT_MAX_AGE_MS (60 s) after created_at, the worker's setting */
  expires_at?: string | Date
  meta?: IntentV1['meta']
}

interface OrderCommon extends Common {
  symbol: NonNullable<IntentV1['symbol']>
  side: NonNullable<IntentV1['side']>
  time_in_force?: NonNullable<IntentV1['time_in_force']>
  extended_hours?: boolean
}

/** An order: its type says which amounts and prices it takes (exactly one of qty and notional, notional only for market). */
export type OrderFields =
  | ({ type: 'market'; limit_price?: never; stop_price?: never } & (
      | { qty: DecimalString; notional?: never }
      | { notional: DecimalString; qty?: never }
    ))
  | { type: 'limit'; qty: DecimalString; notional?: never; limit_price: DecimalString; stop_price?: never }
  | { type: 'stop'; qty: DecimalString; notional?: never; stop_price: DecimalString; limit_price?: never }
  | { type: 'stop_limit'; qty: DecimalString; notional?: never; limit_price: DecimalString; stop_price: DecimalString }

export type OrderInput<S extends IntentSource = 'user'> = OrderCommon & OrderFields & Sender<S>

export type CancelInput<S extends IntentSource = 'user'> = Common &
  Sender<S> & {
    /** the order intent to cancel: one of the same sender's */
    target_intent_id: string
  }

/** An intent ready to sign and send: its object, its exact bytes, its key. */
export interface BuiltIntent {
  source: IntentSource
  intent: IntentV1
  /** the message value: what is signed and sent, byte for byte */
  bytes: Buffer
  /** the message key: user_id on the user topic, bot_id on the bot topic */
  key: string
}

function timestamp(t: string | Date | undefined, fallback: () => Date): string {
  if (t === undefined) return fallback().toISOString()
  return typeof t === 'string' ? t : t.toISOString()
}

// Checks the bytes as the worker will; the built intent, or IntentValidationError.
function finish(source: IntentSource, draft: IntentV1): BuiltIntent {
  const bytes = Buffer.from(JSON.stringify(draft), 'utf8')
  const intent = JSON.parse(bytes.toString('utf8')) as IntentV1 // what was serialised (no undefined members)
  const verdict = checkIntentMessage(bytes, source, { decimals: 'strings' })
  const id = typeof intent.intent_id === 'string' ? intent.intent_id : null
  if (!verdict.valid) {
    const errors = verdict.errors.length > 0 ? verdict.errors : [{ field: verdict.reason === 'no_intent_id' ? 'intent_id' : '', message: verdict.message ?? verdict.reason }]
    throw new IntentValidationError(id, errors, verdict.reason)
  }
  const key = source === 'bot' ? (intent.bot_id as string) : intent.user_id
  return { source, intent, bytes, key }
}

// The intent in the contract's order: intent_id, what it is (a cancel's action
// and target), who sends it, its own fields, its times.
function assemble(source: IntentSource, input: Common & { bot_id?: string; user_id: string }, lead: object, body: object): BuiltIntent {
  const now = new Date()
  const intent = {
    intent_id: input.intent_id ?? randomUUID(),
    ...lead,
    ...(input.bot_id !== undefined ? { bot_id: input.bot_id } : {}),
    user_id: input.user_id,
    ...body,
    created_at: timestamp(input.created_at, () => now),
    ...(input.expires_at !== undefined ? { expires_at: timestamp(input.expires_at, () => now) } : {}),
  } as IntentV1
  return finish(source, intent)
}

/**
 * An order intent for the source's topic, checked; IntentValidationError
 * (listing every broken field, nothing sent) when it breaks a rule.
 */
export function buildOrder<S extends IntentSource>(source: S, input: OrderInput<S>): BuiltIntent {
  const { intent_id: _i, created_at: _c, expires_at: _e, bot_id: _b, user_id: _u, ...order } = input as OrderInput<'bot'>
  return assemble(source, input as OrderInput<'bot'>, {}, order)
}

/** A cancel request of target_intent_id (contract 3b), checked like an order. */
export function buildCancel<S extends IntentSource>(source: S, input: CancelInput<S>): BuiltIntent {
  const { intent_id: _i, created_at: _c, expires_at: _e, bot_id: _b, user_id: _u, target_intent_id, ...rest } = input as CancelInput<'bot'>
  return assemble(source, input as CancelInput<'bot'>, { action: 'cancel', target_intent_id }, rest)
}
