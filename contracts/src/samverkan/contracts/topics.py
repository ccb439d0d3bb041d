"""Topic names. The major version is part of the name: a breaking change gets a new topic."""

DIRECTORY = "samverkan.directory.v1"
REFERRAL = "samverkan.referral.v1"
CONSENT = "samverkan.consent.v1"
CONCERN = "samverkan.concern.v1"
CONSULTATION = "samverkan.consultation.v1"
NOTIFICATION = "samverkan.notification.v1"
AUDIT = "samverkan.audit.v1"
DEAD_LETTER = "samverkan.deadletter.v1"

ALL = (
    DIRECTORY,
    REFERRAL,
    CONSENT,
    CONCERN,
    CONSULTATION,
    NOTIFICATION,
    AUDIT,
    DEAD_LETTER,
)

# What every node provisions when a topic is missing (runtime KAFKA_TOPIC_PARTITIONS).
DEFAULT_PARTITIONS = 3

# One topic per domain: each has its own data classification, so a backbone operator can grant
# an integrator one topic (say, anonymous consultations) without the others.
DESCRIPTIONS: dict[str, str] = {
    DIRECTORY: "Principals, units, functions, formalised contacts and signing keys. Public data; "
    "every node replays it from the beginning to build its map of the network.",
    REFERRAL: "The life of a referral (remiss / samverkansförfrågan) from sending to completion. "
    "Carries personal data under the child's or guardians' consent.",
    CONSENT: "Consent (samtycke) given, withdrawn and expired. A withdrawal must stop processing "
    "at every recipient in the consent's scope.",
    CONCERN: "Reports of concern (orosanmälan) from school staff to social services and the "
    "feedback to the reporter. Personal data under the duty to report, not consent.",
    CONSULTATION: "Anonymous consultations (konsultation): questions and answers about a "
    "situation, never about an identifiable child.",
    NOTIFICATION: "What each node's notification service delivered or failed to deliver. "
    "No personal data.",
    AUDIT: "Signed and witnessed checkpoints of each principal's audit log, and logged accesses "
    "to personal data.",
    DEAD_LETTER: "Records a consumer could not accept, kept whole (bytes, position, reason) for "
    "inspection and replay. May hold personal data: restrict access.",
}
