// src/consumer.ts -- owns ResultConsumer: the backend's reader of the result
// topics (orders.fills, orders.rejections).  It joins a consumer group, checks
// every message with the runtime guard, drops repeated event_ids, hands typed
// events to the caller's callbacks, tells when an intent reached its terminal
// outcome, and commits a message's offset only after its callbacks resolved
// (at-least-once: a crash or a failing callback means the message comes again),
// and lets a caller await one intent's terminal outcome (awaitOutcome, with
// outcomes.ts).
// Why a class of its own: these rules are the contract's consumer side
// (contract section 4) and every backend process must apply them the same way.
// Kafka client: @confluentinc/kafka-javascript (Confluent's maintained client,
// librdkafka underneath) through its KafkaJS-compatible API.
import type { KafkaJS } from '@confluentinc/kafka-javascript'
import type { OrderFillV1, OrderRejectionV1, ResultEvent } from './generated/events.js'
import { parseResultEvent, terminalOutcome, type CancelReason, type Outcome, type ResultKind } from './guard.js'
import { LogLevel, StderrSink, newKafka } from './kafka.js'
import { OutcomeTracker, type AwaitOutcomeOptions } from './outcomes.js'

/** Topic names of the contract (section 2); env TOPIC_FILLS / TOPIC_REJECTIONS override. */
export const DEFAULT_TOPICS = { fills: 'orders.fills', rejections: 'orders.rejections' } as const

/** Where a message came from. */
export interface MessageContext {
  topic: string
  partition: number
  offset: string
  key: string | null
  timestamp: string
}

/** An intent's terminal outcome, as told by the event that ended it. */
export interface TerminalOutcome {
  intent_id: string
  outcome: Outcome
  /** the rejection reason when outcome is 'rejected' (not_cancelable: a cancel request that could not cancel) */
  reason?: OrderRejectionV1['reason']
  /**
   * when outcome is 'canceled' and the worker canceled the order: the cancel
   * request that did (whose outcome this event is too) ...
   */
  cancel_intent_id?: string
  /** ... and why: 'requested' (that cancel request) or 'operator' (no request) */
  cancel_reason?: CancelReason
  event: ResultEvent
}

/** A message that could not be read as a result event; it is skipped (and committed). */
export interface InvalidMessage {
  error: string
  value: Buffer | null
}

type MaybePromise = void | Promise<void>

export interface ResultHandlers {
  /** every valid, first-seen event, fills and rejections alike (discriminated by `schema`) */
  onEvent?(event: ResultEvent, ctx: MessageContext): MaybePromise
  onFill?(event: OrderFillV1, ctx: MessageContext): MaybePromise
  onRejection?(event: OrderRejectionV1, ctx: MessageContext): MaybePromise
  /** after the callbacks above, when the event ends its intent */
  onTerminal?(outcome: TerminalOutcome, ctx: MessageContext): MaybePromise
  /** a repeated event_id, dropped (default: nothing) */
  onDuplicate?(event: ResultEvent, ctx: MessageContext): MaybePromise
  /** a malformed or foreign message, skipped (default: one line on stderr) */
  onInvalid?(invalid: InvalidMessage, ctx: MessageContext): MaybePromise
}

/**
 * Remembers handled event_ids.  The default keeps the last `max` in memory,
 * which covers the redeliveries of a worker crash; a backend that needs the
 * guarantee across its own restarts passes a store on its database (or makes its
 * writes idempotent on event_id, which the at-least-once delivery needs anyway).
 */
export interface DedupStore {
  has(eventId: string): boolean | Promise<boolean>
  add(eventId: string): void | Promise<void>
}

export class MemoryDedupStore implements DedupStore {
  readonly #seen = new Set<string>()
  constructor(private readonly max = 100_000) {}
  has(eventId: string): boolean {
    return this.#seen.has(eventId)
  }
  add(eventId: string): void {
    this.#seen.add(eventId)
    if (this.#seen.size > this.max) {
      const oldest = this.#seen.values().next()
      if (!oldest.done) this.#seen.delete(oldest.value)
    }
  }
}

