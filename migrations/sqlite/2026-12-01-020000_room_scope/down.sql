ALTER TABLE sites DROP COLUMN room_scope;
