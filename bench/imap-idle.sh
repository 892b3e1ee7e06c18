#!/usr/bin/env bash
# Memory per idle IMAP connection: mailhost against Dovecot, in one run.
#
# Starts mailhost (embedded PostgreSQL in a temporary data directory, only the
# IMAP listener on 127.0.0.1:$PORT) with users u1..u100@bench.test / secret,
# then runs ../shared/bench/imap-idle-memory.sh (K connections: LOGIN, SELECT
# INBOX, IDLE; PSS of the server before and after). The measured process is
# mailhost alone (tree:<pid>): its PostgreSQL holds no connection per IMAP
# session (sessions share the pool and one LISTEN connection).
# With BASELINE=1 (root, Dovecot installed) the same measurement runs on the
# private Dovecot of ../shared/bench/stack-up.sh, and the ratio is printed.
#
# Passwords are SHA512-CRYPT on both sides, as in the baseline stack, so the
# logins do not fill the heap with argon2's 19 MiB per hash.
#
# Usage: bench/imap-idle.sh            (K=1000 BASELINE=1 PORT=21143)
set -euo pipefail
cd "$(dirname "$0")/.."
K=${K:-1000} PORT=${PORT:-21143} BASELINE=${BASELINE:-1}
SHARED=$(cd ../shared/bench && pwd)
BIN=${BIN:-bin/mailhost}
go build -o "$BIN" ./cmd/mailhost
base=$(mktemp -d /tmp/mailhost-imapidle-XXXX); chmod 755 "$base"
pid=""
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	rm -rf "$base"
}
trap cleanup EXIT
ulimit -n 20000 2>/dev/null || true
export MAILHOST_DATA_DIR="$base/data" MAILHOST_PASSWORD_SCHEME=SHA512-CRYPT MAILHOST_PASSWORD_SHA512_ROUNDS=5000
export MAILHOST_LISTEN_IMAP=127.0.0.1:$PORT MAILHOST_LISTEN_IMAPS=off MAILHOST_LISTEN_SMTP=off \
	MAILHOST_LISTEN_SUBMISSION=off MAILHOST_LISTEN_SUBMISSIONS=off MAILHOST_LISTEN_POP3=off \
	MAILHOST_LISTEN_POP3S=off MAILHOST_LISTEN_HTTP=off \
	MAILHOST_IMAP_MAX_CONNECTIONS_PER_CLIENT=0 # K connections from one loopback client
"$BIN" serve >"$base/serve.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
	python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $PORT), 1)" 2>/dev/null && break
	sleep 0.2
done
# The admin service wants passwords of 8 characters or more.
PW=benchsecret
"$BIN" domain add bench.test >/dev/null
for i in $(seq 1 100); do
	echo "$PW" | "$BIN" mailbox add "u$i@bench.test" --password-stdin >/dev/null
done
echo "== mailhost: K=$K idle IMAP connections"
K=$K PASSWORD=$PW "$SHARED/imap-idle-memory.sh" 127.0.0.1 "$PORT" u "tree:$pid" | tee "$base/mailhost.out"
ours=$(sed -n 's/.*pss_kb_per_conn=\([0-9.]*\).*/\1/p' "$base/mailhost.out")

[ "$BASELINE" = 1 ] || exit 0
[ "$(id -u)" = 0 ] || { echo "imap-idle.sh: BASELINE=1 needs root (or BASELINE=0)" >&2; exit 1; }
command -v dovecot >/dev/null || { echo "imap-idle.sh: dovecot is not installed (see $SHARED/README.md)" >&2; exit 1; }
if up=$("$SHARED/stack-up.sh" 2>&1); then
	trap 'cleanup; "$SHARED/stack-down.sh" >/dev/null 2>&1 || true' EXIT
elif grep -q "already running" <<<"$up"; then
	echo "(reusing the Dovecot stack that is already running; it is left running)"
else
	echo "$up" >&2
	exit 1
fi
echo "== Dovecot (baseline): K=$K idle IMAP connections"
K=$K "$SHARED/imap-idle-memory.sh" 127.0.0.1 10143 u | tee "$base/dovecot.out"
theirs=$(sed -n 's/.*pss_kb_per_conn=\([0-9.]*\).*/\1/p' "$base/dovecot.out")
awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "RESULT imap_idle_pss_kb_per_conn mailhost=%.1f dovecot=%.1f ratio=1/%.1f\n", a, b, b / a }'
