"""Topic names. The major version is part of the name: a breaking change gets a new topic."""

DIRECTORY = "samverkan.directory.v1"
REFERRAL = "samverkan.referral.v1"
NOTIFICATION = "samverkan.notification.v1"
DEAD_LETTER = "samverkan.deadletter.v1"

ALL = (DIRECTORY, REFERRAL, NOTIFICATION, DEAD_LETTER)
