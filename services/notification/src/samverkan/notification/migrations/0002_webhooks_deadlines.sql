-- Mails: one per event and function; `sending` is committed before the SMTP call, so a crash
-- in between leaves a row that is marked `uncertain` instead of being sent again.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_about_event_key;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_once UNIQUE (about_event, principal, function);
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
    CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'uncertain'));
ALTER TABLE deliveries ADD COLUMN kind text NOT NULL DEFAULT 'referral-arrived';
ALTER TABLE deliveries ADD COLUMN sending_at timestamptz;
CREATE INDEX deliveries_sending ON deliveries (sending_at) WHERE status = 'sending';

-- Integrators' webhook subscriptions, one principal's own (the node's).
CREATE TABLE webhook_subscriptions (
    id                    uuid PRIMARY KEY,
    principal             text        NOT NULL,
    url                   text        NOT NULL,
    event_types           text[]      NOT NULL,
    include_personal_data boolean     NOT NULL DEFAULT false,
    secret                text        NOT NULL,
    created_by            text        NOT NULL,
    created_at            timestamptz NOT NULL,
    deleted_at            timestamptz
);

-- One call per subscription and event, with its attempts: the delivery log.
CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY,
    subscription_id  uuid        NOT NULL REFERENCES webhook_subscriptions (id),
    about_event      uuid        NOT NULL,
    about_type       text        NOT NULL,
    payload          bytea       NOT NULL,
    status           text        NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'uncertain')),
    attempts         integer     NOT NULL DEFAULT 0,
    last_error       text,
    last_status_code integer,
    next_attempt_at  timestamptz NOT NULL,
    sending_at       timestamptz,
    created_at       timestamptz NOT NULL,
    sent_at          timestamptz,
    UNIQUE (subscription_id, about_event)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (subscription_id, created_at);
CREATE INDEX webhook_deliveries_sending ON webhook_deliveries (sending_at) WHERE status = 'sending';

-- Who sent a referral to whom, as far as this principal is a party: follow-up events name only
-- one side, and overdue referrals need both.
CREATE TABLE referral_parties (
    referral_id         uuid PRIMARY KEY,
    sender_principal    text NOT NULL,
    sender_function     text NOT NULL,
    recipient_principal text NOT NULL,
    recipient_function  text NOT NULL
);

-- The deadlines this principal watches: receipt of what it sent, decision on what it received.
CREATE TABLE referral_deadlines (
    referral_id   uuid        NOT NULL REFERENCES referral_parties (referral_id),
    stage         text        NOT NULL CHECK (stage IN ('not-received', 'not-decided')),
    working_days  integer     NOT NULL,
    due_at        timestamptz NOT NULL,
    met_at        timestamptz,
    overdue_event uuid,
    PRIMARY KEY (referral_id, stage)
);
CREATE INDEX referral_deadlines_open ON referral_deadlines (due_at)
    WHERE met_at IS NULL AND overdue_event IS NULL;
