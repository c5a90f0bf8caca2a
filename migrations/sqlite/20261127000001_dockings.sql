-- The docking library (项目对接库): one row per pairing of a need with an achievement, and the
-- events that moved it. A pair has at most one open docking; a closed one (rejected, failed,
-- withdrawn, signed) keeps the fingerprints of both records as they were, so the matcher can
-- tell whether either side changed materially since.
CREATE TABLE dockings (
    id                      TEXT PRIMARY KEY,
    need_id                 TEXT NOT NULL REFERENCES needs (id),
    achievement_id          TEXT NOT NULL REFERENCES achievements (id),
    need_org_id             TEXT NOT NULL REFERENCES organisations (id),
    achievement_org_id      TEXT NOT NULL REFERENCES organisations (id),
    state                   TEXT NOT NULL,
    reason                  TEXT,
    source                  TEXT NOT NULL,
    score                   REAL,
    explanation             TEXT NOT NULL,
    matcher_version         TEXT,
    dictionary_version      TEXT,
    need_fingerprint        TEXT NOT NULL,
    achievement_fingerprint TEXT NOT NULL,
    manager_id              TEXT REFERENCES users (id),
    field                   TEXT NOT NULL,
    region                  TEXT NOT NULL,
    was_introduced          BOOLEAN NOT NULL,
    need_interest           BOOLEAN NOT NULL,
    achievement_interest    BOOLEAN NOT NULL,
    created_by              TEXT REFERENCES users (id),
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL,
    version                 BIGINT NOT NULL
);

CREATE UNIQUE INDEX dockings_open_pair ON dockings (need_id, achievement_id)
    WHERE state NOT IN ('rejected', 'failed', 'withdrawn', 'signed');
CREATE INDEX dockings_need ON dockings (need_id);
CREATE INDEX dockings_achievement ON dockings (achievement_id);
CREATE INDEX dockings_state_score ON dockings (state, score);

CREATE TABLE docking_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    docking_id  TEXT NOT NULL REFERENCES dockings (id),
    at          BIGINT NOT NULL,
    actor_id    TEXT REFERENCES users (id),
    actor_role  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    from_state  TEXT,
    to_state    TEXT,
    reason      TEXT,
    note        TEXT NOT NULL
);

CREATE INDEX docking_events_docking ON docking_events (docking_id, seq);

-- Where the background matcher is in the change log.
CREATE TABLE matcher_checkpoint (
    name    TEXT PRIMARY KEY,
    seq     BIGINT NOT NULL
);
