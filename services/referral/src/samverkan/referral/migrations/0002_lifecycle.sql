-- The whole lifecycle: sub-status, drafts, purged tombstones, and both copies in one database
-- when sender and recipient share a principal (the primary key becomes id + direction).
ALTER TABLE referrals DROP CONSTRAINT referrals_pkey;
ALTER TABLE referrals ADD PRIMARY KEY (id, direction);
ALTER TABLE referrals
    ALTER COLUMN child DROP NOT NULL,
    ALTER COLUMN reason DROP NOT NULL,
    ALTER COLUMN consent DROP NOT NULL,
    ALTER COLUMN sent_at DROP NOT NULL,
    ADD COLUMN sub_status     text,
    ADD COLUMN consent_id     uuid,
    ADD COLUMN created_at     timestamptz,
    ADD COLUMN outcome        jsonb,
    ADD COLUMN cancellation   text,
    ADD COLUMN contacts       jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN forwarded_from uuid,
    ADD COLUMN superseded_by  uuid,
    ADD COLUMN purged_at      timestamptz;
UPDATE referrals SET created_at = sent_at, consent_id = (consent ->> 'consent_id')::uuid;
ALTER TABLE referrals ALTER COLUMN created_at SET NOT NULL;
CREATE INDEX referrals_consent ON referrals (consent_id) WHERE consent_id IS NOT NULL;

-- Consents this node holds (recorded here) or was told about by the holder's node.
CREATE TABLE consents (
    id               uuid PRIMARY KEY,
    held_here        boolean     NOT NULL,
    holder_principal text        NOT NULL,
    holder_function  text        NOT NULL,
    state            text        NOT NULL,
    child            jsonb,
    scope            jsonb,
    decided_by       text,
    guardians        integer     NOT NULL DEFAULT 0,
    maturity         jsonb,
    recorded_by      text,
    given_at         timestamptz,
    valid_until      date,
    ended_at         timestamptz,
    ended_by         text
);
CREATE INDEX consents_due ON consents (valid_until) WHERE held_here AND state = 'active';
CREATE INDEX consents_holder ON consents (holder_principal, holder_function, given_at DESC);

-- Reports of concern: the reporter's copy and the recipient's, possibly in one database.
CREATE TABLE concern_reports (
    id                  uuid        NOT NULL,
    side                text        NOT NULL CHECK (side IN ('reporter', 'recipient')),
    reporter_principal  text        NOT NULL,
    reporter_function   text        NOT NULL,
    recipient_principal text        NOT NULL,
    recipient_function  text        NOT NULL,
    state               text        NOT NULL,
    submitted_at        timestamptz NOT NULL,
    body                jsonb       NOT NULL,
    PRIMARY KEY (id, side)
);
CREATE INDEX concern_reports_recipient
    ON concern_reports (recipient_principal, recipient_function, submitted_at DESC);
CREATE INDEX concern_reports_reporter
    ON concern_reports (reporter_principal, reporter_function, submitted_at DESC);

-- Anonymous consultations: the requester's copy and the counterpart's.
CREATE TABLE consultations (
    id                    uuid        NOT NULL,
    side                  text        NOT NULL CHECK (side IN ('requester', 'counterpart')),
    requester_principal   text        NOT NULL,
    requester_function    text        NOT NULL,
    counterpart_principal text        NOT NULL,
    counterpart_function  text        NOT NULL,
    answered              boolean     NOT NULL,
    requested_at          timestamptz NOT NULL,
    body                  jsonb       NOT NULL,
    PRIMARY KEY (id, side)
);
CREATE INDEX consultations_counterpart
    ON consultations (counterpart_principal, counterpart_function, requested_at DESC);
CREATE INDEX consultations_requester
    ON consultations (requester_principal, requester_function, requested_at DESC);
