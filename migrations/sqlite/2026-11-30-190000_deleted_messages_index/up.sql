-- Resumed welcomes list the messages deleted while a client was away
-- (src/chat/rooms.rs): only deleted rows are indexed.
CREATE INDEX messages_room_deleted ON messages (room_id, deleted_at) WHERE deleted_at IS NOT NULL;
