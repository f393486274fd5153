-- Names are now folded for case by Unicode default case folding
-- (CaseFolding.txt) instead of lowercase-of-uppercase: lowercase Cherokee
-- folds to the uppercase letters the confusables table maps, and `ẞ` to `ss`
-- (src/input/names.rs). The server recomputes every key it finds NULL when it
-- starts. Guests' keys are computed at their next hello. The indexes on the
-- keys are not unique: names that collide under the new keys are all kept.
UPDATE participants SET name_key = NULL, name_key_exact = NULL, name_key_upper = NULL WHERE kind <> 'guest';
UPDATE accounts SET name_key = NULL, name_key_exact = NULL, name_key_upper = NULL;
