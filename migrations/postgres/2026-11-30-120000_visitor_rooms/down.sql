ALTER TABLE rooms DROP COLUMN visitor_created;
