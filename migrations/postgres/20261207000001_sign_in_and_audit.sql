-- Signing in with a login and a password, sessions, the limit on guessing, the audit log, and
-- organisations that apply to join the market.

-- An organisation that applied by itself is `pending` until a manager approves or rejects it
-- (with a reason); those an admin created are `approved`. Its 统一社会信用代码 is unique.
ALTER TABLE organisations ADD COLUMN credit_code TEXT;
ALTER TABLE organisations ADD COLUMN status TEXT NOT NULL DEFAULT 'approved';
ALTER TABLE organisations ADD COLUMN review_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE organisations ADD COLUMN reviewed_by TEXT;
ALTER TABLE organisations ADD COLUMN reviewed_at BIGINT;
CREATE UNIQUE INDEX organisations_credit_code_key ON organisations (credit_code);

-- A user's login (a mobile number or an e-mail address, normalised; unique) and password hash
-- (argon2id, PHC string). Users an admin created for tokens only have neither.
ALTER TABLE users ADD COLUMN login TEXT;
ALTER TABLE users ADD COLUMN password_hash TEXT;
-- Set by an admin's reset: the user must choose a new password before anything else.
ALTER TABLE users ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT FALSE;
CREATE UNIQUE INDEX users_login_key ON users (login);

-- A signed-in session: like an API token, only the hash of its secret is kept, and of its
-- CSRF token. It ends at `expires_at` (absolute), after the configured idle time since
-- `last_seen_at`, or when `ended_at` is set (sign-out, a password change, an admin).
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id),
    token_hash    TEXT NOT NULL,
    csrf_hash     TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    ended_at      BIGINT,
    client        TEXT NOT NULL DEFAULT '',
    CONSTRAINT sessions_hash_key UNIQUE (token_hash)
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- Failed sign-ins, by key (`login:<login>` or `client:<address>`), for the limit on guessing
-- that every instance on one database shares.
CREATE TABLE sign_in_failures (
    key  TEXT NOT NULL,
    at   BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_key_idx ON sign_in_failures (key, at);

-- Who did or tried what, when, from where, and how it ended. Append-only through the service;
-- entries older than the configured retention are pruned.
CREATE TABLE audit_log (
    seq         BIGSERIAL PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    actor_org   TEXT NOT NULL DEFAULT '',
    credential  TEXT NOT NULL DEFAULT '',
    operation   TEXT NOT NULL,
    records     TEXT NOT NULL DEFAULT '[]',
    outcome     TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    client      TEXT NOT NULL DEFAULT '',
    request_id  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, seq);
