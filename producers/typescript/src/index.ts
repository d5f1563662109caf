// src/index.ts -- owns the package's public surface: the intent producer and its
// builders, validator and signer; the typed result consumer and its outcome
// waits; the runtime guard; the types generated from schemas/; the typed
// errors.  Why: the backend imports from one place; everything else is internal.
export type { OrderFillV1, OrderRejectionV1, ResultEvent, Decimal } from './generated/events.js'
export type { IntentV1 } from './generated/intent.js'
export { orderFillSchema, orderRejectionSchema } from './generated/schemas.js'
export { intentSchema } from './generated/intent.js'
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
export { OutcomeTracker, type AwaitOutcomeOptions } from './outcomes.js'
export {
  DEFAULT_INTENT_TOPICS,
  IntentProducer,
  type IntentProducerOptions,
  type SentIntent,
} from './producer.js'
export {
  buildCancel,
  buildOrder,
  type BuiltIntent,
  type CancelInput,
  type DecimalString,
  type OrderFields,
  type OrderInput,
  type Sender,
} from './intents.js'
export {
  checkIntentMessage,
  schemaRules,
  validateIntent,
  workerRules,
  type FieldError,
  type IntentSource,
  type ValidateOptions,
  type Verdict,
} from './validate.js'
export {
  SIGNATURE_HEADER,
  SIGNATURE_SCHEME,
  SIGNING_KEY_BYTES,
  SigningKeyCache,
  loadSigningKey,
  parseSigningKey,
  signIntent,
  type SigningKeySource,
} from './signing.js'
export { INTENT_MAX_BYTES, readIntentText, type ReadResult, type UnreadableReason } from './jsontext.js'
export {
  IntentSendError,
  IntentValidationError,
  OrderWorkerError,
  OutcomeTimeoutError,
  SigningKeyError,
  type OrderWorkerErrorCode,
} from './errors.js'
