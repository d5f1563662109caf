-- 006_positions.sql -- positions by bot, by user and for the account, from
-- the ledger (worker/positions.c).
--
-- A scope's position in a symbol is the sum of its orders' filled
-- quantities (broker_orders.filled_qty, buys +, sells -); its open orders
-- are those that may still fill.  While trading is reducing, an order
-- passes only if it shrinks the position of the scope that is reducing,
-- counting the orders already open; the decision is taken under a lock on
-- the symbol, and an intent that passed is marked here so that, until it
-- moves on to quota_granted (an open order by its state), every later
-- decision counts it as open too: two quick sells cannot together oversell.
ALTER TABLE intents ADD COLUMN reduce_passed_at timestamptz;

-- The decisions read one symbol of a bot, of a user or of the account.
CREATE INDEX intents_symbol_bot ON intents (symbol, bot_id);
CREATE INDEX intents_symbol_user ON intents (symbol, user_id);
