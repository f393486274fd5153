-- Names are now compared by keys folded for case after the confusable
-- skeleton as well as before it (src/input/names.rs: `My bl0g` is `My blog`).
-- The server recomputes every key it finds NULL when it starts. The indexes on
-- the keys are not unique: names that collide under the new keys are all
-- kept; only a name taken from now on is compared.
UPDATE participants SET name_key = NULL, name_key_exact = NULL WHERE kind <> 'guest';
UPDATE accounts SET name_key = NULL, name_key_exact = NULL;
