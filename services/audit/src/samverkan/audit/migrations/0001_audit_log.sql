-- The audit trail. Each entry commits to the previous one: entry_hash = SHA-256(prev_hash || leaf_hash).
CREATE TABLE audit_log (
    seq                   bigint PRIMARY KEY,
    event_id              uuid        NOT NULL UNIQUE,
    topic                 text        NOT NULL,
    kafka_partition       integer     NOT NULL,
    kafka_offset          bigint      NOT NULL,
    type                  text        NOT NULL,
    source                text        NOT NULL,
    source_principal      text        NOT NULL,
    recipient_principal   text,
    subject               text,
    legal_basis           text        NOT NULL,
    event_time            timestamptz NOT NULL,
    recorded_at           timestamptz NOT NULL,
    personnummer_pseudonym text,
    headers               jsonb       NOT NULL,
    payload               bytea       NOT NULL,
    leaf_hash             bytea       NOT NULL,
    entry_hash            bytea       NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject);
CREATE INDEX audit_log_pseudonym ON audit_log (personnummer_pseudonym);

-- Append-only: the trail refuses every change and removal, whoever asks.
CREATE FUNCTION audit_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END $$;
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse();
