-- SQLite's rooms get AUTOINCREMENT ids, never given twice; PostgreSQL's
-- sequences (BIGSERIAL) never give an id twice already.
SELECT 1;
