// test/delivery.test.mjs -- owns the delivery checks of ResultConsumer against
// the running dev broker (skipped without KAFKA_BROKERS): a callback that fails
// gets the same message again (offsets are committed only after the callbacks
// resolved), a repeated event_id is dropped, and a second consumer of the same
// group resumes after the committed offset.  Why: at-least-once is the
// backend's half of the contract's guarantee; it has to be seen on a broker.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { Kafka, logLevel } from 'kafkajs'
import { ResultConsumer } from '../dist/index.js'

const brokers = process.env.KAFKA_BROKERS
const skip = brokers ? false : 'KAFKA_BROKERS is not set (run with the dev stack)'

function fillEvent(id, n = 1) {
  return {
    schema: 'order-fill/v1', event_id: `${id}:fill:${n}`, intent_id: id, bot_id: 'ts-test', user_id: 'ts-test',
    symbol: 'AAPL', side: 'buy', occurred_at: new Date().toISOString(), type: 'fill',
    client_order_id: `ow-${id}`, order_id: randomUUID(), order_type: 'market', qty: '1', status: 'filled',
    filled_qty: '1', filled_avg_price: '189.13', last_fill_qty: '1', last_fill_price: '189.13',
  }
}

async function produce(topic, events) {
  const kafka = new Kafka({ clientId: 'ts-test', brokers: brokers.split(','), logLevel: logLevel.ERROR })
  const producer = kafka.producer({ allowAutoTopicCreation: true })
  await producer.connect()
  await producer.send({ topic, messages: events.map((e) => ({ key: 'ts-test', value: JSON.stringify(e) })) })
  await producer.disconnect()
}

// Runs a consumer until `until()` holds (checked after each terminal outcome) or 45 s pass.
async function consume(opts, until) {
  let resolve
  const reached = new Promise((r) => (resolve = r))
  const consumer = new ResultConsumer({
    ...opts,
    async onTerminal(t, ctx) {
      await opts.onTerminal?.(t, ctx)
      if (until()) resolve(true)
    },
  })
  const timer = setTimeout(() => resolve(false), 45000)
  await consumer.start()
  const ok = await reached
  clearTimeout(timer)
  await consumer.stop()
  return { ok, stats: consumer.stats }
}

test('a failed callback is redelivered; duplicates dropped; commits resume the group', { skip, timeout: 150000 }, async () => {
  const run = randomUUID().slice(0, 8)
  const topics = { fills: `ts-test-${run}.fills`, rejections: `ts-test-${run}.rejections` }
  const groupId = `ts-test-${run}`
  const a = randomUUID(), b = randomUUID(), c = randomUUID()
  await produce(topics.fills, [fillEvent(a), fillEvent(a), fillEvent(b)]) // a twice: a duplicate

  const calls = []
  const terminals = []
  let failed = false
  const first = await consume(
    {
      groupId, topics,
      onFill(e) {
        calls.push(e.intent_id)
        if (e.intent_id === b && !failed) {
          failed = true
          throw new Error('test: the backend failed to store this fill')
        }
      },
      onTerminal(t) { terminals.push(t.intent_id) },
    },
    () => terminals.includes(b),
  )
  assert.ok(first.ok, `b not handled in time; calls ${JSON.stringify(calls)}`)
  assert.deepEqual(calls, [a, b, b], 'a once (its duplicate dropped), b twice (the failed call came again)')
  assert.deepEqual(terminals, [a, b], 'one terminal outcome each')
  assert.equal(first.stats.duplicates, 1)

  // Same group, one new event: only it is read, the committed ones are not.
  await produce(topics.fills, [fillEvent(c)])
  const seen = []
  const second = await consume(
    { groupId, topics, onFill(e) { seen.push(e.intent_id) } },
    () => seen.includes(c),
  )
  assert.ok(second.ok, 'c not handled in time')
  assert.deepEqual(seen, [c], 'the group resumed after its committed offsets')
})
