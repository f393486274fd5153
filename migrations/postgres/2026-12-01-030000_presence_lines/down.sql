ALTER TABLE sites DROP COLUMN presence_lines;
