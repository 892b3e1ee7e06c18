#!/usr/bin/env bash
# Sending mail: authenticated submission throughput and queue drain rate,
# against Postfix's smtp-sink as the relay host (so only mailhost is
# measured, not a receiving server).
#
# 1. submission: N messages of SIZE bytes from C concurrent sessions (AUTH
#    PLAIN on loopback, PER messages per connection) to a remote address;
#    reports accepted messages/s (each 250 means durably queued) and the
#    time until the queue is empty (end to end, via smtp-sink).
# 2. drain: N messages inserted into the queue on hold in one SQL
#    statement, then released at once: reports delivered messages/s until
#    the queue is empty (queue.workers, default 20; includes up to one
#    poll interval, 1 s, before the workers notice), the CPU per message
#    mailhost and PostgreSQL used for it, and mailhost's read and write
#    system calls per message (exact, unlike CPU on a busy machine).
#
# Usage: bench/submission.sh   (as root or not; ~1 min)
# (with DKIM signing: dkim.sign, on by default; MAILHOST_DKIM_SIGN=false turns it off)
# PGSS=1: load pg_stat_statements into this run's embedded PostgreSQL and
# print the statements of the submission step per message (pgss.txt).
# Last line: the connections and messages smtp-sink saw (queue.connection_cache).
# Env: N=2000 C=20 PER=20 SIZE=4096 WORKERS=20 BIN=bin/mailhost PORT=22587 SINK_PORT=22525
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000} C=${C:-20} PER=${PER:-20} SIZE=${SIZE:-4096} WORKERS=${WORKERS:-20}
BIN=${BIN:-bin/mailhost}
PORT=${PORT:-22587} SINK_PORT=${SINK_PORT:-22525}
[ -x /usr/sbin/smtp-sink ] || { echo "submission.sh: smtp-sink missing (make setup installs postfix)" >&2; exit 1; }
go build -o "$BIN" ./cmd/mailhost
go build -o bin/subbench ./bench/subbench
work=$(mktemp -d /tmp/mailhost-submission.XXXXXX); chmod 755 "$work"
pid="" sinkpid=""
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[ -n "$sinkpid" ] && kill "$sinkpid" 2>/dev/null && wait "$sinkpid" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$work"
	true
}
trap cleanup EXIT
sinkuser=(); [ "$(id -u)" = 0 ] && sinkuser=(-u nobody)
/usr/sbin/smtp-sink "${sinkuser[@]}" -c 127.0.0.1:$SINK_PORT 256 >"$work/sink.log" 2>&1 &
sinkpid=$!

export MAILHOST_DATA_DIR=$work/data MAILHOST_HOSTNAME=mail.bench.test MAILHOST_LOG_LEVEL=warn
export MAILHOST_SMTP_RELAYHOST="[127.0.0.1]:$SINK_PORT" MAILHOST_QUEUE_WORKERS=$WORKERS
export MAILHOST_PASSWORD_SCHEME=ARGON2ID MAILHOST_PASSWORD_ARGON2_TIME=1 MAILHOST_PASSWORD_ARGON2_MEMORY_KIB=64
for l in SMTP SUBMISSIONS IMAP IMAPS POP3 POP3S HTTP MANAGESIEVE; do export MAILHOST_LISTEN_$l=off; done
export MAILHOST_LISTEN_SUBMISSION=127.0.0.1:$PORT
unset DATABASE_URL
"$BIN" domain add bench.test >/dev/null
echo "bench-password-1" | "$BIN" mailbox add bench@bench.test --password-stdin >/dev/null
psql_() { psql -qAt -v ON_ERROR_STOP=1 "host=$work/data/postgres dbname=mailhost user=mailhost" "$@"; }
if [ "${PGSS:-}" = 1 ]; then # the cluster exists now; the library loads at serve's start
	printf '%s\n' "shared_preload_libraries = 'pg_stat_statements'" "pg_stat_statements.track = all" \
		"pg_stat_statements.track_planning = on" "pg_stat_statements.max = 5000" >>"$work/data/postgres/postgresql.conf"
