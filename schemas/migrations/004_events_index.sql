-- 004_events_index.sql -- drop the partial index of unpublished events.
--
-- No statement needs it: events are read and marked through events_intent
-- (intent_id, seq).  It did harm: marking an event published moves the row
-- out of the partial index, but the old entry stays until VACUUM, and the
-- planner, trusting the index to be small, scanned every such entry on each
-- mark (found by the benchmark's profile: PostgreSQL's time in bitmap scans
-- of this index grew with the number of events written).
DROP INDEX IF EXISTS events_unpublished;
