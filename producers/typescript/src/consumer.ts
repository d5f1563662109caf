// src/consumer.ts -- owns ResultConsumer: the backend's reader of the result
// topics (orders.fills, orders.rejections).  It joins a consumer group, checks
// every message with the runtime guard, drops repeated event_ids, hands typed
// events to the caller's callbacks, tells when an intent reached its terminal
// outcome, and commits a message's offset only after its callbacks resolved
// (at-least-once: a crash or a failing callback means the message comes again).
// Why a class of its own: these rules are the contract's consumer side
// (contract section 4) and every backend process must apply them the same way.
import { Kafka, logLevel as LogLevel, type Consumer, type KafkaConfig, type KafkaMessage, type LogEntry } from 'kafkajs'
import type { OrderFillV1, OrderRejectionV1, ResultEvent } from './generated/events.js'
import { parseResultEvent, terminalOutcome, type Outcome, type ResultKind } from './guard.js'

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
  /** the rejection reason when outcome is 'rejected' */
  reason?: OrderRejectionV1['reason']
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
  /** extra kafkajs settings (ssl, sasl, retry, ...) */
  kafka?: Partial<KafkaConfig>
  /** kafkajs log level (default ERROR); logs go to stderr */
  logLevel?: LogLevel
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

function brokersFromEnv(given: string[] | undefined): string[] {
  const list = given ?? (process.env.KAFKA_BROKERS ?? '').split(',')
  const brokers = list.map((b) => b.trim()).filter((b) => b.length > 0)
  if (brokers.length === 0) throw new Error('no Kafka brokers: pass brokers or set KAFKA_BROKERS')
  return brokers
}

// kafkajs logs through this: one line on stderr, no message bodies.
function stderrLogCreator() {
  return ({ namespace, level, log }: LogEntry) => {
    const name = LogLevel[level] ?? String(level)
    process.stderr.write(`kafkajs ${name} ${namespace}: ${log.message}\n`)
  }
}

export class ResultConsumer {
  readonly topics: { fills: string; rejections: string }
  readonly stats: ResultConsumerStats = { handled: 0, duplicates: 0, invalid: 0, terminal: 0 }
  readonly #opts: ResultConsumerOptions
  readonly #consumer: Consumer
  readonly #dedup: DedupStore
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new'
  #stopped: Promise<void> | null = null
  #done: Promise<void> | null = null
  readonly #inFlight = new Set<Promise<void>>()

  constructor(opts: ResultConsumerOptions) {
    this.#opts = opts
    this.topics = topicsFromEnv(opts.topics)
    this.#dedup = opts.dedup ?? new MemoryDedupStore()
    const kafka = new Kafka({
      clientId: opts.clientId ?? 'order-results-consumer',
      brokers: brokersFromEnv(opts.brokers),
      logLevel: opts.logLevel ?? LogLevel.ERROR,
      logCreator: stderrLogCreator,
      ...opts.kafka,
    })
    this.#consumer = kafka.consumer({
      groupId: opts.groupId,
      ...(opts.sessionTimeout !== undefined ? { sessionTimeout: opts.sessionTimeout } : {}),
    })
  }

  /**
   * Connects, joins the group and starts handing events to the callbacks.
   * Resolves once consuming has started; failures after that (a crash kafkajs
   * does not retry) reach the promise of `done()`.
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error('ResultConsumer.start: already started')
    this.#state = 'running'
    const consumer = this.#consumer
    let rejectDone!: (err: Error) => void
    const done = new Promise<void>((_resolve, reject) => (rejectDone = reject))
    done.catch(() => {}) // observed through done()
    this.#done = done
    consumer.on(consumer.events.CRASH, (e) => {
      const payload = e.payload as { error: Error; restart: boolean }
      if (!payload.restart) rejectDone(payload.error)
    })
    await consumer.connect()
    await consumer.subscribe({
      topics: [this.topics.fills, this.topics.rejections],
      fromBeginning: this.#opts.fromBeginning ?? true,
    })
    await consumer.run({
      autoCommit: false,
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

  /** Rejects when the consumer crashed for good; pending until then. */
  done(): Promise<void> {
    if (!this.#done) throw new Error('ResultConsumer.done: not started')
    return this.#done
  }

  async #handle(topic: string, partition: number, message: KafkaMessage): Promise<void> {
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
          : { intent_id: event.intent_id, outcome, event }
      await this.#opts.onTerminal?.(terminal, ctx)
    }
    // Remembered only once handled: a failed callback must see it again.
    await this.#dedup.add(event.event_id)
    this.stats.handled++
  }

  /**
   * Stops consuming: lets the message in hand finish (and commit), reads no
   * further one, leaves the group, disconnects.  Safe to call more than once.
   */
  stop(): Promise<void> {
    if (this.#stopped) return this.#stopped
    this.#state = 'stopping'
    this.#stopped = (async () => {
      // kafkajs's disconnect does not wait for a running eachMessage; wait
      // here, so the message in hand is committed before the group is left.
      while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight])
      await this.#consumer.disconnect()
      this.#state = 'stopped'
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
