-- How a crash replayed where it was found: 'deterministic', 'varies', or
-- NULL when the report did not say. Only open, deterministic crashes count
-- against a feature; other open ones are shown as under triage.
ALTER TABLE crashes ADD COLUMN replay TEXT;
