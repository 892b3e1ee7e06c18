#!/usr/bin/env bash
# IMAP under load: USERS users x CLIENTS connections each, for SECONDS, every
# connection running a random mix of IMAP commands back to back
# (SELECT/EXAMINE; FETCH of FLAGS, ENVELOPE, BODYSTRUCTURE, one BODY[],
# header fields of a range; UID STORE +/-FLAGS; SEARCH UNSEEN/FROM/SUBJECT
# and, rarely, TEXT; APPEND; UID COPY; UID EXPUNGE of its own messages;
# NOOP; IDLE/DONE), with the load generator of bench/imapstress (raw IMAP
# over TCP, no library). Each user's INBOX is filled with PREFILL messages
# (Archive with a tenth) by APPEND before the clock starts.
#
# Runs against mailhost (embedded PostgreSQL in a temporary data directory,
# only the IMAP listener) and, with BASELINE=1, against a private Dovecot
# of ../shared/bench/stack-up.sh on its own ports (BASE_PORT..+3) and
# directory, with the same user names, mix and seed. Passwords are
# SHA512-CRYPT with 5,000 rounds on both sides (doveadm pw's default), so
# the logins do not dominate. Reports commands/s, count, p50/p99 per
# command and errors (NO, BAD, BYE, disconnects, timeouts, incomplete
# answers) side by side, then stops mailhost and runs `mailhost check` on
# its data.
#
# Usage: bench/imap-stress.sh                  (as root for BASELINE=1; ~4 min)
#        USERS=4 CLIENTS=4 SECONDS=10 bench/imap-stress.sh
# Env: USERS=20 CLIENTS=20 SECONDS=60 PREFILL=200 SEED=1 IDLE=100ms
#      BASELINE=1 PORT=21443 BASE_PORT=20124 SHARED=../shared/bench BIN=bin/mailhost KEEP=
#      PGSS=1: load pg_stat_statements into mailhost's embedded PostgreSQL
#      (this run only), count statements from the clock's start and print
#      the busiest ones with their calls per IMAP command (pgss.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
# SECONDS is bash's own clock: read what the caller exported, not the clock.
DURATION=$(printenv SECONDS || echo 60)
USERS=${USERS:-20} CLIENTS=${CLIENTS:-20} PREFILL=${PREFILL:-200} SEED=${SEED:-1} IDLE=${IDLE:-100ms}
BASELINE=${BASELINE:-1} PORT=${PORT:-21443} BASE_PORT=${BASE_PORT:-20124}
SHARED=$(cd "${SHARED:-../shared/bench}" && pwd)
BIN=${BIN:-bin/mailhost}
if [ "$BASELINE" = 1 ]; then
	[ "$(id -u)" = 0 ] || { echo "imap-stress.sh: BASELINE=1 needs root (or BASELINE=0)" >&2; exit 1; }
	command -v dovecot >/dev/null || { echo "imap-stress.sh: dovecot is not installed (see $SHARED/README.md)" >&2; exit 1; }
