-- Feature history rows numbered from the `sequences` counter (0004)
-- instead of `MAX(seq) + 1` per feature read inside the insert: two servers
-- on one PostgreSQL appending history for the same feature would otherwise
-- read the same maximum and one would fail on the primary key. The counter
-- starts above every number given so far, so (feature, seq) stays unique
-- and each feature's rows keep their order. Portable SQL, as 0001.
INSERT INTO sequences (name, last_value) SELECT 'feature_history.seq', COALESCE(MAX(seq), 0) FROM feature_history;
