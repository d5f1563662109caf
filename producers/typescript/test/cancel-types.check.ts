// test/cancel-types.check.ts -- owns the compile-time checks of the cancel
// fields' types (never run, only type-checked: `tsc -p test`, in ts_consumer):
// cancel_intent_id and cancel_reason are typed on order-fill events and on
// TerminalOutcome, not_cancelable is a rejection reason, and misspellings do not
// compile.  Why: the backend's code is written against these types; a
// regeneration that loses them must fail here, not in production.
import type { CancelReason, OrderFillV1, OrderRejectionV1, ResultEvent, TerminalOutcome } from '../src/index.js'
import { canceledBy } from '../src/index.js'

export function cancelOf(event: OrderFillV1): [string | undefined, CancelReason | undefined] {
  return [event.cancel_intent_id, event.cancel_reason]
}

export const requested: CancelReason = 'requested'
export const operator: CancelReason = 'operator'
// @ts-expect-error not a cancel reason
export const badReason: CancelReason = 'because'

export const notCancelable: OrderRejectionV1['reason'] = 'not_cancelable'
// @ts-expect-error misspelt rejection reason
export const misspelt: OrderRejectionV1['reason'] = 'not_cancellable'

export function requestEnded(t: TerminalOutcome): string | null {
  if (t.outcome === 'canceled' && t.cancel_reason === 'requested') return t.cancel_intent_id ?? null
  if (t.outcome === 'rejected' && t.reason === 'not_cancelable') return t.intent_id
  return null
}

export const fromEvent: (event: ResultEvent) => string | null = canceledBy
