-- The keys are recomputed by whichever server starts next.
UPDATE participants SET name_key = NULL, name_key_exact = NULL, name_key_upper = NULL WHERE kind <> 'guest';
UPDATE accounts SET name_key = NULL, name_key_exact = NULL, name_key_upper = NULL;