fi
go build -o "$BIN" ./cmd/mailhost
go build -o bin/imapstress ./bench/imapstress
work=$(mktemp -d /tmp/mailhost-imap-stress.XXXXXX); chmod 755 "$work"
OUT=$work/results.txt; : >"$OUT"
pid="" stack_started=0
export STACK_DIR=$work/stack
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	if [ "$stack_started" = 1 ]; then "$SHARED/stack-down.sh" >/dev/null 2>&1 || true; fi
	[ -n "${KEEP:-}" ] || rm -rf "$work/data" "$work/stack" # keep results and logs only
	true
}
trap cleanup EXIT
ulimit -n 20000 2>/dev/null || true
cpu_jiffies() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $5 + $6}' /proc/stat; } # busy idle
# tree_cpu_s PID: CPU seconds of a process and its descendants, counting
# children they have already reaped (cutime, cstime).
tree_cpu_s() {
	local p
	ps -e -o pid=,ppid= | awk -v root="$1" '{ up[$1] = $2 } END {
		for (p in up) { q = p; while (q != root && q in up && q > 1) q = up[q]; if (q == root) print p } }' |
		while read -r p; do sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 + $14 + $15 }'; done |
		awk -v hz="$(getconf CLK_TCK)" '{ t += $1 } END { printf "%.1f", t / hz }'
}
server_cpu() { # label: "name=seconds ..." of the server's processes
	case $1 in
	mailhost) echo "mailhost_cpu_s=$(tree_cpu_s "$pid") postgres_cpu_s=$(tree_cpu_s "$(head -1 "$(find "$work/data" -name postmaster.pid | head -1)")")" ;;
	dovecot) echo "dovecot_cpu_s=$(tree_cpu_s "$DOVECOT_MASTER_PID")" ;;
	esac
}
pgsql() { psql -X -q -A -F'|' -h "$work/data/postgres" -U mailhost mailhost "$@"; }
stress() { # label addr password
	local a b ca cb
	bin/imapstress -label "$1" -addr "$2" -pass "$3" -users "$USERS" -prefill "$PREFILL" -seed "$SEED" -prefill-only
	if [ "$1" = mailhost ] && [ "${PGSS:-}" = 1 ]; then
		pgsql -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' -c 'SELECT pg_stat_statements_reset()' >/dev/null
	fi
	echo "load average before $1: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$work/stress.log" >&2
	a=$(cpu_jiffies) ca=$(server_cpu "$1")
	bin/imapstress -label "$1" -addr "$2" -pass "$3" -users "$USERS" -clients "$CLIENTS" \
		-duration "${DURATION}s" -prefill "$PREFILL" -seed "$SEED" -idle "$IDLE" | tee -a "$work/stress.log"
	b=$(cpu_jiffies) cb=$(server_cpu "$1")
	# The whole machine, this run included: other work shows as less CPU
	# left for the server. Server CPU includes the logins before the clock.
	echo "$a $b" | awk -v l="$1" '{ printf "RESULT imap_stress_machine server=%s machine_busy_pct=%.0f", l, 100 * ($3 - $1) / ($3 - $1 + $4 - $2) }' | tee -a "$work/stress.log"
	echo "$ca $cb" | awk '{ for (i = 1; i <= NF / 2; i++) { split($i, x, "="); split($(i + NF / 2), y, "="); printf " %s=%.1f", x[1], y[2] - x[2] } print "" }' | tee -a "$work/stress.log"
	grep '^RESULT' "$work/stress.log" | grep "server=$1 " >>"$OUT" || true
	if [ "$1" = mailhost ] && [ "${PGSS:-}" = 1 ]; then pgss_report; fi
}
# pgss_report: statements since the clock started, per IMAP command of the run.
pgss_report() {
	local n
	n=$(grep '^RESULT imap_stress ' "$work/stress.log" | grep "server=mailhost " | sed -E 's/.* commands=([0-9]+).*/\1/' | tail -1)
	pgsql -v n="$n" >"$work/pgss.txt" <<-'SQL'
		SELECT sum(calls) AS calls, round(sum(calls) / :n, 2) AS per_cmd,
		       round(sum(total_exec_time)::numeric / :n, 3) AS exec_ms_per_cmd,
		       round(sum(total_plan_time)::numeric / :n, 3) AS plan_ms_per_cmd
		FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database());
		SELECT calls, round(calls::numeric / :n, 3) AS per_cmd, round(total_exec_time::numeric, 0) AS exec_ms,
		       round(total_exec_time::numeric / nullif(calls, 0), 3) AS ms_call, rows, plans,
		       regexp_replace(left(query, 160), '\s+', ' ', 'g') AS query
		FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		ORDER BY calls DESC LIMIT 40;
	SQL
	echo "pg_stat_statements ($n commands), $work/pgss.txt:"
	head -45 "$work/pgss.txt"
}
echo "mailhost $(git rev-parse --short HEAD 2>/dev/null || echo '(no git)'), $(nproc) CPUs;" \
	"$USERS users x $CLIENTS clients, ${DURATION}s, prefill $PREFILL, seed $SEED"

