-- An organisation's records newest first (`ORDER BY id DESC`; ids are time-ordered), read from
-- an index in that order. The duplicate check of an import reads, for each organisation in the
-- file, its 2,000 most recent titles that have not expired: it sorted every one of the
-- organisation's full rows before, so an import slowed as the catalogue grew; this index
-- holds all it reads (status and title), so the rows themselves are not visited. It also serves
-- every lookup the index on `org_id` alone did, which goes.
CREATE INDEX needs_org_recent_idx ON needs (org_id, id, status, title);
CREATE INDEX achievements_org_recent_idx ON achievements (org_id, id, status, title);
DROP INDEX needs_org_id_idx;
DROP INDEX achievements_org_id_idx;
