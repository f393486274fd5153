DROP TABLE room_holds;
