// tests/ts_client_roundtrip.mjs -- the backend's side of tests/test_ts_client.sh,
// written as a backend would with @order-worker/client (producers/typescript):
// one ResultConsumer (a group of its own, from now on, ready() before the first
// send) and IntentProducers on the user topic.  Prints one JSON line per
// scenario; the shell test asserts on them.
//
//   node tests/ts_client_roundtrip.mjs PKG-INDEX-JS USER KEY-FILE RESTING-LIMIT
//
// Scenarios: fill (signed with the backend's key, awaitOutcome: fill);
// unsigned and wrong_key (the deployment requires signatures: unauthorized);
// cancel (a resting gtc limit buy, accepted, then canceled by a request: the
// canceled event names it, and awaitOutcome of the request and of the target
// both give it); ghost (a cancel of an intent nobody sent: not_cancelable);
// timeout (awaitOutcome of an id that never ends: OutcomeTimeoutError naming
// it); not_acked (a producer whose broker never answers: IntentSendError).
import { randomBytes, randomUUID } from 'node:crypto'

const [pkg, user, keyFile, restingLimit] = process.argv.slice(2)
const { IntentProducer, ResultConsumer } = await import(pkg)
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n')
const brief = (t) => ({
  intent_id: t.intent_id, outcome: t.outcome, reason: t.reason ?? null, cancel_intent_id: t.cancel_intent_id ?? null,
  cancel_reason: t.cancel_reason ?? null, event_id: t.event.event_id, event_user: t.event.user_id,
})
const errorOf = (e) => ({ error: e?.name, code: e?.code, intent_id: e?.intentId ?? null, message: e?.message })

const accepted = new Map() // intent_id -> resolve, for the resting order's accepted event
const results = new ResultConsumer({
  groupId: `ts-client-${process.pid}-${randomBytes(4).toString('hex')}`,
  fromBeginning: false,
  onFill(e) { if (e.type === 'accepted') accepted.get(e.intent_id)?.() },
})
await results.start()
await results.ready()
const producer = new IntentProducer({ source: 'user', signingKey: { file: keyFile } })
await producer.connect()

async function scenario(name, fn) {
  try {
    out({ scenario: name, ...(await fn()) })
  } catch (e) {
    out({ scenario: name, ...errorOf(e) })
  }
}

await scenario('fill', async () => {
  const sent = await producer.placeOrder({ user_id: user, symbol: 'AAPL', side: 'buy', type: 'market', qty: '1', meta: { test: 'ts_client' } })
  const t = await results.awaitOutcome(sent.intent.intent_id, { timeoutMs: 60000 })
  return { topic: sent.topic, key: sent.key, partition: sent.partition, offset: sent.offset, ...brief(t) }
})

for (const [name, signingKey] of [['unsigned', 'unsigned'], ['wrong_key', async () => randomBytes(32)]]) {
  await scenario(name, async () => {
    const p = new IntentProducer({ source: 'user', signingKey })
    try {
      const sent = await p.placeOrder({ user_id: user, symbol: 'AAPL', side: 'buy', type: 'market', qty: '1' })
      return brief(await results.awaitOutcome(sent.intent.intent_id, { timeoutMs: 60000 }))
    } finally {
      await p.disconnect()
    }
  })
}

await scenario('cancel', async () => {
  const target = producer.buildOrder({ user_id: user, symbol: 'IBM', side: 'buy', type: 'limit', qty: '1', limit_price: restingLimit, time_in_force: 'gtc' })
  const isAccepted = new Promise((resolve) => accepted.set(target.intent.intent_id, resolve))
  await producer.send(target)
  const timer = setTimeout(() => accepted.get(target.intent.intent_id)?.('timeout'), 30000)
  if ((await isAccepted) === 'timeout') throw new Error('the resting order was not accepted within 30 s')
  clearTimeout(timer)
  const request = await producer.cancel({ user_id: user, target_intent_id: target.intent.intent_id })
  const t = await results.awaitOutcome(request.intent.intent_id, { timeoutMs: 60000 })
  const ofTarget = await results.awaitOutcome(target.intent.intent_id, { timeoutMs: 1000 })
  return { target: target.intent.intent_id, request: request.intent.intent_id, request_key: request.key, same_event: ofTarget.event.event_id === t.event.event_id, ...brief(t) }
})

await scenario('ghost', async () => {
  const request = await producer.cancel({ user_id: user, target_intent_id: randomUUID() })
  return { request: request.intent.intent_id, ...brief(await results.awaitOutcome(request.intent.intent_id, { timeoutMs: 60000 })) }
})

await scenario('timeout', async () => {
  const id = randomUUID()
  const started = Date.now()
  const e = await results.awaitOutcome(id, { timeoutMs: 1500 }).then(() => null, (err) => err)
  return { wanted: id, waited_ms: Date.now() - started, ...errorOf(e) }
})

await scenario('not_acked', async () => {
  const p = new IntentProducer({ source: 'user', brokers: ['127.0.0.1:1'], signingKey: { file: keyFile }, deliveryTimeoutMs: 2000, logLevel: 0 })
  try {
    const built = p.buildOrder({ user_id: user, symbol: 'AAPL', side: 'buy', type: 'market', qty: '1' })
    const e = await p.send(built).then(() => null, (err) => err)
    return { wanted: built.intent.intent_id, ...errorOf(e) }
  } finally {
    await p.disconnect()
  }
})

out({ scenario: 'stats', ...results.stats })
await producer.disconnect()
await results.stop()
