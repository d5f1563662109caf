-- 005_bots.sql -- who may sign intents, with which keys, for which users.
--
-- Anything that can write to an intent topic could spend money, so each
-- intent is signed (HMAC-SHA256 over its exact bytes, Kafka header
-- x-signature) with a key of the bot that sends it.  Operators manage bots
-- with `intentctl bot add|rotate|revoke|bind|unbind|list`; every replica
-- re-reads the usable keys and the bindings every SIGNING_REFRESH_MS.
--
-- The backend that writes orders.intents.user signs too: it is registered
-- as a bot under the name USER_TOPIC_SIGNER ('backend' by default) and
-- bound to the users it may place orders for ('*': every user).

CREATE TABLE bots (
    bot_id      text        PRIMARY KEY CHECK (bot_id ~ '^[A-Za-z0-9._-]{1,64}$'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text
);

-- A key is usable while it is not revoked and its valid_until (set by a
-- rotation: the old key's grace period) has not passed.  The secret is the
-- raw 32-byte HMAC key; only intentctl ever shows it, once, when it is made.
CREATE TABLE bot_keys (
    bot_id      text        NOT NULL REFERENCES bots ON DELETE CASCADE,
    key_no      integer     NOT NULL CHECK (key_no > 0),
    secret      bytea       NOT NULL CHECK (length(secret) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    valid_until timestamptz,
    revoked_at  timestamptz,
    PRIMARY KEY (bot_id, key_no)
);

-- The users a bot may trade for; user_id '*' binds it to every user.
CREATE TABLE bot_users (
    bot_id      text        NOT NULL REFERENCES bots ON DELETE CASCADE,
    user_id     text        NOT NULL CHECK (user_id = '*' OR user_id ~ '^[A-Za-z0-9._-]{1,64}$'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_id, user_id)
);

-- Every change, with who made it and when; never updated, never deleted.
-- No secret is ever written here.
CREATE TABLE bot_changes (
    change_id   bigserial   PRIMARY KEY,
    bot_id      text        NOT NULL,
    action      text        NOT NULL CHECK (action IN ('add', 'rotate', 'revoke', 'bind', 'unbind')),
    detail      text,
    changed_by  text,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bot_changes_bot ON bot_changes (bot_id, change_id);
