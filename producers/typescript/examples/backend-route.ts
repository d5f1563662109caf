// examples/backend-route.ts -- a minimal backend route a user can copy: POST
// /orders places the signed-in user's order through IntentProducer (built,
// checked, signed as the deployment's user-topic signer, sent to
// orders.intents.user keyed by the user) and answers with its terminal
// outcome, awaited with ResultConsumer.awaitOutcome.  Node's http module only;
// in Express the handler's body is the same.
//
//   KAFKA_BROKERS=127.0.0.1:9092 INTENT_SIGNING_KEY_FILE=backend.key PORT=8080 \
//       node examples/dist/backend-route.js
//   curl -s -X POST localhost:8080/orders -H 'x-user-id: alice' \
//       -d '{"symbol":"AAPL","side":"buy","type":"market","qty":"1"}'
//
// The user comes from the header x-user-id here; a real backend takes it from
// its session, never from the request body.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { hostname } from 'node:os'
import {
  IntentProducer,
  IntentSendError,
  IntentValidationError,
  OutcomeTimeoutError,
  ResultConsumer,
  type OrderInput,
} from '@order-worker/client'

const keyFile = process.env.INTENT_SIGNING_KEY_FILE
if (!keyFile) throw new Error('set INTENT_SIGNING_KEY_FILE (the key of USER_TOPIC_SIGNER, from `intentctl bot add backend --user "*"`)')
const port = Number(process.env.PORT ?? 8080)
const outcomeTimeoutMs = Number(process.env.OUTCOME_TIMEOUT_MS ?? 30_000)

const producer = new IntentProducer({ source: 'user', signingKey: { file: keyFile } })
// A group of its own per process: awaitOutcome must see every partition's events.
// fromBeginning false: only events from now on (ready() below, before serving).
const results = new ResultConsumer({ groupId: `backend-route-${hostname()}-${process.pid}`, fromBeginning: false })

function answer(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body) + '\n')
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = ''
  for await (const chunk of req) {
    text += chunk
    if (text.length > 65536) throw new Error('body too large')
  }
  const body: unknown = JSON.parse(text)
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('body is not a JSON object')
  return body as Record<string, unknown>
}

async function placeOrder(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const userId = req.headers['x-user-id']
  if (typeof userId !== 'string') return answer(res, 401, { error: 'no user' })
  let body: Record<string, unknown>
  try {
    body = await readJson(req)
  } catch (e) {
    return answer(res, 400, { error: 'bad_request', message: (e as Error).message })
  }
  try {
    // The body's fields are checked by the builder (the worker's rules), not trusted.
    const order = { ...body, user_id: userId } as unknown as OrderInput
    const sent = await producer.placeOrder(order)
    const outcome = await results.awaitOutcome(sent.intent.intent_id, { timeoutMs: outcomeTimeoutMs })
    const e = outcome.event
    answer(res, 200, {
      intent_id: outcome.intent_id,
      outcome: outcome.outcome,
      ...(outcome.reason ? { reason: outcome.reason } : {}),
      ...(e.schema === 'order-fill/v1'
        ? { filled_qty: e.filled_qty, filled_avg_price: e.filled_avg_price }
        : { message: e.message }),
      event_id: e.event_id,
    })
  } catch (e) {
    if (e instanceof IntentValidationError) return answer(res, 400, { error: 'invalid_order', fields: e.fields, errors: e.errors })
    if (e instanceof OutcomeTimeoutError) return answer(res, 202, { intent_id: e.intentId, outcome: 'pending' })
    if (e instanceof IntentSendError) return answer(res, 503, { error: 'not_sent', intent_id: e.intentId })
    throw e
  }
}

const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/orders') {
    placeOrder(req, res).catch((e: unknown) => {
      process.stderr.write(`POST /orders: ${String(e)}\n`)
      if (!res.headersSent) answer(res, 500, { error: 'internal' })
    })
  } else {
    answer(res, 404, { error: 'not found' })
  }
})

await results.start()
await results.ready()
await producer.connect()
server.listen(port, '127.0.0.1', () => process.stdout.write(`backend-route: listening on 127.0.0.1:${port}\n`))

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    server.close()
    void Promise.allSettled([producer.disconnect(), results.stop()]).then(() => process.exit(0))
  })
}
