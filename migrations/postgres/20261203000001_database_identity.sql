-- The database's identity: a random id made once, when the schema is created. The search index
-- and the demo tokens file record the id of the database they belong to, so that neither is
-- taken for another database's (a run on PostgreSQL after one on SQLite with the same data folder).
CREATE TABLE database_identity (
    id         TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);
INSERT INTO database_identity (id, created_at)
VALUES (replace(gen_random_uuid()::text, '-', ''), (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT);
