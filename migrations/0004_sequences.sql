-- Row numbers drawn from one counter row per numbered table, instead of
-- `MAX(seq) + 1` read inside the inserting transaction: on PostgreSQL two
-- concurrent transactions read the same maximum and one failed on the
-- primary key. `UPDATE ... RETURNING` locks the counter row until commit,
-- so concurrent writers queue on it and each gets its own number (SQLite
-- serialises writers anyway). Portable SQL, as 0001.
CREATE TABLE sequences (
    name       TEXT PRIMARY KEY,         -- the numbered table (and column)
    last_value BIGINT NOT NULL           -- the number given out last
);
INSERT INTO sequences (name, last_value) SELECT 'audit_log.seq', COALESCE(MAX(seq), 0) FROM audit_log;
INSERT INTO sequences (name, last_value) SELECT 'github_outbox.seq', COALESCE(MAX(seq), 0) FROM github_outbox;
INSERT INTO sequences (name, last_value) SELECT 'promotions.id', COALESCE(MAX(id), 0) FROM promotions;
