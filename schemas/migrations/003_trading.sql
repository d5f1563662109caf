-- 003_trading.sql -- the kill switch: the trading state operators set.
--
-- A state applies globally (id ''), to one user or to one bot: active,
-- reducing (only orders that shrink a position) or halted.  The strictest
-- state that applies to an intent wins.  Operators write these rows with
-- `intentctl halt|reduce|resume`; every replica re-reads the non-active ones
-- every TRADING_REFRESH_MS, so a change is obeyed fleet-wide within a second,
-- and a restart forgets nothing.  No row means active; resume keeps the row
-- (state 'active') so that who resumed, and why, stays visible.
CREATE TABLE trading_states (
    scope       text        NOT NULL CHECK (scope IN ('global', 'user', 'bot')),
    id          text        NOT NULL DEFAULT '',
    state       text        NOT NULL CHECK (state IN ('active', 'reducing', 'halted')),
    reason      text,
    updated_by  text,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, id),
    -- The global row has the empty id; a user or bot row names its subject.
    CONSTRAINT trading_states_id_matches_scope CHECK ((scope = 'global') = (id = ''))
);
-- What the replicas read twice a second: only the rows that restrict.
CREATE INDEX trading_states_restricting ON trading_states (scope, id)
    WHERE state <> 'active';

-- Every change, with who made it, why and when, written in the same
-- transaction as the change itself.  Never updated, never deleted.
CREATE TABLE trading_state_changes (
    change_id   bigserial PRIMARY KEY,
    scope       text        NOT NULL CHECK (scope IN ('global', 'user', 'bot')),
    id          text        NOT NULL DEFAULT '',
    from_state  text,       -- NULL: no row before (that is, active)
    to_state    text        NOT NULL CHECK (to_state IN ('active', 'reducing', 'halted')),
    reason      text,
    changed_by  text,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX trading_state_changes_subject ON trading_state_changes (scope, id, change_id);
