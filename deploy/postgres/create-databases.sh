#!/bin/sh
# First start of the PostgreSQL server (docker-entrypoint-initdb.d, compose and Kubernetes): one
# login role and one database per service, named after it, with the password in <NAME>_DB_PASSWORD.
# A service's role owns its database and can connect to no other: CONNECT is revoked from PUBLIC,
# so "no service reads another's tables" holds in the server, not only by convention.
set -eu
for name in $SERVICE_DATABASES; do
  var="$(echo "$name" | tr 'a-z-' 'A-Z_')_DB_PASSWORD"
  password="$(printenv "$var" || true)"
  if [ -z "$password" ]; then
    echo "create-databases: $var is not set; refusing to create role $name without a password" >&2
    exit 1
  fi
  # psql variables (:'password', :"name") quote the values, so no value can inject SQL.
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v name="$name" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE CONNECT, TEMPORARY ON DATABASE :"name" FROM PUBLIC;
SQL
  echo "create-databases: role and database $name"
done
