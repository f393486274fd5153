-- The old names are not restored: which surface wrote a row is not recorded,
-- and the code before this migration reads any name.
SELECT 1;
