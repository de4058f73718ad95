#!/usr/bin/env bash
# Installs chDB, current ClickHouse as a library, for the test that runs the ClickHouse backend's SQL on the
# current generation as well as on Debian's clickhouse-server 18.16. Kept out of the project's dependencies
# (it is some 550 MB), in the git-ignored .tools/chdb, and installed once.
set -euo pipefail
VERSION=3.4.0
DIR="$(cd "$(dirname "$0")/.." && pwd)/.tools/chdb"
if [ -f "$DIR/node_modules/chdb/package.json" ] && grep -q "\"version\": \"$VERSION\"" "$DIR/node_modules/chdb/package.json"; then exit 0; fi
echo "ensure-chdb: installing chdb $VERSION into $DIR for the ClickHouse SQL test"
mkdir -p "$DIR"
echo '{ "private": true }' > "$DIR/package.json"
npm install --prefix "$DIR" --no-save --no-audit --no-fund --loglevel=error "chdb@$VERSION" >/dev/null
