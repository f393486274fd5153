-- The keys go back to NULL, so that the server version now starting computes
-- them its own way.
UPDATE participants SET name_key = NULL, name_key_exact = NULL WHERE kind <> 'guest';
UPDATE accounts SET name_key = NULL, name_key_exact = NULL;
