-- Promotion requests, maintainers' votes, applied declared tiers, browser
-- sessions, the audit log and the GitHub outbox. Portable SQL, as 0001.

-- A maintainer token may name its holder's GitHub login, so that
-- `/approve` and `/reject` comments on synced issues count as their votes.
ALTER TABLE tokens ADD COLUMN github_login TEXT;

CREATE TABLE promotions (
    id           BIGINT PRIMARY KEY,
    feature      TEXT NOT NULL,
    from_tier    BIGINT NOT NULL,
    to_tier      BIGINT NOT NULL,
    rationale    TEXT NOT NULL,
    rfc_url      TEXT,
    state        TEXT NOT NULL,          -- open | approved | rejected | withdrawn | applied
    filed_by     TEXT NOT NULL,          -- maintainer name
    filed_at     BIGINT NOT NULL,
    decided_by   TEXT,                   -- who made the last state change
    decided_at   BIGINT,
    github_issue BIGINT,                 -- issue number once opened
    github_url   TEXT
);
CREATE INDEX promotions_by_feature ON promotions (feature, state);

-- One vote per maintainer per request; a later vote replaces an earlier one
-- while the request is open.
CREATE TABLE promotion_votes (
    promotion_id BIGINT NOT NULL,
    maintainer   TEXT NOT NULL,
    vote         TEXT NOT NULL,          -- approve | reject
    comment      TEXT,
    source       TEXT NOT NULL,          -- api | web | github
    at           BIGINT NOT NULL,
    PRIMARY KEY (promotion_id, maintainer)
);

-- Declared tiers set by applied promotions. `from_tier` is the policy
-- file's tier it applied to: when the file changes it, the file wins.
CREATE TABLE declared_tiers (
    feature      TEXT PRIMARY KEY,
    from_tier    BIGINT NOT NULL,
    to_tier      BIGINT NOT NULL,
    promotion_id BIGINT NOT NULL,
    applied_by   TEXT NOT NULL,
    applied_at   BIGINT NOT NULL
);

-- Browser sessions for the HTML forms; only a SHA-256 of the cookie value
-- is kept. `csrf` is the synchronizer token every form must echo.
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    token_id   TEXT NOT NULL,
    csrf       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Every action taken through the server, oldest first.
CREATE TABLE audit_log (
    seq          BIGINT PRIMARY KEY,
    at           BIGINT NOT NULL,
    actor        TEXT NOT NULL,          -- maintainer name, github:<login>, or tierwatch
    action       TEXT NOT NULL,
    promotion_id BIGINT,
    detail       TEXT NOT NULL
);
CREATE INDEX audit_by_promotion ON audit_log (promotion_id, seq);

-- GitHub operations waiting to be done, in order per request. A row leaves
-- only when GitHub acknowledged it (done_at set).
CREATE TABLE github_outbox (
    seq          BIGINT PRIMARY KEY,
    promotion_id BIGINT NOT NULL,
    op           TEXT NOT NULL,          -- open | comment | close | refresh
    body         TEXT NOT NULL,
    attempts     BIGINT NOT NULL,
    not_before   BIGINT NOT NULL,
    last_error   TEXT,
    done_at      BIGINT
);
CREATE INDEX github_outbox_pending ON github_outbox (done_at, seq);

-- The newest issue comment read back per request.
CREATE TABLE github_cursor (
    promotion_id    BIGINT PRIMARY KEY,
    last_comment_id BIGINT NOT NULL,
    polled_at       BIGINT NOT NULL
);