export interface ResultConsumerOptions extends ResultHandlers {
  /** bootstrap servers; default env KAFKA_BROKERS (comma-separated) */
  brokers?: string[]
  groupId: string
  clientId?: string
  topics?: { fills?: string; rejections?: string }
  /** where a group without committed offsets starts: true = oldest message (default true) */
  fromBeginning?: boolean
  dedup?: DedupStore
  /** extra client settings of the `kafkaJS` block (ssl, sasl, retry, ...) */
  kafka?: Partial<KafkaJS.KafkaConfig>
  /**
   * librdkafka properties (CONFIGURATION.md of librdkafka), e.g.
   * `{ 'security.protocol': 'ssl', 'ssl.ca.location': '/etc/ssl/ca.pem' }`
   */
  librdkafka?: KafkaJS.ConsumerGlobalAndTopicConfig
  /** client log level (default ERROR); logs go to stderr */
  logLevel?: KafkaJS.logLevel
  sessionTimeout?: number
}

export interface ResultConsumerStats {
  handled: number
  duplicates: number
  invalid: number
  terminal: number
}

function topicsFromEnv(given: ResultConsumerOptions['topics']): { fills: string; rejections: string } {
  return {
    fills: given?.fills ?? process.env.TOPIC_FILLS ?? DEFAULT_TOPICS.fills,
    rejections: given?.rejections ?? process.env.TOPIC_REJECTIONS ?? DEFAULT_TOPICS.rejections,
  }
}

export class ResultConsumer {
  readonly topics: { fills: string; rejections: string }
  readonly stats: ResultConsumerStats = { handled: 0, duplicates: 0, invalid: 0, terminal: 0 }
  readonly #opts: ResultConsumerOptions
  readonly #consumer: KafkaJS.Consumer
  readonly #dedup: DedupStore
  readonly #log = new StderrSink()
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new'
  #stopped: Promise<void> | null = null
  readonly #inFlight = new Set<Promise<void>>()
  readonly #outcomes = new OutcomeTracker()

