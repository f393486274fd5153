-- Whether the widget prints "X joined" / "X left" lines (issue 13 item 5).
ALTER TABLE sites ADD COLUMN presence_lines BOOLEAN NOT NULL DEFAULT TRUE;
