#!/usr/bin/env node
// src/bin/results-watch.ts -- owns the results-watch command: waits until given
// intents reached their terminal outcome, through ResultConsumer (the same code
// the backend runs), printing one JSON line per outcome event it handled and a
// final summary.  Why: a backend developer's quick look at what became of some
// intents, and the ts_consumer test's way to drive the consumer end to end.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { ResultConsumer, type MessageContext, type TerminalOutcome } from '../consumer.js'
import { canceledBy } from '../guard.js'
import type { ResultEvent } from '../generated/events.js'

const USAGE = `usage: results-watch [options] [INTENT_ID ...]

Reads orders.fills and orders.rejections (env TOPIC_FILLS / TOPIC_REJECTIONS)
with ResultConsumer and prints, as JSON lines on stdout, every outcome event of
the listed intents it handled (the event plus "_topic", "_partition", "_offset",
"_key", "_terminal"), then one {"summary": ...} line.  Malformed messages are
skipped with a line on stderr, repeated event_ids are dropped.  A listed cancel
request ends with its target's canceled event naming it (cancel_intent_id; that
event is printed, and the request's outcome is "canceled"), or with its own
rejection (rejected:not_cancelable).

  --intents FILE    intent ids, one per line (with or instead of arguments)
  --timeout MS      give up after MS (default 60000, with --follow 0 = never)
  --group ID        consumer group: resume from its committed offsets (default:
                    a fresh group, so everything from the oldest message)
  --follow          print the events of every intent; run until a signal or
                    the timeout (no ids needed)
  -b, --brokers L   bootstrap servers (default: $KAFKA_BROKERS)
  -h, --help        this text

Exit: 0 every listed intent reached a terminal outcome (--follow: stopped by a
signal or the timeout); 1 timeout or signal first; 2 usage; 3 Kafka error (could not
connect or subscribe; later broker failures are retried, logged on stderr).`

interface Args {
  ids: string[]
  timeoutMs: number
  group: string | null
  follow: boolean
  brokers: string[] | null
}

function usage(msg: string): never {
  process.stderr.write(`results-watch: ${msg}\n${USAGE}\n`)
  process.exit(2)
}

function parseArgs(argv: string[]): Args {
  const a: Args = { ids: [], timeoutMs: -1, group: null, follow: false, brokers: null }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) usage(`${arg} needs a value`)
      return v
    }
    switch (arg) {
      case '-h':
      case '--help':
        process.stdout.write(USAGE + '\n')
        process.exit(0)
      case '--intents': {
        const file = value()
        let text: string
        try {
          text = readFileSync(file, 'utf8')
        } catch (e) {
          usage(`cannot read ${file}: ${(e as Error).message}`)
        }
        a.ids.push(...text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')))
        break
      }
      case '--timeout': {
        const v = value()
        if (!/^\d+$/.test(v)) usage(`--timeout: not a number of ms: ${v}`)
        a.timeoutMs = Number(v)
        break
      }
      case '--group':
        a.group = value()
        break
      case '--follow':
        a.follow = true
        break
      case '-b':
      case '--brokers':
        a.brokers = value().split(',')
        break
      default:
        if (arg.startsWith('-')) usage(`unknown option ${arg}`)
        a.ids.push(arg)
    }
  }
  if (a.timeoutMs < 0) a.timeoutMs = a.follow ? 0 : 60000
  if (a.ids.length === 0 && !a.follow) usage('no intent ids (arguments or --intents FILE), and no --follow')
  return a
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2))
  const wanted = new Set(args.ids)
  const outcomes = new Map<string, TerminalOutcome['outcome']>()
  const reasons = new Map<string, string>()
  let printed = 0
  let others = 0

  const print = (event: ResultEvent, ctx: MessageContext, terminal: boolean) => {
    const line = {
      ...event,
      _topic: ctx.topic,
      _partition: ctx.partition,
      _offset: Number(ctx.offset),
      _key: ctx.key,
      _terminal: terminal,
    }
    process.stdout.write(JSON.stringify(line) + '\n')
    printed++
  }
  const relevant = (intentId: string) => args.follow || wanted.has(intentId)
  // An event is about its intent, and a canceled one also about the request it names.
  const relevantEvent = (event: ResultEvent) => {
    const request = canceledBy(event)
    return relevant(event.intent_id) || (request !== null && relevant(request))
  }

  let finish!: (code: number) => void
  const finished = new Promise<number>((resolve) => (finish = resolve))

  const consumer = new ResultConsumer({
    ...(args.brokers ? { brokers: args.brokers } : {}),
    groupId: args.group ?? `results-watch-${process.pid}-${randomBytes(4).toString('hex')}`,
    clientId: 'results-watch',
    fromBeginning: true,
    onEvent(event, ctx) {
      if (!relevantEvent(event)) {
        others++
        return
      }
      const terminal = event.schema === 'order-rejection/v1' || ['fill', 'canceled', 'expired'].includes(event.type)
      print(event, ctx, terminal)
    },
    onTerminal(t) {
      if (!relevantEvent(t.event)) return
      if (relevant(t.intent_id)) outcomes.set(t.intent_id, t.outcome)
      if (t.reason) reasons.set(t.intent_id, t.reason)
      // The cancel request that canceled the order: this event is its outcome.
      if (t.cancel_intent_id !== undefined && relevant(t.cancel_intent_id)) outcomes.set(t.cancel_intent_id, 'canceled')
      if (!args.follow && [...wanted].every((id) => outcomes.has(id))) finish(0)
    },
    onInvalid(invalid, ctx) {
      process.stderr.write(`results-watch: skipped invalid message ${ctx.topic}[${ctx.partition}]@${ctx.offset}: ${invalid.error}\n`)
    },
  })

  const timer = args.timeoutMs > 0 ? setTimeout(() => finish(args.follow ? 0 : 1), args.timeoutMs) : null
  let signalled: string | null = null
  consumer.stopOnSignals((signal) => {
    signalled = signal
    finish(args.follow ? 0 : 1)
  })
  let code: number
  try {
    await consumer.start()
    code = await finished
  } catch (e) {
    if (signalled) {
      code = args.follow ? 0 : 1 // stopped while still joining
    } else {
      process.stderr.write(`results-watch: Kafka error: ${(e as Error).message}\n`)
      code = 3
    }
  }
  if (timer) clearTimeout(timer)
  await consumer.stop().catch((e: unknown) => process.stderr.write(`results-watch: stop: ${String(e)}\n`))

  const missing = args.ids.filter((id) => !outcomes.has(id))
  const summary = {
    summary: {
      intents: wanted.size,
      terminal: [...wanted].filter((id) => outcomes.has(id)).length,
      outcomes: Object.fromEntries([...outcomes].map(([id, o]) => [id, reasons.has(id) ? `${o}:${reasons.get(id)}` : o])),
      missing,
      printed,
      other_events: others,
      events: consumer.stats,
      result: code === 3 ? 'kafka_error' : signalled ? `signal:${signalled}` : code === 0 ? 'ok' : 'timeout',
    },
  }
  process.stdout.write(JSON.stringify(summary) + '\n')
  return code
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`results-watch: ${(e as Error).stack ?? String(e)}\n`)
    process.exit(3)
  },
)
