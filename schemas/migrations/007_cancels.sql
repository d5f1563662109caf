-- 007_cancels.sql -- cancel requests (contract section 3b).
--
-- A cancel request is an intent like any other (its own intent_id, its
-- own states and outcome), with action 'cancel' and the intent it targets.
-- A target that a cancel ended keeps which cancel did it and why, so its
-- canceled event, published when the broker says canceled (or at once for
-- a target never sent), carries them, and a redelivered cancel finds its
-- outcome already there.
ALTER TABLE intents ADD COLUMN action text NOT NULL DEFAULT 'place'
    CONSTRAINT intents_action_known CHECK (action IN ('place', 'cancel'));
ALTER TABLE intents ADD COLUMN target_intent_id text;
ALTER TABLE intents ADD COLUMN cancel_intent_id text;
ALTER TABLE intents ADD COLUMN cancel_reason text
    CONSTRAINT intents_cancel_reason_known CHECK (cancel_reason IN ('requested', 'operator'));
ALTER TABLE intents ADD COLUMN cancel_requested_at timestamptz;