# --- mailhost ----------------------------------------------------------
export MAILHOST_DATA_DIR=$work/data MAILHOST_LOG_LEVEL=warn \
	MAILHOST_PASSWORD_SCHEME=SHA512-CRYPT MAILHOST_PASSWORD_SHA512_ROUNDS=5000 \
	MAILHOST_LISTEN_IMAP=127.0.0.1:$PORT MAILHOST_IMAP_MAX_CONNECTIONS_PER_CLIENT=0
for l in IMAPS SMTP SUBMISSION SUBMISSIONS POP3 POP3S HTTP; do export MAILHOST_LISTEN_$l=off; done
unset DATABASE_URL
if [ "${PGSS:-}" = 1 ]; then # initdb now, then load the extension at serve's start
	"$BIN" domain list >/dev/null
	printf '%s\n' "shared_preload_libraries = 'pg_stat_statements'" "pg_stat_statements.track = all" \
		"pg_stat_statements.track_utility = on" "pg_stat_statements.track_planning = on" \
		"pg_stat_statements.max = 5000" >>"$work/data/postgres/postgresql.conf"
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
	echo "imap-stress.sh: port $PORT is busy; set PORT to a free one" >&2
	exit 1
fi
"$BIN" serve >"$work/serve.log" 2>&1 &
pid=$!
until (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do
	kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
	sleep 0.1
done
kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; } # the port is ours
# Through the CLI, hashed with the scheme above. The admin service wants
# passwords of 8 characters or more, hence not Dovecot's "secret".
PW=benchsecret
"$BIN" domain add bench.test >/dev/null
for i in $(seq 1 "$USERS"); do
	echo "$PW" | "$BIN" mailbox add "u$i@bench.test" --password-stdin >/dev/null
done
stress mailhost "127.0.0.1:$PORT" "$PW"
kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=""
echo "mailhost's log at warn and above (counted, numbers folded):"
sed -E 's/time=[^ ]+ //; s/[0-9]+/N/g' "$work/serve.log" | sort | uniq -c | sort -rn | head -5
echo "== mailhost check (index against Maildirs, serve stopped)"
if "$BIN" check >"$work/check.out" 2>&1; then check=ok; else check=failed; fi
cat "$work/check.out"
diffs=$(sed -n 's/^\([0-9][0-9]*\) differences found.*/\1/p' "$work/check.out" | tail -1)
echo "RESULT imap_stress_check server=mailhost check=$check differences=${diffs:-0}" | tee -a "$OUT"

