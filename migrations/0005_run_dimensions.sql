-- Run dimensions beyond target and compiler (a no_std build, an interpreter
-- backend): `name=value` of each dimension away from its policy default,
-- comma-separated, '' for an ordinary run. Two runs are comparable (the
-- run diff, flake detection) only when target, compiler and dimensions
-- agree. Runs stored before dimensions existed are ordinary runs.
ALTER TABLE runs ADD COLUMN dimensions TEXT NOT NULL DEFAULT '';
CREATE INDEX runs_by_variant ON runs (target, compiler, dimensions, finished_at);
