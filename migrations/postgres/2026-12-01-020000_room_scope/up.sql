-- Which room a widget without data-room joins: 'site' (one room for the whole
-- site, `lobby`) or 'page' (each page its own room, named after its path).
-- Sites made before the setting keep what their pages have been doing.
ALTER TABLE sites ADD COLUMN room_scope TEXT NOT NULL DEFAULT 'page';
