-- One ordered feed of changes: every write a follower may need (needs, achievements, dockings
-- and their events, transfers, the dictionary, organisations, users, tokens) appends a row in
-- its transaction. The column names what changed, no longer only a library.
ALTER TABLE changes RENAME COLUMN library TO kind;

-- Each follower keeps its own named checkpoint in the feed (the suggester's is `suggest`).
ALTER TABLE matcher_checkpoint RENAME TO checkpoints;
