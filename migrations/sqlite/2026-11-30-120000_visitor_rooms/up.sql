-- Rooms a visitor opened by joining them (as opposed to rooms an admin
-- created). Until someone writes in one, it does not count toward the site's
-- room quota and may be pruned. Existing rooms are kept as they are.
ALTER TABLE rooms ADD COLUMN visitor_created BOOLEAN NOT NULL DEFAULT FALSE;
