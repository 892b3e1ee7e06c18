#!/usr/bin/env bash
# Provisioning API at scale: create N mailboxes (default 10,000) in one domain
# through the REST API with a few concurrent clients, and at 1,000 and at N
# measure the latency (p50/p99/max over 200 requests each) of a list page of
# 100 (first page and mid-domain), a search page (q), a mailbox show and the
# domain list with usage. The list must stay flat as the domain grows.
#
# Usage: bench/api-mailboxes.sh [N] [CLIENTS]
# Uses $DATABASE_URL when set (give it an empty scratch database),
# otherwise the embedded cluster in a temporary data directory.
#
# Password hashing is ARGON2ID with t=1, m=64 KiB here (MAILHOST_PASSWORD_*),
# so the run measures the API and the database, not argon2: with the default
# m=19 MiB, t=2 each create costs ~30 ms of CPU on its own.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
CLIENTS=${2:-4}
BIN=${BIN:-bin/mailhost}
go build -o "$BIN" ./cmd/mailhost
go build -o bin/apibench ./bench/apibench
PORT=${PORT:-18081}
base=$(mktemp -d /tmp/mailhost-apibench-XXXX); chmod 755 "$base"
pid=""
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	rm -rf "$base"
}
trap cleanup EXIT
export MAILHOST_DATA_DIR="$base/data"
export MAILHOST_LISTEN_HTTP=127.0.0.1:$PORT
for l in SMTP SUBMISSION SUBMISSIONS IMAP IMAPS POP3 POP3S; do export MAILHOST_LISTEN_$l=off; done
export MAILHOST_PASSWORD_SCHEME=ARGON2ID MAILHOST_PASSWORD_ARGON2_TIME=1 MAILHOST_PASSWORD_ARGON2_MEMORY_KIB=64
export MAILHOST_LOG_LEVEL=warn
"$BIN" serve >"$base/log" 2>&1 &
pid=$!
until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; do
	kill -0 "$pid" 2>/dev/null || { cat "$base/log" >&2; exit 1; }
	sleep 0.05
done
echo "bench-admin-password" | "$BIN" admin add bench --super --password-stdin >/dev/null
MAILHOST_TOKEN=$("$BIN" token create bench --name apibench)
export MAILHOST_TOKEN
db=embedded; [ -n "${DATABASE_URL:-}" ] && db=external
echo "mailhost $(git rev-parse --short HEAD 2>/dev/null || echo "(no git)"), $(nproc) CPUs, N=$N, $CLIENTS clients, $db database"
bin/apibench -url "http://127.0.0.1:$PORT" -n "$N" -at "1000,$N" -clients "$CLIENTS"
