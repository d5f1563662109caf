-- 008_operator_cancels.sql -- operators' cancels: `intentctl cancel` and
-- `intentctl halt --cancel-open` (docs/operations.md, the kill switch).
--
-- An operator's cancel marks every open order intent of a scope (global, a
-- user, a bot, or one intent) as being canceled, with cancel_reason
-- 'operator' and no cancel_intent_id (migration 007's columns), in one
-- transaction with its row here (and, for halt --cancel-open, with the
-- halt).  The follower's leader then sends the broker's cancel for each
-- marked order that is at the broker, and records when the broker answered
-- (cancel_sent_at); the target's canceled event says cancel_reason
-- 'operator'.

-- Every operator's cancel, with who asked, why, when, and how many open
-- orders it marked.  Never updated, never deleted.
CREATE TABLE operator_cancels (
    cancel_id     bigserial   PRIMARY KEY,
    scope         text        NOT NULL CHECK (scope IN ('global', 'user', 'bot', 'intent')),
    id            text        NOT NULL DEFAULT '',
    halted        boolean     NOT NULL,  -- halt --cancel-open: halted in the same transaction
    reason        text,
    requested_by  text,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    marked        integer     NOT NULL CHECK (marked >= 0),
    CONSTRAINT operator_cancels_id_matches_scope CHECK ((scope = 'global') = (id = '')),
    CONSTRAINT operator_cancels_halt_scope CHECK (NOT halted OR scope <> 'intent')
);

-- Which operator's cancel marked an intent (NULL: none), and when the
-- broker answered its DELETE (NULL: not sent yet, or never: a target not
-- at the broker ends without one).
ALTER TABLE intents ADD COLUMN operator_cancel_id bigint REFERENCES operator_cancels (cancel_id);
ALTER TABLE intents ADD COLUMN cancel_sent_at timestamptz;

-- What the follower's leader looks for twice a second: marked orders at the
-- broker whose cancel is not sent yet (usually none, so the index is empty).
CREATE INDEX intents_operator_cancel_unsent ON intents (cancel_requested_at)
    WHERE cancel_reason = 'operator' AND cancel_sent_at IS NULL AND state = 'submitted';
