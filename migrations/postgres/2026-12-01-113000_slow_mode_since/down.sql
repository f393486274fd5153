ALTER TABLE rooms DROP COLUMN slow_mode_since;
