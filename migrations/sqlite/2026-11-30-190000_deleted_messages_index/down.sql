DROP INDEX messages_room_deleted;
