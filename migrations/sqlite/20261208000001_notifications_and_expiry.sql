-- Notifications (an outbox of events written with the change that causes them, every user's
-- inbox, webhook subscriptions and their deliveries) and records that expire.

-- When the owner last confirmed a record is still current: an achievement's validity, and a
-- need's without a deadline, run from here. Renewing sets it. Existing records count from their
-- last update.
ALTER TABLE needs ADD COLUMN confirmed_at BIGINT;
ALTER TABLE achievements ADD COLUMN confirmed_at BIGINT;
UPDATE needs SET confirmed_at = updated_at;
UPDATE achievements SET confirmed_at = updated_at;
-- The owner was reminded that the record is about to expire (cleared by renewing).
ALTER TABLE needs ADD COLUMN reminded_at BIGINT;
ALTER TABLE achievements ADD COLUMN reminded_at BIGINT;
CREATE INDEX needs_expiry_idx ON needs (status, confirmed_at);
CREATE INDEX achievements_expiry_idx ON achievements (status, confirmed_at);

-- The outbox: one row per event, in the transaction of the change that caused it. `subject` is
-- the record the event is about; `data` its details (JSON) for the inbox and the payloads.
CREATE TABLE events (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    id       TEXT NOT NULL UNIQUE,
    at       BIGINT NOT NULL,
    kind     TEXT NOT NULL,
    subject  TEXT NOT NULL DEFAULT '',
    data     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_at_idx ON events (at);

-- Who may hear of an event: `market` (technology managers and admins), `org:<id>` (the users
-- of one organisation), `user:<id>` (one user).
CREATE TABLE event_audience (
    event_seq  BIGINT NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    audience   TEXT NOT NULL,
    PRIMARY KEY (audience, event_seq)
);

-- A user's inbox: events read one by one, and everything up to `read_upto` read at once.
CREATE TABLE notification_reads (
    user_id    TEXT NOT NULL REFERENCES users (id),
    event_seq  BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    PRIMARY KEY (user_id, event_seq)
);
CREATE TABLE inbox_marks (
    user_id    TEXT PRIMARY KEY REFERENCES users (id),
    read_upto  BIGINT NOT NULL
);

-- A webhook: where an organisation's (or, `market`, the managers') events go, in which format,
-- signed with which secret. The secret is needed to sign, so it is kept; it is never returned
-- after creation nor logged, nor is the URL's query (a WeCom robot's key).
CREATE TABLE subscriptions (
    id          TEXT PRIMARY KEY,
    audience    TEXT NOT NULL,
    org_id      TEXT NOT NULL REFERENCES organisations (id),
    created_by  TEXT NOT NULL REFERENCES users (id),
    name        TEXT NOT NULL DEFAULT '',
    url         TEXT NOT NULL,
    format      TEXT NOT NULL,
    kinds       TEXT NOT NULL DEFAULT '[]',
    secret      TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    ended_at    BIGINT
);
CREATE INDEX subscriptions_audience_idx ON subscriptions (audience);

-- One event to one subscription: pending until delivered, or dead after the last attempt. A
-- claim holds it (`lease_until`) while one instance sends it.
CREATE TABLE deliveries (
    id               TEXT PRIMARY KEY,
    subscription_id  TEXT NOT NULL REFERENCES subscriptions (id),
    event_seq        BIGINT NOT NULL REFERENCES events (seq),
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_at          BIGINT NOT NULL,
    lease_until      BIGINT,
    last_code        INTEGER,
    last_error       TEXT NOT NULL DEFAULT '',
    last_latency_ms  INTEGER,
    created_at       BIGINT NOT NULL,
    delivered_at     BIGINT,
    CONSTRAINT deliveries_once_key UNIQUE (subscription_id, event_seq)
);
CREATE INDEX deliveries_due_idx ON deliveries (status, next_at);

-- Every attempt of a delivery: its answer's status, how long it took, what went wrong.
CREATE TABLE delivery_attempts (
    delivery_id  TEXT NOT NULL REFERENCES deliveries (id),
    attempt      INTEGER NOT NULL,
    at           BIGINT NOT NULL,
    code         INTEGER,
    latency_ms   INTEGER NOT NULL,
    error        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (delivery_id, attempt)
);
