// src/errors.ts -- owns the package's typed errors: what a caller can catch and
// tell apart (instanceof, or `code`) without parsing messages.  Why: a backend
// answers a refused order (400), a Kafka failure (503) and a timeout (202,
// "still pending") differently.  No error here ever carries a signing key.
import type { FieldError } from './validate.js'

export type OrderWorkerErrorCode = 'invalid_intent' | 'signing_key' | 'send_failed' | 'outcome_timeout' | 'closed'

export class OrderWorkerError extends Error {
  constructor(
    readonly code: OrderWorkerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = new.target.name
  }
}

/** The intent breaks a rule (the worker would reject it validation_failed, or not read it at all); nothing was sent. */
export class IntentValidationError extends OrderWorkerError {
  /** the offending top-level fields, as the worker names them */
  readonly fields: string[]
  constructor(
    readonly intentId: string | null,
    readonly errors: FieldError[],
    readonly reason = 'validation_failed',
  ) {
    super('invalid_intent', `invalid intent${intentId ? ' ' + intentId : ''}: ${errors.map((e) => `${e.field || '(intent)'} ${e.message}`).join('; ')}`)
    this.fields = [...new Set(errors.map((e) => e.field))]
  }
}

/** The signing key could not be had or is not a key; the message says where from, never what it holds. */
export class SigningKeyError extends OrderWorkerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('signing_key', message, options)
  }
}

/** Kafka did not acknowledge the intent (the send's delivery report was an error, or the producer failed). */
export class IntentSendError extends OrderWorkerError {
  constructor(
    readonly intentId: string,
    readonly topic: string,
    cause: unknown,
  ) {
    super('send_failed', `intent ${intentId} was not acknowledged by Kafka (${topic}): ${describeCause(cause)}`, { cause })
  }
}

/** No terminal outcome of the intent arrived in time (it may still come: the intent is not canceled). */
export class OutcomeTimeoutError extends OrderWorkerError {
  constructor(
    readonly intentId: string,
    readonly timeoutMs: number,
  ) {
    super('outcome_timeout', `no terminal outcome of intent ${intentId} within ${timeoutMs} ms`)
  }
}

function describeCause(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause)
}
