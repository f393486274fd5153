-- The keys are recomputed by whichever server starts next.
UPDATE participants SET name_key = NULL, name_key_exact = NULL WHERE kind <> 'guest';
UPDATE accounts SET name_key = NULL, name_key_exact = NULL;
