// src/outcomes.ts -- owns the waiting for one intent's terminal outcome
// (ResultConsumer.awaitOutcome): the terminal outcomes a consumer hands over
// (already deduplicated by event_id, contract section 4) are matched with
// the callers waiting for them, by intent_id, and for a cancel request also by
// the cancel_intent_id of the canceled event that ended its target (a request
// that worked has no event of its own).  Outcomes seen before anyone asked are
// kept (the last `remember` of them), so a wait that starts after its event
// arrived still resolves at once.  Why a module of its own: it needs no Kafka,
// so its rules are unit-tested alone.
import type { TerminalOutcome } from './consumer.js'
import { OrderWorkerError, OutcomeTimeoutError } from './errors.js'

export interface AwaitOutcomeOptions {
  /** reject with OutcomeTimeoutError after this many ms (default 60000; 0: wait for ever) */
  timeoutMs?: number
  /** reject (with the signal's reason) when aborted, e.g. the HTTP request went away */
  signal?: AbortSignal
}

interface Waiter {
  resolve(outcome: TerminalOutcome): void
  reject(err: unknown): void
}

export class OutcomeTracker {
  readonly #seen = new Map<string, TerminalOutcome>()
  readonly #waiting = new Map<string, Set<Waiter>>()
  #closed: Error | null = null
  constructor(private readonly remember = 10_000) {}

  /** A terminal outcome from the consumer: settles the waits for its intent (and for the cancel request it names). */
  record(outcome: TerminalOutcome): void {
    this.#settle(outcome.intent_id, outcome)
    if (outcome.cancel_intent_id !== undefined) this.#settle(outcome.cancel_intent_id, outcome)
  }

  #settle(id: string, outcome: TerminalOutcome): void {
    if (this.#seen.has(id)) return // the first terminal event decides
    this.#seen.set(id, outcome)
    if (this.#seen.size > this.remember) {
      const oldest = this.#seen.keys().next()
      if (!oldest.done) this.#seen.delete(oldest.value)
    }
    const waiters = this.#waiting.get(id)
    this.#waiting.delete(id)
    waiters?.forEach((w) => w.resolve(outcome))
  }

  /**
   * The terminal outcome of intentId (an order intent or a cancel request):
   * at once if already seen, else when it arrives; OutcomeTimeoutError
   * (naming the intent) when timeoutMs pass first.
   */
  wait(intentId: string, opts: AwaitOutcomeOptions = {}): Promise<TerminalOutcome> {
    const seen = this.#seen.get(intentId)
    if (seen) return Promise.resolve(seen)
    if (this.#closed) return Promise.reject(this.#closed)
    const timeoutMs = opts.timeoutMs ?? 60_000
    return new Promise<TerminalOutcome>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      const done = () => {
        if (timer) clearTimeout(timer)
        opts.signal?.removeEventListener('abort', onAbort)
        const set = this.#waiting.get(intentId)
        set?.delete(waiter)
        if (set?.size === 0) this.#waiting.delete(intentId)
      }
      const waiter: Waiter = {
        resolve: (o) => (done(), resolve(o)),
        reject: (e) => (done(), reject(e)),
      }
      const onAbort = () => waiter.reject(opts.signal?.reason)
      if (opts.signal?.aborted) return reject(opts.signal.reason)
      opts.signal?.addEventListener('abort', onAbort, { once: true })
      if (timeoutMs > 0) timer = setTimeout(() => waiter.reject(new OutcomeTimeoutError(intentId, timeoutMs)), timeoutMs)
      let set = this.#waiting.get(intentId)
      if (!set) this.#waiting.set(intentId, (set = new Set()))
      set.add(waiter)
    })
  }

  /** Rejects every wait in progress and every later one (the consumer stopped). */
  close(reason = 'the ResultConsumer stopped'): void {
    this.#closed = new OrderWorkerError('closed', reason)
    const all = [...this.#waiting.values()].flatMap((s) => [...s])
    this.#waiting.clear()
    all.forEach((w) => w.reject(this.#closed))
  }

  /** How many waits are in progress. */
  get waiting(): number {
    let n = 0
    for (const s of this.#waiting.values()) n += s.size
    return n
  }
}
