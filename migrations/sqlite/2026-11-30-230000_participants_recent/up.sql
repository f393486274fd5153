-- The panel lists who was active most recently on a site.
CREATE INDEX participants_site_last_seen ON participants (site_id, last_seen_at);
