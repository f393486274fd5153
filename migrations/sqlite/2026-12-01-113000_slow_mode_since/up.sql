-- When slow mode was last turned on (ms; 0: never): messages stored before
-- it do not count against it (the writer's check, chat/writer/slow.rs).
ALTER TABLE rooms ADD COLUMN slow_mode_since BIGINT NOT NULL DEFAULT 0;
