#!/usr/bin/env bash
# Fetch Amazon's DynamoDB Local from the npm registry (it ships inside amplify-dynamodb-simulator),
# check the tarball against the pinned integrity, and extract only the emulator into DEST.
# Idempotent: does nothing when DEST already holds the expected jar.
set -euo pipefail

PACKAGE="amplify-dynamodb-simulator@2.9.30"
INTEGRITY="sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ=="
JAR_SHA256="454305e9bc3e6ebcca5b62569869e31563b8d7e346474e94557b2600702146c7"
DEST="${1:-.local/dynamodb-local}"

jar_ok() {
  [ -f "$DEST/DynamoDBLocal.jar" ] && [ -d "$DEST/DynamoDBLocal_lib" ] &&
    echo "$JAR_SHA256  $DEST/DynamoDBLocal.jar" | sha256sum --check --status
}

if jar_ok; then
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "fetching DynamoDB Local ($PACKAGE) ..." >&2
(cd "$work" && npm pack --silent "$PACKAGE" >/dev/null)
tarball="$(ls "$work"/*.tgz)"

actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$actual" != "$INTEGRITY" ]; then
  echo "integrity mismatch for $PACKAGE: expected $INTEGRITY, got $actual" >&2
  exit 1
fi

rm -rf "$DEST"
mkdir -p "$DEST"
tar -xzf "$tarball" -C "$DEST" --strip-components=2 package/emulator
if ! jar_ok; then
  echo "DynamoDBLocal.jar in $PACKAGE does not have the expected sha256 $JAR_SHA256" >&2
  exit 1
fi
echo "DynamoDB Local ready in $DEST" >&2
