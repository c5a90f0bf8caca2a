-- Bulk imports are idempotent on the external id a file gives each row (the university's or the
-- survey's own number): the same file imported twice creates each record once.
CREATE TABLE import_keys (
    library     TEXT NOT NULL,
    org_id      TEXT NOT NULL REFERENCES organisations (id),
    external_id TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (library, org_id, external_id)
);
