-- Maintainers are people, not tokens: a person (a chosen handle, with the
-- GitHub login their comments vote with) holds any number of tokens, votes
-- once per request whichever token they use, never approves a request they
-- filed with another token, and is revoked as a whole. Votes and filings
-- name the person. Portable SQL, as 0001.
CREATE TABLE people (
    handle       TEXT PRIMARY KEY,
    github_login TEXT,                   -- unique among people, ignoring case (checked on creation)
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
ALTER TABLE tokens ADD COLUMN person TEXT;   -- maintainer tokens: the holder's handle

-- Until now a maintainer was their token's name: each name becomes a person.
INSERT INTO people (handle, github_login, created_at)
    SELECT name, MIN(github_login), MIN(created_at) FROM tokens WHERE role = 'maintainer' GROUP BY name;
UPDATE tokens SET person = name WHERE role = 'maintainer';
