-- Names are now compared without their nonspacing marks (src/input/names.rs):
-- the server recomputes every key it finds NULL when it starts.
UPDATE participants SET name_key = NULL, name_key_exact = NULL WHERE kind <> 'guest';
UPDATE accounts SET name_key = NULL, name_key_exact = NULL;
