-- The transfer library (落地转化库): one row per signed docking, written in the same transaction
-- as the signing. Amounts are hundredths of 万元 (exact integers, never floats); dates are
-- ISO text (YYYY-MM-DD), so their month is the first seven characters on either backend.
-- `landed_on` is the date of the 量产/产业化 milestone, kept beside the milestones for the
-- statistics.
CREATE TABLE transfers (
    id                  TEXT PRIMARY KEY,
    docking_id          TEXT NOT NULL UNIQUE REFERENCES dockings (id),
    need_id             TEXT NOT NULL REFERENCES needs (id),
    achievement_id      TEXT NOT NULL REFERENCES achievements (id),
    need_org_id         TEXT NOT NULL REFERENCES organisations (id),
    achievement_org_id  TEXT NOT NULL REFERENCES organisations (id),
    manager_id          TEXT REFERENCES users (id),
    field               TEXT NOT NULL,
    contract_type       TEXT NOT NULL,
    amount              BIGINT NOT NULL,
    signed_on           TEXT NOT NULL,
    registration_number TEXT,
    landing_enterprise  TEXT NOT NULL,
    landing_region      TEXT NOT NULL,
    milestones          TEXT NOT NULL,
    outcomes            TEXT NOT NULL,
    landed_on           TEXT,
    created_by          TEXT REFERENCES users (id),
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    version             BIGINT NOT NULL
);

CREATE UNIQUE INDEX transfers_registration_number ON transfers (registration_number)
    WHERE registration_number IS NOT NULL;
CREATE INDEX transfers_signed_on ON transfers (signed_on);
CREATE INDEX transfers_need_org ON transfers (need_org_id);
CREATE INDEX transfers_achievement_org ON transfers (achievement_org_id);
-- The statistics read events by time.
CREATE INDEX docking_events_at ON docking_events (at);
