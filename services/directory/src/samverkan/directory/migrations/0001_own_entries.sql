-- The entries this principal is authoritative for, as last published (one row per event key).
CREATE TABLE own_entries (
    key          text PRIMARY KEY,
    type         text  NOT NULL,
    payload      jsonb NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now()
);
