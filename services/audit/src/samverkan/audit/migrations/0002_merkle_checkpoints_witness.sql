-- Every append-only table names itself when it refuses a change.
CREATE OR REPLACE FUNCTION audit_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$;

-- Others' payloads are not kept, only their SHA-256; the acting person is indexed for auditors.
ALTER TABLE audit_log ALTER COLUMN payload DROP NOT NULL;
ALTER TABLE audit_log ADD COLUMN payload_sha256 bytea;
ALTER TABLE audit_log ADD COLUMN actor text;
CREATE INDEX audit_log_actor ON audit_log (actor);
CREATE INDEX audit_log_type ON audit_log (type);
CREATE INDEX audit_log_pair ON audit_log (source_principal, recipient_principal, event_time);

-- This log's signed checkpoints (tree size, RFC 6962 root, the C2SP signed note).
CREATE TABLE audit_checkpoints (
    tree_size   bigint PRIMARY KEY,
    root_hash   bytea       NOT NULL,
    note        text        NOT NULL,
    signed_at   timestamptz NOT NULL
);

-- Cosignatures other principals' witnesses gave this log's checkpoints: a checkpoint is final
-- once it has one.
CREATE TABLE audit_cosignatures (
    tree_size     bigint      NOT NULL REFERENCES audit_checkpoints (tree_size),
    witness       text        NOT NULL,
    line          text        NOT NULL,
    witnessed_at  timestamptz NOT NULL,
    PRIMARY KEY (tree_size, witness)
);

-- As a witness: every checkpoint of another principal's log this node verified and cosigned.
CREATE TABLE audit_witnessed (
    id          bigserial PRIMARY KEY,
    principal   text        NOT NULL,
    origin      text        NOT NULL,
    tree_size   bigint      NOT NULL,
    root_hash   bytea       NOT NULL,
    witnessed_at timestamptz NOT NULL
);
CREATE INDEX audit_witnessed_latest ON audit_witnessed (principal, id DESC);

CREATE TRIGGER audit_checkpoints_no_update_delete BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse();
CREATE TRIGGER audit_cosignatures_no_update_delete BEFORE UPDATE OR DELETE ON audit_cosignatures
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse();
CREATE TRIGGER audit_cosignatures_no_truncate BEFORE TRUNCATE ON audit_cosignatures
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse();
CREATE TRIGGER audit_witnessed_no_update_delete BEFORE UPDATE OR DELETE ON audit_witnessed
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse();
CREATE TRIGGER audit_witnessed_no_truncate BEFORE TRUNCATE ON audit_witnessed
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse();
