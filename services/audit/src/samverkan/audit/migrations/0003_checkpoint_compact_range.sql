-- Each checkpoint keeps its tree's compact range (the roots of its perfect subtrees, largest
-- first): the next checkpoint extends it with the new leaves instead of reading the whole log.
-- Checkpoints signed before this column existed have none; the next one reads every leaf once.
ALTER TABLE audit_checkpoints ADD COLUMN compact_range bytea[];
