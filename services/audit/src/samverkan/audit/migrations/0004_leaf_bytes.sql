-- Each entry keeps its leaf: the exact canonical bytes its leaf hash covers. `verify` then rehashes
-- the stored leaves instead of rebuilding each one from twenty columns.
--
-- The check binds every searchable column to the entry's leaf, so a column cannot say other than
-- the leaf it sits beside. `verify` trusts it only while it is in place and validated with exactly
-- this expression (store.LEAF_CHECK); otherwise, and with `verify --full`, it rebuilds every entry
-- from its columns. Entries written before this migration have no leaf and are always rebuilt.
ALTER TABLE audit_log ADD COLUMN leaf bytea;
-- A typical entry (leaf, payload and columns: ~3 KB) stays whole in its row, uncompressed: no
-- compression on append, no TOAST lookup on verify, for about a third more space.
ALTER TABLE audit_log SET (toast_tuple_target = 8160);
ALTER TABLE audit_log ADD CONSTRAINT audit_log_leaf_matches CHECK (
    leaf IS NULL OR convert_from(leaf, 'UTF8')::jsonb = jsonb_build_object(
        'seq', seq, 'event_id', event_id, 'topic', topic, 'partition', kafka_partition,
        'offset', kafka_offset, 'type', type, 'source', source,
        'source_principal', source_principal, 'recipient_principal', recipient_principal,
        'subject', subject, 'legal_basis', legal_basis,
        'event_time', to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
        'recorded_at', to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
        'personnummer_pseudonym', personnummer_pseudonym, 'headers', headers,
        'payload', encode(payload, 'hex')
    ) || jsonb_strip_nulls(jsonb_build_object(
        'payload_sha256', encode(payload_sha256, 'hex'), 'actor', actor
    ))
);
