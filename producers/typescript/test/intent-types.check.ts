// test/intent-types.check.ts -- owns the compile-time checks of the producer's
// typed inputs (never run, only type-checked: `tsc -p test`, in ts_consumer and
// npm run typecheck): an order's type says which amounts and prices it takes,
// money is a decimal string (a number does not compile), a user intent has no
// bot_id and a bot intent needs one, a cancel names its target.  Why: the
// backend's code is written against these types; what the worker would refuse
// should not compile in the first place.
import type { CancelInput, IntentProducer, OrderInput } from '../src/index.js'

export const market: OrderInput = { user_id: 'u1', symbol: 'AAPL', side: 'buy', type: 'market', qty: '1' }
export const byNotional: OrderInput = { user_id: 'u1', symbol: 'AAPL', side: 'buy', type: 'market', notional: '100.50' }
export const limit: OrderInput = { user_id: 'u1', symbol: 'IBM', side: 'buy', type: 'limit', qty: '5', limit_price: '150', time_in_force: 'gtc' }
export const stopLimit: OrderInput<'bot'> = {
  bot_id: 'b1', user_id: 'u1', symbol: 'IBM', side: 'sell', type: 'stop_limit', qty: '5', limit_price: '149', stop_price: '150',
}
export const cancel: CancelInput = { user_id: 'u1', target_intent_id: '6f1c2b9e-8d4a-4e1b-9c3f-2a7d5e0b1c44' }

// @ts-expect-error money is a decimal string, never a number
export const numberQty: OrderInput = { user_id: 'u1', symbol: 'AAPL', side: 'buy', type: 'market', qty: 1 }
// @ts-expect-error exactly one of qty and notional
export const both: OrderInput = { user_id: 'u1', symbol: 'AAPL', side: 'buy', type: 'market', qty: '1', notional: '10' }
// @ts-expect-error notional only with type market
export const limitNotional: OrderInput = { user_id: 'u1', symbol: 'AAPL', side: 'buy', type: 'limit', notional: '10', limit_price: '1' }
// @ts-expect-error a limit order needs its limit_price
export const noLimit: OrderInput = { user_id: 'u1', symbol: 'AAPL', side: 'buy', type: 'limit', qty: '1' }
// @ts-expect-error a market order takes no stop_price
export const marketStop: OrderInput = { user_id: 'u1', symbol: 'AAPL', side: 'buy', type: 'market', qty: '1', stop_price: '1' }
// @ts-expect-error no such side
export const hold: OrderInput = { user_id: 'u1', symbol: 'AAPL', side: 'hold', type: 'market', qty: '1' }
// @ts-expect-error a user intent has no bot_id
export const userWithBot: OrderInput<'user'> = { bot_id: 'b1', user_id: 'u1', symbol: 'AAPL', side: 'buy', type: 'market', qty: '1' }
// @ts-expect-error a bot intent needs its bot_id
export const botWithout: OrderInput<'bot'> = { user_id: 'u1', symbol: 'AAPL', side: 'buy', type: 'market', qty: '1' }
// @ts-expect-error a cancel names its target
export const noTarget: CancelInput = { user_id: 'u1' }

export async function place(p: IntentProducer<'user'>): Promise<string> {
  const sent = await p.placeOrder(market)
  return `${sent.topic}[${sent.partition}]@${sent.offset} ${sent.intent.intent_id}`
}
