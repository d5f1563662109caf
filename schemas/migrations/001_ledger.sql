-- 001_ledger.sql -- the order ledger: every intent, every state it went
-- through, every broker order and every event published for it.
--
-- The ledger is written before each step it announces, so that whatever
-- crashes, a redelivered intent can be resumed from what is recorded here.
-- Decimals are numeric (exact); raw texts are kept as received.

CREATE TABLE intents (
    intent_id        text PRIMARY KEY,
    content_hash     text        NOT NULL,
    source           text        NOT NULL CHECK (source IN ('bot', 'user')),
    msg_key          text,
    topic            text        NOT NULL,
    kafka_partition  integer     NOT NULL,
    kafka_offset     bigint      NOT NULL,
    bot_id           text,
    user_id          text,
    symbol           text,
    side             text,
    order_type       text,
    qty              numeric,
    notional         numeric,
    limit_price      numeric,
    stop_price       numeric,
    time_in_force    text,
    extended_hours   boolean,
    created_at       timestamptz,
    expires_at       timestamptz,
    client_order_id  text UNIQUE,
    state            text        NOT NULL,
    reason           text,
    raw              text        NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT intents_state_known CHECK (state IN
        ('received', 'validated', 'quota_granted', 'submitting', 'submitted',
         'filled', 'canceled', 'expired', 'rejected'))
);
CREATE INDEX intents_open ON intents (state, updated_at)
    WHERE state NOT IN ('filled', 'canceled', 'expired', 'rejected');
CREATE INDEX intents_bot ON intents (bot_id, received_at);
CREATE INDEX intents_user ON intents (user_id, received_at);

-- One row per state change, written in the same transaction as the change.
CREATE TABLE intent_transitions (
    id          bigserial PRIMARY KEY,
    intent_id   text        NOT NULL REFERENCES intents (intent_id),
    from_state  text,
    to_state    text        NOT NULL,
    replica     text,
    detail      jsonb,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX intent_transitions_intent ON intent_transitions (intent_id, id);

-- The broker's view of each order, as last seen.
CREATE TABLE broker_orders (
    order_id          text PRIMARY KEY,
    intent_id         text        NOT NULL UNIQUE REFERENCES intents (intent_id),
    client_order_id   text        NOT NULL UNIQUE,
    status            text        NOT NULL,
    symbol            text,
    side              text,
    order_type        text,
    qty               numeric,
    notional          numeric,
    filled_qty        numeric,
    filled_avg_price  numeric,
    raw               jsonb       NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Every result event, stored before it is produced; published_at is set once
-- Kafka acknowledged it.  A redelivered intent re-publishes these payloads
-- unchanged, so consumers see the same event_id.
CREATE TABLE events (
    event_id      text PRIMARY KEY,
    intent_id     text        REFERENCES intents (intent_id),
    topic         text        NOT NULL,
    msg_key       text,
    event_type    text        NOT NULL,
    terminal      boolean     NOT NULL,
    payload       text        NOT NULL,
    seq           bigserial,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX events_intent ON events (intent_id, seq);
CREATE INDEX events_unpublished ON events (seq) WHERE published_at IS NULL;

-- Messages that could not be read as an intent (the DLQ), by origin.
CREATE TABLE dead_letters (
    topic            text        NOT NULL,
    kafka_partition  integer     NOT NULL,
    kafka_offset     bigint      NOT NULL,
    reason           text        NOT NULL,
    detail           text,
    msg_key          bytea,
    raw              bytea       NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now(),
    published_at     timestamptz,
    PRIMARY KEY (topic, kafka_partition, kafka_offset)
);
