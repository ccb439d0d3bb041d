-- One row per mail to send; written with the inbox record of the event it is about.
CREATE TABLE deliveries (
    id              uuid PRIMARY KEY,
    about_event     uuid        NOT NULL UNIQUE,
    about_type      text        NOT NULL,
    principal       text        NOT NULL,
    function        text        NOT NULL,
    mailbox         text        NOT NULL,
    subject         text        NOT NULL,
    body            text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
