#!/bin/sh
# compose/postgres-init/10-worker-role.sh -- run by the postgres image once,
# when its data volume is created: the workers' own login role.  It owns
# nothing; `order-worker migrate` (the migrate service, as POSTGRES_USER)
# grants it only what a worker needs.  The password reaches psql as a
# variable on stdin, never on a command line.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v role="$POSTGRES_WORKER_USER" -v pw="$POSTGRES_WORKER_PASSWORD" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'pw';
SQL
