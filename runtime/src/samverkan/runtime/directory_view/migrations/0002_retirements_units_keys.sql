-- Retired entries stay as tombstones, so routing can say what was retired and when; a tombstone
-- of an entry this copy never saw published (e.g. after a republish) has only its id.
-- Units and every principal's signing keys join the map.
ALTER TABLE dir_principals ADD COLUMN retired_at timestamptz,
    ALTER COLUMN name DROP NOT NULL, ALTER COLUMN kind DROP NOT NULL,
    ALTER COLUMN organisation_number DROP NOT NULL;
ALTER TABLE dir_functions ADD COLUMN retired_at timestamptz,
    ALTER COLUMN name DROP NOT NULL, ALTER COLUMN unit DROP NOT NULL,
    ALTER COLUMN unit_name DROP NOT NULL, ALTER COLUMN unit_kind DROP NOT NULL,
    ALTER COLUMN mailbox DROP NOT NULL, ALTER COLUMN valid_from DROP NOT NULL;
ALTER TABLE dir_contacts ADD COLUMN retired_at timestamptz,
    ALTER COLUMN function DROP NOT NULL, ALTER COLUMN counterpart_principal DROP NOT NULL,
    ALTER COLUMN counterpart_function DROP NOT NULL, ALTER COLUMN need DROP NOT NULL,
    ALTER COLUMN valid_from DROP NOT NULL;
CREATE INDEX dir_contacts_mirror ON dir_contacts (counterpart_principal, counterpart_function, need);

CREATE TABLE dir_units (
    principal      text NOT NULL,
    unit           text NOT NULL,
    name           text,
    kind           text,
    hsa_id         text,
    area           text,
    uph_assignment boolean NOT NULL DEFAULT false,
    retired_at     timestamptz,
    PRIMARY KEY (principal, unit)
);

-- A key id names one public key forever; a revocation only ever tightens (never undone).
CREATE TABLE dir_keys (
    principal         text NOT NULL,
    key_id            text NOT NULL,
    algorithm         text,
    public_key        text,
    valid_from        timestamptz,
    valid_to          timestamptz,
    revoked_at        timestamptz,
    reason            text,
    compromised_since timestamptz,
    PRIMARY KEY (principal, key_id)
);
