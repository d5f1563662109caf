-- 002_follow.sql -- following accepted orders to their end.
--
-- One replica at a time follows every open order: the holder of the
-- 'order-follower' lease, renewed while it lives.  A replica that dies stops
-- renewing, and another takes the lease over once it has run out.  Times
-- come from PostgreSQL's clock only, so replicas' clocks do not matter.
CREATE TABLE leases (
    name    text PRIMARY KEY,
    holder  text        NOT NULL,
    until   timestamptz NOT NULL
);

-- The follower reads open orders by state; their events by type.
CREATE INDEX events_intent_type ON events (intent_id, event_type);
