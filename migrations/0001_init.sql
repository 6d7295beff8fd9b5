-- tierwatch's store. Portable SQL: the same file runs on SQLite and
-- PostgreSQL. Instants are Unix milliseconds (BIGINT), flags are 0/1.

-- Bearer tokens. Only a SHA-256 of the secret is kept.
CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    role        TEXT NOT NULL,           -- runner | maintainer
    targets     TEXT NOT NULL,           -- comma-separated triples, or *
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

-- One row per accepted run report; `report` is the report as sent (JSON),
-- the source of truth the matrix is recomputed from.
CREATE TABLE runs (
    run_id         TEXT PRIMARY KEY,
    body_sha256    TEXT NOT NULL,
    token_id       TEXT NOT NULL,
    runner         TEXT NOT NULL,
    target         TEXT NOT NULL,
    compiler       TEXT NOT NULL,
    engine_version TEXT NOT NULL,
    emulated       BIGINT NOT NULL,
    started_at     BIGINT NOT NULL,
    finished_at    BIGINT NOT NULL,
    received_at    BIGINT NOT NULL,
    state          TEXT NOT NULL,        -- received | evaluated | rejected
    state_reason   TEXT,
    passed         BIGINT NOT NULL,
    failed         BIGINT NOT NULL,
    skipped        BIGINT NOT NULL,
    report         TEXT NOT NULL
);
CREATE INDEX runs_by_target ON runs (target, compiler, finished_at);

-- Every directive outcome, for run-to-run diffs and flake detection.
CREATE TABLE directives (
    run_id  TEXT NOT NULL,
    test    TEXT NOT NULL,               -- suite/file for spec, suite/test for WASI
    line    BIGINT NOT NULL,             -- 0 for WASI programs
    kind    TEXT NOT NULL,
    outcome TEXT NOT NULL,               -- pass | fail | skip
    message TEXT
);
CREATE INDEX directives_by_run ON directives (run_id, test, line);

CREATE TABLE fuzz_campaigns (
    run_id        TEXT NOT NULL,
    name          TEXT NOT NULL,
    oracle        TEXT NOT NULL,
    seed          BIGINT NOT NULL,
    iterations    BIGINT NOT NULL,
    valid_modules BIGINT NOT NULL,
    duration_secs DOUBLE PRECISION NOT NULL,
    exercised     TEXT NOT NULL,         -- JSON object: feature -> operator count
    PRIMARY KEY (run_id, name)
);

CREATE TABLE crashes (
    run_id     TEXT NOT NULL,
    campaign   TEXT NOT NULL,
    signature  TEXT NOT NULL,
    message    TEXT NOT NULL,
    hits       BIGINT NOT NULL,
    is_open    BIGINT NOT NULL,
    reproducer TEXT,
    PRIMARY KEY (run_id, campaign, signature)
);

-- Every change of a feature's earned tier or status, with what caused it.
CREATE TABLE feature_history (
    feature  TEXT NOT NULL,
    at       BIGINT NOT NULL,
    seq      BIGINT NOT NULL,
    declared BIGINT NOT NULL,
    earned   BIGINT,                     -- NULL: no tier
    status   TEXT NOT NULL,
    missing  TEXT NOT NULL,              -- JSON array of requirement texts
    cause    TEXT NOT NULL,              -- run id, or "clock" / "start"
    PRIMARY KEY (feature, seq)
);
