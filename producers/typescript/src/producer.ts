// src/producer.ts -- owns IntentProducer: the backend's (or a bot's) sender of
// order intents and cancel requests.  It builds and checks each one
// (intents.ts: the worker's rules and the JSON Schema, money as decimal
// strings), signs its exact bytes (signing.ts: header x-signature), and
// publishes it to its topic under its key with an idempotent producer
// (enable.idempotence, acks all), resolving only on Kafka's delivery report:
// a send that resolves was acknowledged; one that rejects (IntentSendError)
// may or may not have been written, and is retried with the SAME built intent
// (same intent_id and bytes: the worker executes an intent_id at most once).
// Why a class: the key cache and the Kafka connection outlive one send.
import type { KafkaJS } from '@confluentinc/kafka-javascript'
import { IntentSendError, OrderWorkerError } from './errors.js'
import { buildCancel, buildOrder, type BuiltIntent, type CancelInput, type OrderInput } from './intents.js'
import { StderrSink, newKafka, type ClientOptions } from './kafka.js'
import { SIGNATURE_HEADER, SigningKeyCache, signIntent, type SigningKeySource } from './signing.js'
import type { IntentSource } from './validate.js'

/** Topic names of the contract (section 2); env TOPIC_INTENTS_BOT / TOPIC_INTENTS_USER override. */
export const DEFAULT_INTENT_TOPICS = { bot: 'orders.intents.bot', user: 'orders.intents.user' } as const

export interface IntentProducerOptions<S extends IntentSource> extends ClientOptions {
  /** 'user': the backend, on orders.intents.user, signing as USER_TOPIC_SIGNER; 'bot': a bot, on orders.intents.bot */
  source: S
  /**
   * The signing key: { file } (64 hex digits, as `intentctl bot add
   * --key-file` writes it) or a callback (a secret manager) giving the 32
   * bytes or their hex.  'unsigned' sends without a signature, which only a
   * deployment with INTENT_SIGNING=optional accepts.
   */
  signingKey: SigningKeySource | 'unsigned'
  /** how long a key read from its source is used before it is read again (default 60000 ms) */
  keyCacheMs?: number
  clientId?: string
  /** the topic names; default env TOPIC_INTENTS_BOT / TOPIC_INTENTS_USER, else the contract's */
  topics?: { bot?: string; user?: string }
  /** how long librdkafka tries to deliver one message before the send rejects (message.timeout.ms, default 30000) */
  deliveryTimeoutMs?: number
  /** librdkafka properties, e.g. `{ 'security.protocol': 'ssl' }`; idempotence cannot be turned off */
  librdkafka?: Omit<KafkaJS.ProducerConstructorConfig, 'kafkaJS'>
}

/** What Kafka acknowledged. */
export interface SentIntent extends BuiltIntent {
  topic: string
  partition: number
  offset: string
}

export class IntentProducer<S extends IntentSource = 'user'> {
  readonly source: S
  readonly topic: string
  readonly #producer: KafkaJS.Producer
  readonly #keys: SigningKeyCache | null
  readonly #log = new StderrSink()
  #state: 'new' | 'connecting' | 'connected' | 'closed' = 'new'
  #connected: Promise<void> | null = null

