-- One name per audit action and one way to name a target, whichever surface
-- (panel or command line) made the change.
UPDATE audit_log SET action = 'site.origin_add' WHERE action = 'site.add_origin';
UPDATE audit_log SET action = 'site.origin_remove' WHERE action = 'site.remove_origin';
UPDATE audit_log SET action = 'site.update' WHERE action = 'site.settings';

-- The command line named a room it created by its site; the panel by the room.
UPDATE audit_log
SET target_type = 'room',
    target_id = (
        SELECT CAST(rooms.id AS TEXT) FROM rooms
        WHERE rooms.site_id = audit_log.site_id AND rooms.name = audit_log.details
    )
WHERE action = 'room.create' AND target_type = 'site'
  AND EXISTS (
        SELECT 1 FROM rooms
        WHERE rooms.site_id = audit_log.site_id AND rooms.name = audit_log.details
  );

-- Sites are named by their public key (the panel wrote the numeric id).
UPDATE audit_log
SET target_id = (
        SELECT sites.public_key FROM sites WHERE CAST(sites.id AS TEXT) = audit_log.target_id
    )
WHERE target_type = 'site'
  AND EXISTS (SELECT 1 FROM sites WHERE CAST(sites.id AS TEXT) = audit_log.target_id);