  constructor(opts: ResultConsumerOptions) {
    this.#opts = opts
    this.topics = topicsFromEnv(opts.topics)
    this.#dedup = opts.dedup ?? new MemoryDedupStore()
    const kafka = newKafka(opts.clientId ?? 'order-results-consumer', opts, this.#log)
    this.#consumer = kafka.consumer({
      ...opts.librdkafka,
      'enable.auto.commit': false, // not even through opts.librdkafka
      kafkaJS: {
        groupId: opts.groupId,
        // Per consumer with this client (kafkajs had it per subscribe/run).
        fromBeginning: opts.fromBeginning ?? true,
        // No commits on a timer: only the one in eachMessage, after the callbacks.
        autoCommit: false,
        ...(opts.sessionTimeout !== undefined ? { sessionTimeout: opts.sessionTimeout } : {}),
      },
    })
  }

  /**
   * Connects, joins the group and starts handing events to the callbacks.
   * Resolves once consuming has started.  Broker failures after that are
   * retried by librdkafka for as long as it runs (logged on stderr).
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error('ResultConsumer.start: already started')
    this.#state = 'running'
    const consumer = this.#consumer
    await consumer.connect()
    await consumer.subscribe({ topics: [this.topics.fills, this.topics.rejections] })
    // One message at a time (partitionsConsumedConcurrently 1).  A throwing
    // eachMessage makes the client seek back to that message: it comes again.
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        // Stopping: leave it uncommitted, the group's next member reads it.
        if (this.#state !== 'running') return
        const work = (async () => {
          await this.#handle(topic, partition, message)
          // Only now, after every callback resolved: the next offset to read.
          await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }])
        })()
        this.#inFlight.add(work)
        try {
          await work
        } finally {
          this.#inFlight.delete(work)
        }
      },
    })
  }

  async #handle(topic: string, partition: number, message: KafkaJS.KafkaMessage): Promise<void> {
    const ctx: MessageContext = {
      topic,
      partition,
      offset: message.offset,
      key: message.key ? message.key.toString('utf8') : null,
      timestamp: message.timestamp,
    }
    const kind: ResultKind = topic === this.topics.fills ? 'fill' : 'rejection'
    const parsed = parseResultEvent(message.value, kind)
    if (!parsed.ok) {
      this.stats.invalid++
      const invalid: InvalidMessage = { error: parsed.error, value: message.value }
      if (this.#opts.onInvalid) await this.#opts.onInvalid(invalid, ctx)
      else process.stderr.write(`ResultConsumer: skipped ${topic}[${partition}]@${message.offset}: ${parsed.error}\n`)
      return
    }
    const event = parsed.event
    if (await this.#dedup.has(event.event_id)) {
      this.stats.duplicates++
      await this.#opts.onDuplicate?.(event, ctx)
      return
    }
    await this.#opts.onEvent?.(event, ctx)
    if (event.schema === 'order-fill/v1') await this.#opts.onFill?.(event, ctx)
    else await this.#opts.onRejection?.(event, ctx)
    const outcome = terminalOutcome(event)
    if (outcome !== null) {
      this.stats.terminal++
      const terminal: TerminalOutcome =
        event.schema === 'order-rejection/v1'
          ? { intent_id: event.intent_id, outcome, reason: event.reason, event }
          : {
              intent_id: event.intent_id,
              outcome,
              ...(event.cancel_intent_id !== undefined ? { cancel_intent_id: event.cancel_intent_id } : {}),
              ...(event.cancel_reason !== undefined ? { cancel_reason: event.cancel_reason } : {}),
              event,
            }
      this.#outcomes.record(terminal)
      await this.#opts.onTerminal?.(terminal, ctx)
    }
    // Remembered only once handled: a failed callback must see it again.
    await this.#dedup.add(event.event_id)
    this.stats.handled++
  }

  /**
   * Resolves once the group gave this consumer its partitions (or rejects
   * after timeoutMs).  A backend that awaits outcomes with a group of its own
   * and fromBeginning false sends its first intent after this, so that the
   * events of that intent cannot come before the consumer's starting offsets.
   */
  async ready(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (this.#consumer.assignment().length === 0) {
      if (this.#state !== 'running') throw new Error('ResultConsumer.ready: not running')
      if (Date.now() > deadline) throw new Error(`ResultConsumer.ready: no partitions assigned within ${timeoutMs} ms`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  /**
   * The terminal outcome of one intent (an order intent, or a cancel request:
   * its target's canceled event naming it, or its own rejection), from this
   * consumer's events, deduplicated by event_id: at once when already seen
   * (the last 10,000 are kept), else when it arrives; rejects with
   * OutcomeTimeoutError (naming the intent) after opts.timeoutMs (default
   * 60000).  It sees only the partitions this consumer reads: give each
   * process that waits a group of its own.
   */
  awaitOutcome(intentId: string, opts?: AwaitOutcomeOptions): Promise<TerminalOutcome> {
    return this.#outcomes.wait(intentId, opts)
  }

  /**
   * Stops consuming: lets the message in hand finish (and commit), reads no
   * further one, leaves the group, disconnects.  Safe to call more than once.
   */
  stop(): Promise<void> {
    if (this.#stopped) return this.#stopped
    this.#state = 'stopping'
    this.#stopped = (async () => {
      // Wait for the message in hand to be handled and committed before the
      // group is left.  (So do not await stop() inside a callback: it would
      // wait for itself.)
      while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight])
      try {
        await this.#consumer.disconnect()
      } finally {
        this.#log.flush()
      }
      this.#state = 'stopped'
      this.#outcomes.close()
    })()
    return this.#stopped
  }

  /**
   * Stops on the first of the given signals (default SIGTERM and SIGINT) and
   * calls `then` (e.g. to exit) once stopped.  Returns a function removing the
   * handlers.
   */
  stopOnSignals(then?: (signal: NodeJS.Signals) => void, signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT']): () => void {
    const handler = (signal: NodeJS.Signals) => {
      remove()
      void this.stop().then(
        () => then?.(signal),
        (err: unknown) => {
          process.stderr.write(`ResultConsumer: stop failed: ${String(err)}\n`)
          then?.(signal)
        },
      )
    }
    const remove = () => signals.forEach((s) => process.off(s, handler))
    signals.forEach((s) => process.once(s, handler))
    return remove
  }
}