  constructor(opts: IntentProducerOptions<S>) {
    this.source = opts.source
    if (opts.source !== 'bot' && opts.source !== 'user') throw new TypeError("IntentProducer: source must be 'bot' or 'user'")
    this.topic =
      opts.source === 'bot'
        ? opts.topics?.bot ?? process.env.TOPIC_INTENTS_BOT ?? DEFAULT_INTENT_TOPICS.bot
        : opts.topics?.user ?? process.env.TOPIC_INTENTS_USER ?? DEFAULT_INTENT_TOPICS.user
    if (opts.signingKey === undefined) throw new TypeError("IntentProducer: signingKey is required ({ file }, a callback, or 'unsigned')")
    this.#keys = opts.signingKey === 'unsigned' ? null : new SigningKeyCache(opts.signingKey, opts.keyCacheMs)
    const kafka = newKafka(opts.clientId ?? 'order-intent-producer', opts, this.#log)
    this.#producer = kafka.producer({
      'message.timeout.ms': opts.deliveryTimeoutMs ?? 30_000,
      ...opts.librdkafka,
      // Not even through opts.librdkafka: a retried send must not reorder or duplicate a key's intents.
      'enable.idempotence': true,
      acks: -1,
      kafkaJS: { idempotent: true, acks: -1 },
    })
  }

  /** Connects (and reads the signing key once, so a wrong key fails here, not at the first order). */
  connect(): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(new OrderWorkerError('closed', 'IntentProducer: disconnected'))
    this.#connected ??= (async () => {
      this.#state = 'connecting'
      await this.#keys?.get()
      await this.#producer.connect()
      this.#state = 'connected'
    })().catch((e: unknown) => {
      // A later call tries again.
      this.#connected = null
      if (this.#state === 'connecting') this.#state = 'new'
      throw e
    })
    return this.#connected
  }

  /** An order intent, built and checked, not sent (IntentValidationError when it breaks a rule). */
  buildOrder(input: OrderInput<S>): BuiltIntent {
    return buildOrder(this.source, input)
  }

  /** A cancel request of input.target_intent_id, built and checked, not sent. */
  buildCancel(input: CancelInput<S>): BuiltIntent {
    return buildCancel(this.source, input)
  }

  /** Builds, checks, signs and sends an order; resolves once Kafka acknowledged it. */
  placeOrder(input: OrderInput<S>): Promise<SentIntent> {
    return this.send(this.buildOrder(input))
  }

  /** Builds, checks, signs and sends a cancel request; resolves once Kafka acknowledged it. */
  cancel(input: CancelInput<S>): Promise<SentIntent> {
    return this.send(this.buildCancel(input))
  }

  /**
   * Signs and sends a built intent (retry a failed send with the same one).
   * Resolves with where Kafka wrote it, once acknowledged; rejects with
   * IntentSendError when it was not, SigningKeyError when the key cannot be had.
   */
  async send(built: BuiltIntent): Promise<SentIntent> {
    if (built.source !== this.source) {
      throw new TypeError(`IntentProducer(${this.source}): this intent was built for the ${built.source} topic`)
    }
    if (this.#state !== 'connected') {
      try {
        await this.connect()
      } catch (e) {
        if (e instanceof OrderWorkerError) throw e // the key, or closed
        throw new IntentSendError(built.intent.intent_id, this.topic, e)
      }
    }
    const headers: Record<string, string> = {}
    if (this.#keys) headers[SIGNATURE_HEADER] = signIntent(await this.#keys.get(), built.bytes)
    let meta: KafkaJS.RecordMetadata[]
    try {
      meta = await this.#producer.send({ topic: this.topic, messages: [{ key: built.key, value: built.bytes, headers }] })
    } catch (e) {
      throw new IntentSendError(built.intent.intent_id, this.topic, e)
    }
    const m = meta[0]
    if (!m || m.errorCode !== 0) throw new IntentSendError(built.intent.intent_id, this.topic, `delivery report error ${m?.errorCode ?? 'missing'}`)
    return { ...built, topic: this.topic, partition: m.partition, offset: String(m.baseOffset ?? m.offset ?? '') }
  }

  /** Waits for nothing further (every send awaits its own report), disconnects and forgets the key. */
  async disconnect(): Promise<void> {
    if (this.#state === 'closed') return
    const wasConnected = this.#connected
    this.#state = 'closed'
    this.#keys?.clear()
    try {
      if (wasConnected) await wasConnected.catch(() => undefined)
      await this.#producer.disconnect()
    } finally {
      this.#log.flush()
    }
  }
}
