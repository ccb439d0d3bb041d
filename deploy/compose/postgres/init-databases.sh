#!/usr/bin/env bash
# First start of a principal's Postgres only: one login role and one database per Samverkan
# service, each owned by its role, so no service can read another's data.
set -euo pipefail

for service in directory referral notification audit; do
    variable="SAMVERKAN_DB_PASSWORD_${service^^}"
    password="${!variable:?${variable} is not set (secrets/<principal>/postgres.env)}"
    psql --variable=ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
        --set=role="${service}" --set=password="${password}" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"role" OWNER :"role";
REVOKE ALL ON DATABASE :"role" FROM PUBLIC;
SQL
done
