-- This principal's copy of each referral it sent (outgoing) or received (incoming).
CREATE TABLE referrals (
    id                 uuid PRIMARY KEY,
    direction          text        NOT NULL CHECK (direction IN ('outgoing', 'incoming')),
    sender_principal   text        NOT NULL,
    sender_function    text        NOT NULL,
    recipient_principal text       NOT NULL,
    recipient_function text        NOT NULL,
    need               text        NOT NULL,
    child              jsonb       NOT NULL,
    reason             text        NOT NULL,
    consent            jsonb       NOT NULL,
    status             text        NOT NULL,
    sent_at            timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    decided_by         text,
    rejection          jsonb,
    history            jsonb       NOT NULL DEFAULT '[]'
);
CREATE INDEX referrals_inbox ON referrals (recipient_principal, recipient_function, sent_at DESC);
CREATE INDEX referrals_sent ON referrals (sender_principal, sender_function, sent_at DESC);
