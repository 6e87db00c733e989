#!/bin/sh
# Creates the files that docker-compose.yml mounts as secrets and that are
# not in git (deploy/secrets/ is ignored), each only when it is missing, so
# running it again changes nothing:
#
#   deploy/secrets/godwit-codec-keys       the payload encryption keyring (./deploy/codec-keys.sh)
#   deploy/secrets/godwit-gateway-token    the gateway admin API's bearer token
#   deploy/secrets/godwit-dashboard-token  the dashboard's bearer token for actions
#
# The directory is private to you (0700); the files are world-readable (0644)
# because Compose bind-mounts them as they are and the services run as
# another user (uid 10001) in their containers.
set -eu
here=$(dirname "$0")
dir=$here/secrets
mkdir -p "$dir"
chmod 700 "$dir"
if [ ! -s "$dir/godwit-codec-keys" ]; then
	"$here/codec-keys.sh"
fi
for name in godwit-gateway-token godwit-dashboard-token; do
	file=$dir/$name
	if [ -s "$file" ]; then
		continue
	fi
	tmp=$(mktemp "$dir/.$name.XXXXXX")
	head -c 32 /dev/urandom | base64 | tr -d '\n' >"$tmp"
	chmod 644 "$tmp"
	mv "$tmp" "$file"
	echo "$file: created"
done
