// src/index.ts -- owns the package's public surface: the typed consumer, the
// runtime guard and the types generated from schemas/.  Why: the backend imports
// from one place; everything else is internal.
export type { OrderFillV1, OrderRejectionV1, ResultEvent, Decimal } from './generated/events.js'
export { orderFillSchema, orderRejectionSchema } from './generated/schemas.js'
export {
  FILL_SCHEMA,
  REJECTION_SCHEMA,
  canceledBy,
  isOrderFill,
  isOrderRejection,
  parseResultEvent,
  terminalOutcome,
  type CancelReason,
  type Outcome,
  type ParseResult,
  type ResultKind,
} from './guard.js'
export {
  DEFAULT_TOPICS,
  MemoryDedupStore,
  ResultConsumer,
  type DedupStore,
  type InvalidMessage,
  type MessageContext,
  type ResultConsumerOptions,
  type ResultConsumerStats,
  type ResultHandlers,
  type TerminalOutcome,
} from './consumer.js'
