#!/bin/sh
# Registers Godwit's search attributes (MigrationPhase and MigrationStatus,
# both Keyword; ReplicationLag, Double) in a Temporal namespace, then exits. It is the
# register-search-attributes service of docker-compose.yml and runs in the
# temporalio/admin-tools image; it works anywhere the temporal CLI is.
#
# Idempotent: it lists the namespace's attributes first and creates only the
# missing ones. Temporal may report healthy before auto-setup has created the
# namespace, so a failed list or create is retried (every 2 s, ATTEMPTS
# times) before it gives up with the CLI's error.
#
# Environment: TEMPORAL_ADDRESS (default temporal:7233), TEMPORAL_NAMESPACE
# (default default), ATTEMPTS (default 60).
set -eu

address=${TEMPORAL_ADDRESS:-temporal:7233}
namespace=${TEMPORAL_NAMESPACE:-default}
attempts=${ATTEMPTS:-60}
names="MigrationPhase MigrationStatus ReplicationLag"

# typeof prints the type a name is registered with.
typeof() {
  case $1 in
    ReplicationLag) echo Double ;;
    *) echo Keyword ;;
  esac
}

# missing prints the names not registered yet, one a line; it fails when
# the list fails.
missing() {
  list=$(temporal operator search-attribute list \
    --address "$address" --namespace "$namespace" --output json) || return 1
  for name in $names; do
    printf '%s\n' "$list" | grep -q "\"$name\"" || printf '%s\n' "$name"
  done
}

i=1
while :; do
  if todo=$(missing); then
    if [ -z "$todo" ]; then
      echo "search attributes $names already registered in namespace $namespace"
      exit 0
    fi
    set -- --address "$address" --namespace "$namespace"
    for name in $todo; do
      set -- "$@" --name "$name" --type "$(typeof "$name")"
    done
    if temporal operator search-attribute create "$@"; then
      echo "registered $(printf '%s' "$todo" | tr '\n' ' ') in namespace $namespace"
      exit 0
    fi
  fi
  if [ "$i" -ge "$attempts" ]; then
    echo "gave up registering search attributes in namespace $namespace at $address after $i attempts" >&2
    exit 1
  fi
  echo "Temporal at $address is not ready for namespace $namespace yet (attempt $i of $attempts); retrying in 2s"
  i=$((i + 1))
  sleep 2
done
