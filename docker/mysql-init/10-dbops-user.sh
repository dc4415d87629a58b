#!/bin/bash
# Run once by the mysql:8.4 image's entrypoint on an empty datadir (compose.yaml mounts
# this directory at /docker-entrypoint-initdb.d): creates the backup account with only
# what dbops needs on MySQL 8.4 (see src/doctor/required-grants.ts). The password comes
# from the environment and reaches the server through stdin, never argv.
set -euo pipefail
pw=${DBOPS_DB_PASSWORD:?set DBOPS_DB_PASSWORD}
pw=${pw//\\/\\\\}
pw=${pw//\'/\'\'}
docker_process_sql --database=mysql <<SQL
CREATE USER IF NOT EXISTS 'dbops'@'%' IDENTIFIED BY '${pw}';
GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, RELOAD, PROCESS, REPLICATION CLIENT, REPLICATION SLAVE ON *.* TO 'dbops'@'%';
SQL
