-- tests/orphans.sql -- the ledger's integrity without foreign keys
-- (migration 009): every child row written per intent has its intent, and
-- open_intents lists exactly the intents that are not in a terminal state.
-- One line per problem found, as "what: intent_id"; no line is a pass.
-- Run by tests/lib.sh (ledger_orphans) after the chaos and hazards tests.
SELECT 'event without its intent: ' || e.intent_id
    FROM events e WHERE e.intent_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM intents i WHERE i.intent_id = e.intent_id)
UNION ALL
SELECT 'transition without its intent: ' || t.intent_id
    FROM intent_transitions t
    WHERE NOT EXISTS (SELECT 1 FROM intents i WHERE i.intent_id = t.intent_id)
UNION ALL
SELECT 'broker order without its intent: ' || o.intent_id
    FROM broker_orders o
    WHERE NOT EXISTS (SELECT 1 FROM intents i WHERE i.intent_id = o.intent_id)
UNION ALL
SELECT 'open_intents row without its intent: ' || oi.intent_id
    FROM open_intents oi
    WHERE NOT EXISTS (SELECT 1 FROM intents i WHERE i.intent_id = oi.intent_id)
UNION ALL
SELECT 'open_intents row of an ended intent: ' || i.intent_id
    FROM open_intents oi JOIN intents i ON i.intent_id = oi.intent_id
    WHERE i.state IN ('filled', 'canceled', 'expired', 'rejected')
UNION ALL
SELECT 'open intent missing from open_intents: ' || i.intent_id
    FROM intents i
    WHERE i.state NOT IN ('filled', 'canceled', 'expired', 'rejected')
    AND NOT EXISTS (SELECT 1 FROM open_intents oi WHERE oi.intent_id = i.intent_id);
