#!/bin/sh
# Runs once, when compose's Postgres volume is first initialised (the image's
# /docker-entrypoint-initdb.d): CipherTalk's own role, owner of its database but
# no superuser; the image's superuser stays for administration. Migrations need
# no more than an owner (the embedded server runs them the same way).
set -eu
app_role="${CIPHERTALK_DB_USER:-ciphertalk}"
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v app_role="$app_role" -v app_password="$CIPHERTALK_DB_PASSWORD" <<'SQL'
CREATE ROLE :"app_role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'app_password';
SELECT format('ALTER DATABASE %I OWNER TO %I', current_database(), :'app_role') \gexec
ALTER SCHEMA public OWNER TO :"app_role";
SQL
