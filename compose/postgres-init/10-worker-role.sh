#!/bin/sh
# compose/postgres-init/10-worker-role.sh -- run by the postgres image once,
# when its data volume is created: the workers' own login role.  It owns
# nothing; `order-worker migrate` (the migrate service, as POSTGRES_USER)
# grants it only what a worker needs.  The password is read from the secret
# file POSTGRES_WORKER_PASSWORD_FILE and reaches psql as a variable on
# stdin, never on a command line.
set -eu
pw=$(cat "${POSTGRES_WORKER_PASSWORD_FILE:?POSTGRES_WORKER_PASSWORD_FILE is not set}")
if [ -z "$pw" ]; then
    echo "10-worker-role.sh: $POSTGRES_WORKER_PASSWORD_FILE is empty" >&2
    exit 1
fi
# Inside psql's single quotes a backslash starts an escape and a quote is
# written twice.
quoted=$(printf '%s' "$pw" | sed -e 's/\\/\\\\/g' -e "s/'/''/g")
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v role="$POSTGRES_WORKER_USER" <<SQL
\\set pw '$quoted'
CREATE ROLE :"role" LOGIN PASSWORD :'pw';
SQL
