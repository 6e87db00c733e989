#!/bin/sh
# Creates or rotates the payload encryption keyring that docker-compose.yml
# mounts as the secret godwit-codec-keys (docs/encryption.md).
#
#   ./deploy/codec-keys.sh          create deploy/secrets/godwit-codec-keys with one new key
#   ./deploy/codec-keys.sh rotate   put a new key first; the older keys stay, to decrypt older payloads
#
# The file holds one "ID:BASE64KEY" line per key, the newest first (the one
# that encrypts). The directory is private to you (0700); the file itself is
# world-readable (0644) because Compose bind-mounts it as it is and the
# worker runs as another user (uid 10001) in its container.
set -eu
dir=$(dirname "$0")/secrets
file=$dir/godwit-codec-keys
mkdir -p "$dir"
chmod 700 "$dir"
id=k$(date -u +%Y%m%d%H%M%S)
key=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
case "${1:-create}" in
create)
	if [ -s "$file" ]; then
		echo "$file exists; to add a new key: $0 rotate" >&2
		exit 1
	fi
	printf '%s:%s\n' "$id" "$key" >"$file"
	;;
rotate)
	if [ ! -s "$file" ]; then
		echo "$file does not exist; create it: $0" >&2
		exit 1
	fi
	tmp=$(mktemp "$dir/.godwit-codec-keys.XXXXXX")
	{ printf '%s:%s\n' "$id" "$key"; cat "$file"; } >"$tmp"
	mv "$tmp" "$file"
	;;
*)
	echo "usage: $0 [rotate]" >&2
	exit 2
	;;
esac
chmod 644 "$file"
echo "$file: encrypting with key $id; keys: $(cut -d: -f1 "$file" | tr '\n' ' ')"
