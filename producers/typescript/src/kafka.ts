// src/kafka.ts -- owns what the package's Kafka clients share: the brokers
// (option or KAFKA_BROKERS), the client log on stderr (one line per entry, a
// line repeated within 10 s counted instead of printed again, never a message
// body), and the construction of the client.  Why one place: ResultConsumer and
// IntentProducer must be configured and log the same way.
// Kafka client: @confluentinc/kafka-javascript (Confluent's maintained client,
// librdkafka underneath) through its KafkaJS-compatible API, loaded when the
// first client is made: the builders, the validator and intent-check work
// without its native addon.
import { createRequire } from 'node:module'
import type { KafkaJS } from '@confluentinc/kafka-javascript'

export function brokersFromEnv(given: string[] | undefined): string[] {
  const list = given ?? (process.env.KAFKA_BROKERS ?? '').split(',')
  const brokers = list.map((b) => b.trim()).filter((b) => b.length > 0)
  if (brokers.length === 0) throw new Error('no Kafka brokers: pass brokers or set KAFKA_BROKERS')
  return brokers
}

/** The client's log levels (KafkaJS.logLevel), without loading the client. */
export const LogLevel = { NOTHING: 0, ERROR: 1, WARN: 2, INFO: 3, DEBUG: 4 } as const

const require = createRequire(import.meta.url)
let loaded: typeof KafkaJS | null = null
function kafkaJS(): typeof KafkaJS {
  loaded ??= (require('@confluentinc/kafka-javascript') as { KafkaJS: typeof KafkaJS }).KafkaJS
  return loaded
}

const LEVEL_NAMES = ['NOTHING', 'ERROR', 'WARN', 'INFO', 'DEBUG']

// Where the client's log lines go: stderr, with a line repeated within 10 s
// (librdkafka reports "all broker connections are down" every few ms while a
// broker is unreachable) counted instead of printed again.
export class StderrSink {
  #last = ''
  #since = 0
  #repeats = 0
  write(line: string): void {
    const now = Date.now()
    if (line === this.#last && now - this.#since < 10_000) {
      this.#repeats++
      return
    }
    this.flush()
    process.stderr.write(line + '\n')
    this.#last = line
    this.#since = now
  }
  flush(): void {
    if (this.#repeats > 0) process.stderr.write(`${this.#last} (${this.#repeats} more times)\n`)
    this.#repeats = 0
  }
}

// The client logs through this: one line per entry (level, librdkafka
// facility, text), never a message body.
class StderrLogger implements KafkaJS.Logger {
  constructor(
    private level: KafkaJS.logLevel,
    private readonly sink: StderrSink,
    private readonly ns = '',
  ) {}
  #write(level: KafkaJS.logLevel, message: string, extra?: object): void {
    if (level > this.level) return
    const fac = (extra as { fac?: unknown } | undefined)?.fac
    const where = [this.ns, typeof fac === 'string' ? fac : ''].filter((x) => x).join(' ')
    this.sink.write(`kafka ${LEVEL_NAMES[level] ?? level}${where ? ' ' + where : ''}: ${message}`)
  }
  error = (message: string, extra?: object) => this.#write(LogLevel.ERROR, message, extra)
  warn = (message: string, extra?: object) => this.#write(LogLevel.WARN, message, extra)
  info = (message: string, extra?: object) => this.#write(LogLevel.INFO, message, extra)
  debug = (message: string, extra?: object) => this.#write(LogLevel.DEBUG, message, extra)
  namespace = (ns: string, level?: KafkaJS.logLevel): KafkaJS.Logger => new StderrLogger(level ?? this.level, this.sink, ns)
  setLogLevel = (level: KafkaJS.logLevel): void => {
    this.level = level
  }
}

/** The options of a client that this module reads. */
export interface ClientOptions {
  /** bootstrap servers; default env KAFKA_BROKERS (comma-separated) */
  brokers?: string[]
  /** extra client settings of the `kafkaJS` block (ssl, sasl, retry, ...) */
  kafka?: Partial<KafkaJS.KafkaConfig>
  /** client log level (default ERROR); logs go to stderr */
  logLevel?: KafkaJS.logLevel
}

/** A client whose log goes to `sink`. */
export function newKafka(clientId: string, opts: ClientOptions, sink: StderrSink): KafkaJS.Kafka {
  const level = opts.logLevel ?? LogLevel.ERROR
  return new (kafkaJS().Kafka)({
    kafkaJS: {
      clientId,
      brokers: brokersFromEnv(opts.brokers),
      logLevel: level,
      logger: new StderrLogger(level, sink),
      ...opts.kafka,
    },
  })
}
