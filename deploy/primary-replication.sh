#!/bin/sh
# Run once by the postgres image when it initialises the primary's data directory
# (/docker-entrypoint-initdb.d): lets the db-replica service stream WAL from it.
set -eu
echo "host replication postgres all scram-sha-256" >> "$PGDATA/pg_hba.conf"
