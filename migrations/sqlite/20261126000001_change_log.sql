-- The change log (outbox) the search index follows: one row per write to a need or
-- achievement, in the same transaction as the write. AUTOINCREMENT keeps sequence numbers
-- increasing and never reused; writes are serialised by the single writer connection.
CREATE TABLE changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    library     TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    changed_at  BIGINT NOT NULL
);

-- Domain terms and synonym groups added by admins, merged with the files in index/.
CREATE TABLE dictionary_terms (
    id          TEXT PRIMARY KEY,
    word        TEXT NOT NULL,
    freq        BIGINT,
    created_by  TEXT NOT NULL REFERENCES users (id),
    created_at  BIGINT NOT NULL,
    CONSTRAINT dictionary_terms_word_key UNIQUE (word)
);

CREATE TABLE synonym_groups (
    id          TEXT PRIMARY KEY,
    members     TEXT NOT NULL,
    created_by  TEXT NOT NULL REFERENCES users (id),
    created_at  BIGINT NOT NULL
);
