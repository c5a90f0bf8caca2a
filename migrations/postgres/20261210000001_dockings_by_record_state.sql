-- A record's dockings in one state (the matcher asks, for every candidate it would suggest, how
-- many suggestions already wait for that record): with only `(need_id)` and `(state, score)`
-- to choose from, SQLite took the state index and visited every waiting suggestion of the
-- market to find the record's few, so the suggester slowed as the review queue grew (18
-- records/s at 100,000 achievements and 6,600 waiting suggestions). Both columns in one index
-- answer it from the record's own entries; it serves every lookup by record the indexes on the
-- record alone did, which go.
CREATE INDEX dockings_need_state ON dockings (need_id, state);
CREATE INDEX dockings_achievement_state ON dockings (achievement_id, state);
DROP INDEX dockings_need;
DROP INDEX dockings_achievement;
