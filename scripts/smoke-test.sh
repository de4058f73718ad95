#!/usr/bin/env bash
# The README's first command as a user meets it, on what a deployment holds: the built dist/, public/, data/
# and production dependencies only (so a runtime package listed under devDependencies, or a file missing from
# dist/, fails here). Starts the server on the bundled data, asks a query over HTTP, stops it by its pid.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/bundle/server.cjs ] || npm run build
work=$(mktemp -d)
pid=
cleanup () {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
cp -r package.json package-lock.json dist public data "$work/"
(cd "$work" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
port=$(node -e "const s = require('node:net').createServer().listen(0, () => { console.log(s.address().port); s.close() })")
(cd "$work" && PORT=$port LOG_LEVEL=warn exec node dist/bundle/server.cjs) &
pid=$!
for _ in $(seq 1 300); do
  if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then break; fi
  sleep 0.1
done
answer=$(curl -fsS "http://127.0.0.1:$port/num_sessions?site_url=www.s_1.com")
echo "smoke-test: $answer"
[[ "$answer" =~ ^Num\ sessions\ for\ site\ www\.s_1\.com\ =\ [0-9]+$ ]] || { echo "smoke-test: unexpected answer" >&2; exit 1; }
# Read whole before it is searched: `grep -q` quits at its match, and curl, with the rest of the page still to
# write, then fails (exit 23), which pipefail turned into a failed check now and then.
page=$(curl -fsS "http://127.0.0.1:$port/")
[[ "$page" == *'<title>'* ]] || { echo "smoke-test: no landing page" >&2; exit 1; }
kill -TERM "$pid"
wait "$pid"
pid=
echo "smoke-test: passed"
