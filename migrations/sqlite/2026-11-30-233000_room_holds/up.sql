-- Rooms a running server has someone in, while nobody has written in them
-- yet: a prune (from any instance's panel, or the command line, a separate
-- process) leaves them alone. Each server renews its rows while it holds the
-- room and deletes them when the room empties; a crashed server's rows expire.
CREATE TABLE room_holds (
    room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    instance BIGINT NOT NULL,
    until BIGINT NOT NULL,
    PRIMARY KEY (room_id, instance)
);