# --- Dovecot -----------------------------------------------------------
if [ "$BASELINE" = 1 ]; then
	for p in $BASE_PORT $((BASE_PORT + 1)) $((BASE_PORT + 2)) $((BASE_PORT + 3)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "imap-stress.sh: port $p is busy; set BASE_PORT to 4 free ports" >&2
			exit 1
		fi
	done
	# The shared stack on this run's own ports, users u1..u$USERS, and one
	# deviation: Dovecot allows 10 connections per user and IP by default
	# (mail_max_userip_connections); CLIENTS come from one address.
	sed -e "s/^SMTP_PORT=10025 IMAP_PORT=10143 POP3_PORT=10110 LMTP_PORT=10024\$/SMTP_PORT=$((BASE_PORT + 1)) IMAP_PORT=$((BASE_PORT + 3)) POP3_PORT=$((BASE_PORT + 2)) LMTP_PORT=$BASE_PORT/" \
		-e 's/^first_valid_uid = 500$/&\nmail_max_userip_connections = 10000/' \
		"$SHARED/stack-up.sh" >"$work/stack-up.sh"
	grep -q "^SMTP_PORT=$((BASE_PORT + 1)) " "$work/stack-up.sh" && grep -q "^mail_max_userip_connections" "$work/stack-up.sh" ||
		{ echo "imap-stress.sh: cannot adapt $SHARED/stack-up.sh" >&2; exit 1; }
	stack_started=1
	NUSERS=$USERS bash "$work/stack-up.sh" >"$work/stack.log" 2>&1 || { cat "$work/stack.log" >&2; exit 1; }
	# shellcheck disable=SC1091
	. "$STACK_DIR/stack.env"
	stress dovecot "127.0.0.1:$((BASE_PORT + 3))" secret
	echo "Dovecot's warnings and errors (counted, users and numbers folded):"
	grep -E "Warning|Error|Fatal|Panic" "$STACK_DIR/dovecot/dovecot.log" | grep -v "Killed with signal 15" | cut -d' ' -f4- |
		sed -E 's/<[^>]*>//g; s/\(u[0-9]+@bench.test\)//; s/[0-9]+/N/g' | sort | uniq -c | sort -rn | head -5 || true
	"$SHARED/stack-down.sh" >/dev/null 2>&1 || true
	stack_started=0
fi

python3 - "$OUT" <<'EOF'
import sys
tot, cmd, chk = {}, {}, ""
for line in open(sys.argv[1]):
    f = line.split()
    kv = dict(x.split("=", 1) for x in f[2:])
    if f[1] == "imap_stress":
        tot[kv["server"]] = kv
    elif f[1] == "imap_stress_cmd":
        cmd.setdefault(kv["cmd"], {})[kv["server"]] = kv
    elif f[1] == "imap_stress_machine":
        tot.setdefault(kv["server"], {}).update(kv)
    elif f[1] == "imap_stress_client":
        tot.setdefault(kv["server"], {})["client_cpu_s"] = kv["client_cpu_s"]
    elif f[1] == "imap_stress_check":
        chk = kv["check"]
servers = [s for s in ("mailhost", "dovecot") if s in tot]
print("\n%-20s" % "p50/p99 ms (errors)" + "".join("%28s" % s for s in servers))
for c in sorted(cmd):
    row = ""
    for s in servers:
        k = cmd[c].get(s)
        row += "%28s" % ("%s/%s (%s) n=%s" % (k["p50_ms"], k["p99_ms"], k["errors"], k["count"]) if k else "-")
    print("%-20s%s" % (c, row))
print("%-20s" % "commands/s" + "".join("%28s" % tot[s]["cmds_per_s"] for s in servers))
print("%-20s" % "errors" + "".join("%28s" % tot[s]["errors"] for s in servers))
print("%-20s" % "setup errors" + "".join("%28s" % tot[s].get("setup_errors", "?") for s in servers))
print("%-20s" % "machine CPU busy %" + "".join("%28s" % tot[s].get("machine_busy_pct", "?") for s in servers))
print("%-20s" % "server CPU s" + "".join("%28s" % " ".join("%s=%s" % (k.replace("_cpu_s", ""), v) for k, v in tot[s].items() if k.endswith("_cpu_s") and k != "client_cpu_s") for s in servers))
def cpu_per_cmd(t):
    c = sum(float(v) for k, v in t.items() if k.endswith("_cpu_s") and k != "client_cpu_s")
    return "%.2f" % (1000 * c / float(t["commands"])) if float(t.get("commands", 0)) else "?"
print("%-20s" % "server CPU ms/cmd" + "".join("%28s" % cpu_per_cmd(tot[s]) for s in servers))
print("%-20s" % "load generator CPU s" + "".join("%28s" % tot[s].get("client_cpu_s", "?") for s in servers))
if len(servers) == 2:
    print("mailhost/dovecot commands/s: %.2f" % (float(tot["mailhost"]["cmds_per_s"]) / float(tot["dovecot"]["cmds_per_s"])))
print("mailhost check:", chk)
EOF
echo "raw results: $OUT, logs: $work" >&2