fi
# pgss_report: the statements run since the reset, per message submitted.
pgss_report() {
	psql -X -v ON_ERROR_STOP=1 -v n="$N" "host=$work/data/postgres dbname=mailhost user=mailhost" >"$work/pgss.txt" <<-'SQL'
		SELECT sum(calls) AS calls, round(sum(calls) / :n, 2) AS per_msg,
		       round(sum(total_exec_time)::numeric / :n, 3) AS exec_ms_per_msg,
		       round(sum(total_plan_time)::numeric / :n, 3) AS plan_ms_per_msg,
		       round(sum(wal_bytes)::numeric / :n, 0) AS wal_bytes_per_msg
		FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database());
		SELECT calls, round(calls::numeric / :n, 3) AS per_msg, round(total_exec_time::numeric / :n, 3) AS exec_ms_per_msg,
		       round(wal_bytes::numeric / :n, 0) AS wal_per_msg, regexp_replace(left(query, 140), '\s+', ' ', 'g') AS query
		FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		ORDER BY total_exec_time DESC LIMIT 25;
	SQL
	echo "pg_stat_statements, $work/pgss.txt:"; cat "$work/pgss.txt"
}
start() {
	"$BIN" serve >>"$work/serve.log" 2>&1 &
	pid=$!
	until (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; do
		kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
		sleep 0.05
	done
}
stop() { kill -TERM "$pid"; wait "$pid" || true; pid=""; }
wait_empty() {
	while [ "$(psql_ -c 'SELECT count(*) FROM queue')" != 0 ]; do sleep 0.05; done
}
echo "mailhost $(git rev-parse --short HEAD 2>/dev/null || echo '(no git)'), $(nproc) CPUs, N=$N, embedded PostgreSQL (fsync on)"

# CPU seconds (user + system) mailhost has used: less disturbed by other
# load on the machine than the rates are.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$pid/stat"; }
# user CPU alone: the kernel's share (file system, sockets) follows the
# machine's state more than mailhost's work.
ucpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", $14 / hz }' "/proc/$pid/stat"; }
# read and write system calls (all kinds: sockets, files) mailhost has
# made: exact, whatever the load.
sysc() { awk '/^sysc[rw]:/ { n += $2 } END { print n }' "/proc/$pid/io"; }
pgcpu() { # CPU seconds of the embedded PostgreSQL: the postmaster with its ended children, and the live ones
	local pm t p
	pm=$(pgrep -f "postgres -D $work/data" | head -1)
	t=$(awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15 + $16 + $17) / hz}' "/proc/$pm/stat")
	for p in $(pgrep -P "$pm" || true); do
		t=$(awk -v t="$t" -v hz="$(getconf CLK_TCK)" '{print t + ($14 + $15) / hz}' "/proc/$p/stat" 2>/dev/null || echo "$t")
	done
	echo "$t"
}
start
if [ "${PGSS:-}" = 1 ]; then psql_ -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' -c 'SELECT pg_stat_statements_reset()' >/dev/null; fi
c0=$(cpu) u0=$(ucpu) p0=$(pgcpu)
t0=$(date +%s.%N)
bin/subbench -addr 127.0.0.1:$PORT -pass bench-password-1 -user bench@bench.test -to sink@remote.test \
	-n "$N" -c "$C" -per "$PER" -size "$SIZE"
wait_empty
t1=$(date +%s.%N)
awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN { printf "end to end (submitted and delivered to smtp-sink): %.2fs, %.0f msgs/s\n", b-a, n/(b-a) }'
awk -v n="$N" -v a="$c0" -v b="$(cpu)" -v ua="$u0" -v ub="$(ucpu)" -v pa="$p0" -v pb="$(pgcpu)" 'BEGIN {
	printf "CPU per message, submitted and delivered: mailhost %.2f ms (user %.2f ms), PostgreSQL %.2f ms\n", (b-a)*1000/n, (ub-ua)*1000/n, (pb-pa)*1000/n }'
if [ "${PGSS:-}" = 1 ]; then pgss_report; fi

psql_ <<SQL
WITH q AS (
	INSERT INTO queue (queue_id, sender, origin, size, body, expires_at, hold)
	SELECT 'B' || lpad(upper(to_hex(i)), 19, '0'), 'bench@bench.test', 'submission', length(b), b, now() + interval '5 days', true
	FROM generate_series(1, $N) i,
	     LATERAL (SELECT convert_to('From: bench@bench.test' || chr(13) || chr(10) || 'Subject: drain ' || i
	              || chr(13) || chr(10) || chr(13) || chr(10) || repeat('x', $SIZE) || chr(13) || chr(10), 'UTF8') AS b) m
	RETURNING id
)
INSERT INTO queue_recipients (queue_id, recipient, domain) SELECT id, 'sink' || id || '@remote.test', 'remote.test' FROM q;
SQL
c0=$(cpu) u0=$(ucpu) p0=$(pgcpu) s0=$(sysc)
t0=$(date +%s.%N)
psql_ -c 'UPDATE queue SET hold = false'
wait_empty
t1=$(date +%s.%N)
awk -v n="$N" -v a="$t0" -v b="$t1" -v w="$WORKERS" 'BEGIN { printf "queue drain to smtp-sink: %d messages in %.2fs, %.0f msgs/s, %d workers\n", n, b-a, n/(b-a), w }'
awk -v n="$N" -v a="$c0" -v b="$(cpu)" -v ua="$u0" -v ub="$(ucpu)" -v pa="$p0" -v pb="$(pgcpu)" 'BEGIN {
	printf "CPU per message, drain: mailhost %.2f ms (user %.2f ms), PostgreSQL %.2f ms\n", (b-a)*1000/n, (ub-ua)*1000/n, (pb-pa)*1000/n }'
awk -v n="$N" -v a="$s0" -v b="$(sysc)" 'BEGIN { printf "read+write system calls per message, drain: mailhost %.1f\n", (b-a)/n }'
stop
# smtp-sink -c counts sessions as they end (so after the stop, which
# closes the cached idle connections): sess= is the connections the queue
# opened for both steps, mesg= the messages.
sleep 0.2
echo "smtp-sink: $(tr '\r' '\n' <"$work/sink.log" | grep 'sess=' | tail -1)"
