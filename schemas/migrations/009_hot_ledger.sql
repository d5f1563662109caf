-- 009_hot_ledger.sql -- the ledger's happy path made cheap (issue 21).
--
-- Measured before this migration, an intent on the happy path inserted one
-- row of intents and updated it twice, wrote five intent_transitions rows,
-- and each update of intents added an entry to every one of its indexes,
-- because `state` was in one of them (intents_open) and in the predicate of
-- another: no update could be HOT.  PostgreSQL spent 0.4 to 0.8 ms of CPU
-- per intent.  Decisions (docs/design.md, "The ledger"):
--
-- 1. The moves of the happy path live in the intent's row: `steps`, one
--    (from, to, at, replica) element per move, appended by the statement
--    that makes the move.  intent_transitions keeps only the moves made off
--    the happy path (retries, holds, resumptions, the reconciler, cancels),
--    each with its `detail`.  The view intent_history answers "when did
--    this intent reach each state, and on which replica" from both, for
--    every intent; intents recorded before this migration have their whole
--    history in intent_transitions and no steps.
-- 2. No foreign keys on the high-volume child tables (events,
--    intent_transitions, broker_orders): their rows are written in the same
--    statement as the parent's, and the suite's orphan check
--    (tests/orphans.sql) must find none after the chaos and hazards tests.
-- 3. Updates are HOT: no index of intents has a column that the happy path
--    changes (state, updated_at, steps, reason), in its key or in its
--    predicate, and pages leave room for the new versions (fillfactor).
--    Open intents are found through open_intents, a narrow table with a row
--    from recording to the terminal state.
--
-- Existing ledgers are carried forward: open_intents is filled from the
-- intents that are not terminal, old histories stay where they are.

CREATE TYPE intent_step AS (
    from_state  text,        -- NULL for the first move (received)
    to_state    text,
    at          timestamptz,
    replica     text
);

ALTER TABLE intents ADD COLUMN steps intent_step[] NOT NULL DEFAULT '{}';

-- One row per intent that is not in a terminal state: inserted by the
-- statement that records the intent, deleted by the one that ends it.
CREATE TABLE open_intents (
    intent_id  text PRIMARY KEY,
    bot_id     text
);
CREATE INDEX open_intents_bot ON open_intents (bot_id) WHERE bot_id IS NOT NULL;
INSERT INTO open_intents (intent_id, bot_id)
    SELECT intent_id, bot_id FROM intents
    WHERE state NOT IN ('filled', 'canceled', 'expired', 'rejected');

-- The worker's own statements keep open_intents (the recording inserts,
-- the terminal move deletes, in the same statement).  An intent that any
-- other writer moves back from a terminal state (a repair by hand) becomes
-- open again here, so that the reconciler and the follower find it.  The
-- WHEN clause is checked without calling the function: the happy path's
-- updates never match it.
CREATE FUNCTION intents_reopened() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO open_intents (intent_id, bot_id) VALUES (NEW.intent_id, NEW.bot_id)
        ON CONFLICT (intent_id) DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER intents_reopened AFTER UPDATE OF state ON intents FOR EACH ROW
    WHEN (OLD.state IN ('filled', 'canceled', 'expired', 'rejected')
          AND NEW.state NOT IN ('filled', 'canceled', 'expired', 'rejected'))
    EXECUTE FUNCTION intents_reopened();

-- state out of every index of intents.
DROP INDEX intents_open;
DROP INDEX intents_operator_cancel_unsent;
CREATE INDEX intents_operator_cancel_unsent ON intents (cancel_requested_at)
    WHERE cancel_reason = 'operator' AND cancel_sent_at IS NULL;
ALTER TABLE intents SET (fillfactor = 70);

-- No foreign keys on the children written per intent.
ALTER TABLE intent_transitions DROP CONSTRAINT IF EXISTS intent_transitions_intent_id_fkey;
ALTER TABLE broker_orders DROP CONSTRAINT IF EXISTS broker_orders_intent_id_fkey;
ALTER TABLE events DROP CONSTRAINT IF EXISTS events_intent_id_fkey;

-- Every move of every intent, wherever it was recorded, oldest first within
-- an intent when ordered by (intent_id, at, n).  recorded_in says where:
-- 'row' (intents.steps: the happy path) or 'transitions'
-- (intent_transitions: off it, with its detail).
CREATE VIEW intent_history AS
    SELECT i.intent_id, s.n, s.from_state, s.to_state, s.replica, NULL::jsonb AS detail,
           s.at, 'row'::text AS recorded_in
    FROM intents i,
         LATERAL unnest(i.steps) WITH ORDINALITY AS s(from_state, to_state, at, replica, n)
    UNION ALL
    SELECT t.intent_id, t.id, t.from_state, t.to_state, t.replica, t.detail, t.at,
           'transitions'::text
    FROM intent_transitions t;
