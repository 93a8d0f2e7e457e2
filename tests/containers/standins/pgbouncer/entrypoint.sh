#!/bin/sh
# The test bed's stand-in for edoburu/pgbouncer's entrypoint, written for this project: the
# variables its compose file sets, one database, passwords in clear in the auth file (which
# PgBouncer accepts for scram-sha-256).
set -eu
printf '"%s" "%s"\n' "${DB_USER:?}" "${DB_PASSWORD:?}" > /etc/pgbouncer/userlist.txt
cat > /etc/pgbouncer/pgbouncer.ini <<INI
[databases]
${DB_NAME:-*} = host=${DB_HOST:?} port=${DB_PORT:-5432}

[pgbouncer]
listen_addr = 0.0.0.0
listen_port = 5432
unix_socket_dir =
auth_file = /etc/pgbouncer/userlist.txt
auth_type = ${AUTH_TYPE:-md5}
pool_mode = ${POOL_MODE:-session}
max_client_conn = ${MAX_CLIENT_CONN:-100}
default_pool_size = ${DEFAULT_POOL_SIZE:-20}
ignore_startup_parameters = extra_float_digits
INI
exec "$@"
