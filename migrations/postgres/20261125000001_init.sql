-- Organisations, users, tokens, and the first two libraries (needs, achievements).
-- Timestamps are Unix microseconds (UTC); amounts are hundredths of 万元; lists are JSON arrays.

CREATE TABLE organisations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    region      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    CONSTRAINT organisations_name_key UNIQUE (name)
);

CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organisations (id),
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    email       TEXT NOT NULL DEFAULT '',
    phone       TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL
);
CREATE INDEX users_org_id_idx ON users (org_id);

CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id),
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT,
    revoked_at    BIGINT,
    last_used_at  BIGINT,
    CONSTRAINT api_tokens_hash_key UNIQUE (token_hash)
);
CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id);

CREATE TABLE needs (
    id                 TEXT PRIMARY KEY,
    org_id             TEXT NOT NULL REFERENCES organisations (id),
    title              TEXT NOT NULL,
    description        TEXT NOT NULL,
    targets            TEXT NOT NULL,
    tried              TEXT NOT NULL,
    keywords           TEXT NOT NULL,
    field              TEXT NOT NULL,
    need_type          TEXT NOT NULL,
    cooperation_modes  TEXT NOT NULL,
    budget_min         BIGINT,
    budget_max         BIGINT,
    deadline           TEXT,
    region             TEXT NOT NULL,
    contact_name       TEXT NOT NULL,
    contact_phone      TEXT NOT NULL,
    contact_email      TEXT NOT NULL,
    visibility         TEXT NOT NULL,
    status             TEXT NOT NULL,
    created_by         TEXT NOT NULL REFERENCES users (id),
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    version            BIGINT NOT NULL
);
CREATE INDEX needs_org_id_idx ON needs (org_id);
CREATE INDEX needs_field_idx ON needs (field);
CREATE INDEX needs_updated_at_idx ON needs (updated_at);

CREATE TABLE achievements (
    id                 TEXT PRIMARY KEY,
    org_id             TEXT NOT NULL REFERENCES organisations (id),
    title              TEXT NOT NULL,
    summary            TEXT NOT NULL,
    keywords           TEXT NOT NULL,
    field              TEXT NOT NULL,
    achievement_type   TEXT NOT NULL,
    trl                INTEGER,
    stage              TEXT,
    ip_form            TEXT NOT NULL,
    patent_numbers     TEXT NOT NULL,
    cooperation_modes  TEXT NOT NULL,
    asking_price       BIGINT,
    team_lead          TEXT NOT NULL,
    region             TEXT NOT NULL,
    contact_name       TEXT NOT NULL,
    contact_phone      TEXT NOT NULL,
    contact_email      TEXT NOT NULL,
    visibility         TEXT NOT NULL,
    status             TEXT NOT NULL,
    created_by         TEXT NOT NULL REFERENCES users (id),
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    version            BIGINT NOT NULL
);
CREATE INDEX achievements_org_id_idx ON achievements (org_id);
CREATE INDEX achievements_field_idx ON achievements (field);
CREATE INDEX achievements_updated_at_idx ON achievements (updated_at);
