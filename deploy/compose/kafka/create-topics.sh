#!/usr/bin/env bash
# Creates Samverkan's topics before any service starts, with the retention each one needs.
# The services would create missing topics themselves, but with the broker's default retention
# (7 days). The directory topic is the replayable state of every principal's directory, and the
# state topics are what a read model or the audit trail is rebuilt from, so they never expire.
# Dead letters may hold personal data: kept 30 days for inspection (audit records each one).
# `deploy.check` fails when this list and samverkan.contracts.topics disagree.
set -euo pipefail

bootstrap="${BOOTSTRAP_SERVERS:-kafka:9092}"
replication="${REPLICATION_FACTOR:-1}"
bin=/opt/kafka/bin

topic() {
    local name="$1"; shift
    "${bin}/kafka-topics.sh" --bootstrap-server "${bootstrap}" --create --if-not-exists \
        --topic "${name}" --partitions 3 --replication-factor "${replication}"
    if [[ $# -gt 0 ]]; then  # also corrects a topic that exists with other settings
        "${bin}/kafka-configs.sh" --bootstrap-server "${bootstrap}" --alter \
            --entity-type topics --entity-name "${name}" --add-config "$1"
    fi
}

topic samverkan.directory.v1 retention.ms=-1
topic samverkan.referral.v1 retention.ms=-1
topic samverkan.consent.v1 retention.ms=-1
topic samverkan.concern.v1 retention.ms=-1
topic samverkan.consultation.v1 retention.ms=-1
topic samverkan.audit.v1 retention.ms=-1
topic samverkan.notification.v1
topic samverkan.deadletter.v1 retention.ms=2592000000
