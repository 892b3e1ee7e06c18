#!/usr/bin/env bash
# Inbound SMTP throughput of mailhost against the Postfix -> Dovecot LMTP
# baseline, in one run, side by side, with the same load generator
# (Postfix's smtp-source via ../shared/bench/smtp-throughput.sh): N messages
# of SIZE bytes to 100 mailboxes u1..u100@bench.test, over 20 concurrent
# sessions (c20) and over one (c1), 20 messages per connection. Reports
# accepted and delivered (file in the Maildir) messages/s, and mailhost's
# peak RSS. fsync stays on everywhere (mailhost's embedded PostgreSQL runs
# with its defaults: fsync, synchronous_commit).
#
# FILTERS names mailhost's content filter settings to measure, each a run
# of its own: on (the default: built-in checks and the default banned
# attachment list), off (filter.smtp = []), rspamd (on, plus rspamd's
# proxy worker as a milter, started here on loopback with a private
# configuration and no network lookups; its CPU per message is reported).
# AUTH=1 adds a run with the MX's sender checks on (SPF, DKIM, DMARC,
# iprev; inbound.checks) against a loopback DNS server (bench/authdns) and
# the load generator outside mynetworks, so every message is checked: SPF
# of loadgen@client.test walks a record with a, mx and include (six
# lookups), DMARC finds no record at client.test (so the policies of the
# message's domains are read from the database too), reverse DNS once per
# connection. Its rows are mailhost-auth-c20/c1, compared with the plain
# mailhost rows (checks do not apply to mynetworks).
# With SIEVE=1 (the default) mailhost runs again with a 50-rule Sieve
# script active on every mailbox (header, address, size and body-free
# tests that do not match, so every rule is evaluated and the message
# kept), and the ratio of its delivered rate to the run without scripts
# is reported (issue 15 asks for at least 0.90).
#
# Usage: bench/smtp-in.sh            (as root; ~3 min)
#        BASELINE=0 FILTERS="off on rspamd" bench/smtp-in.sh
# Env: N=2000 SIZE=4096 REPS=1 BASELINE=1 (0 skips the Postfix stack)
#      FILTERS=on  SHARED=../shared/bench  BIN=bin/mailhost  PORT=12525
#      RSPAMD_PORT=12532
#      AUTH=0 (1: also with the sender checks on)  DNS_PORT=10053  SIEVE=1
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000} SIZE=${SIZE:-4096} REPS=${REPS:-1} BASELINE=${BASELINE:-1}
FILTERS=${FILTERS:-on} RSPAMD_PORT=${RSPAMD_PORT:-12532}
AUTH=${AUTH:-0} DNS_PORT=${DNS_PORT:-10053} SIEVE=${SIEVE:-1}
SHARED=${SHARED:-../shared/bench}
BIN=${BIN:-bin/mailhost}
PORT=${PORT:-12525}
[ "$(id -u)" = 0 ] || { echo "smtp-in.sh: run as root (the baseline stack and vmail need it)" >&2; exit 1; }

# smtp-source comes with Postfix. Install it without letting a system
# Postfix start: "No configuration" leaves no main.cf and no daemon.
if [ ! -x /usr/sbin/smtp-source ] || { [ "$BASELINE" = 1 ] && ! command -v dovecot >/dev/null; }; then
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		postfix dovecot-imapd dovecot-pop3d dovecot-lmtpd >/dev/null
fi
# Whatever happened at install time, no system Postfix may hold port 25.
if [ -e /etc/postfix/main.cf ] && postfix status >/dev/null 2>&1; then postfix stop >/dev/null 2>&1 || true; fi

go build -o "$BIN" ./cmd/mailhost
work=$(mktemp -d /tmp/mailhost-smtp-in.XXXXXX); chmod 755 "$work"
OUT=$work/results.txt; : >"$OUT"
pid=""
dns_pid=""
runs=0 data=""
# The baseline stack is this run's own: its own directory and its own
# ports (BASE_PORT..+3, not the shared scripts' 10024/10025/10110/10143, so
# a stack another engineer runs is never touched), stopped only if this
# script started it.
export STACK_DIR=$work/stack
BASE_PORT=${BASE_PORT:-20024}
stack_started=0
rspamd_pid=""
cleanup() {
	# "|| true": a failed wait must not end the cleanup early under set -e.
	[ -n "$dns_pid" ] && kill -TERM "$dns_pid" 2>/dev/null && wait "$dns_pid" 2>/dev/null || true
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	[ -n "$rspamd_pid" ] && kill -TERM "$rspamd_pid" 2>/dev/null && wait "$rspamd_pid" 2>/dev/null || true
	if [ "$stack_started" = 1 ]; then "$SHARED/stack-down.sh" >/dev/null 2>&1 || true; fi
	[ -n "${KEEP:-}" ] || rm -rf "$work"/data* "$work/stack" # keep results and logs only
}
stack_up() {
	local p
	for p in $BASE_PORT $((BASE_PORT + 1)) $((BASE_PORT + 2)) $((BASE_PORT + 3)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "smtp-in.sh: port $p is busy; set BASE_PORT to 4 free ports; skipping the baseline" >&2
			return 1
		fi
	done
	sed "s/^SMTP_PORT=10025 IMAP_PORT=10143 POP3_PORT=10110 LMTP_PORT=10024\$/SMTP_PORT=$((BASE_PORT + 1)) IMAP_PORT=$((BASE_PORT + 3)) POP3_PORT=$((BASE_PORT + 2)) LMTP_PORT=$BASE_PORT/" \
		"$SHARED/stack-up.sh" >"$work/stack-up.sh"
	grep -q "^SMTP_PORT=$((BASE_PORT + 1)) " "$work/stack-up.sh" || { echo "smtp-in.sh: cannot move the stack's ports" >&2; return 1; }
	stack_started=1
	bash "$work/stack-up.sh" >"$work/stack.log" 2>&1
}
trap cleanup EXIT

# --- rspamd, the milter of FILTERS=rspamd --------------------------------
# The private configuration of the mta tests' rspamd (filter_peers_test.go):
# no DNS, no fuzzy or map downloads, no Redis; compiled expressions cached
# under ~/.cache/mailhost-test/rspamd (the first start takes a minute).
start_rspamd() {
	local d=$work/rspamd db=${XDG_CACHE_HOME:-$HOME/.cache}/mailhost-test/rspamd m
	mkdir -p "$d/local.d" "$d/run" "$db"
	cat >"$d/rspamd.conf" <<CONF
.include "\$CONFDIR/common.conf"
options {
    pidfile = "\$RUNDIR/rspamd.pid";
    .include "\$CONFDIR/options.inc"
    dns { nameserver = ["127.0.0.1:1"]; timeout = 1s; retransmits = 1; }
}
logging { type = "file"; filename = "\$LOGDIR/rspamd.log"; level = "warning"; }
worker "normal" { bind_socket = "127.0.0.1:$((RSPAMD_PORT + 1))"; .include "\$CONFDIR/worker-normal.inc" }
worker "rspamd_proxy" {
    bind_socket = "127.0.0.1:$RSPAMD_PORT";
    milter = yes; timeout = 60s; count = 1; spam_header = "X-Spam";
    upstream "local" { default = yes; self_scan = yes; }
}
CONF
	printf 'use = ["x-spamd-result", "x-spam-status"];\nskip_local = false;\n' >"$d/local.d/milter_headers.conf"
	for m in fuzzy_check rbl asn phishing url_reputation neural replies ratelimit greylist history_redis \
		dkim dmarc spf arc mx_check emails multimap reputation maillist hfilter; do
		echo "enabled = false;" >"$d/local.d/$m.conf"
	done
	rspamd -f -i -c "$d/rspamd.conf" --var CONFDIR=/etc/rspamd --var LOCAL_CONFDIR="$d" \
		--var RUNDIR="$d/run" --var DBDIR="$db" --var LOGDIR="$d" >"$d/out.log" 2>&1 &
	rspamd_pid=$!
	for _ in $(seq 3000); do
		(exec 3<>"/dev/tcp/127.0.0.1/$RSPAMD_PORT") 2>/dev/null && return 0
		kill -0 "$rspamd_pid" 2>/dev/null || { cat "$d/out.log" >&2; exit 1; }
		sleep 0.1
	done
	echo "smtp-in.sh: rspamd did not start" >&2; exit 1
}
stop_rspamd() { kill -TERM "$rspamd_pid"; wait "$rspamd_pid" 2>/dev/null || true; rspamd_pid=""; }
tree_cpu_s() { # CPU seconds of a process and its children (rspamd's workers)
	local t=0 p
	for p in "$1" $(pgrep -P "$1" || true); do
		t=$(awk -v t="$t" -v hz="$(getconf CLK_TCK)" '{print t + ($14 + $15) / hz}' "/proc/$p/stat" 2>/dev/null || echo "$t")
	done
	echo "$t"
}

# --- mailhost ----------------------------------------------------------
start_mailhost() { # filter mode (on, off, rspamd), then extra MAILHOST_* settings
	local filter=() mode=$1
	shift
	case $mode in
	off) filter=(MAILHOST_FILTER_SMTP=) ;;
	rspamd) filter=(MAILHOST_FILTER_MILTERS="rspamd=inet:127.0.0.1:$RSPAMD_PORT") ;;
	esac
	# A new directory per run, the old ones deleted only at the end: ext4
	# allocating inodes among thousands just freed (recently_deleted)
	# costs each file creation kernel CPU that the run after a deletion
	# would be charged for.
	runs=$((runs + 1))
	data=$work/data$runs
	env -u DATABASE_URL "${filter[@]}" "$@" MAILHOST_LISTEN_SMTP=127.0.0.1:$PORT MAILHOST_LISTEN_HTTP=off \
		MAILHOST_LISTEN_SUBMISSION=off MAILHOST_LISTEN_SUBMISSIONS=off MAILHOST_LISTEN_IMAP=off \
		MAILHOST_LISTEN_IMAPS=off MAILHOST_LISTEN_POP3=off MAILHOST_LISTEN_POP3S=off \
		MAILHOST_LISTEN_MANAGESIEVE=off MAILHOST_LOG_LEVEL=warn MAILHOST_HOSTNAME=mx.bench.test \
		"$BIN" serve --data-dir "$data" >"$work/serve.log" 2>&1 &
	pid=$!
	for _ in $(seq 600); do
		(exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
		sleep 0.1
	done
	# Provision bench.test and u1..u100 directly in the embedded database.
	psql -q -v ON_ERROR_STOP=1 "host=$data/postgres dbname=mailhost user=mailhost" <<'SQL'
INSERT INTO domains (name) VALUES ('bench.test');
INSERT INTO mailboxes (domain_id, local_part, address, password, maildir)
SELECT d.id, 'u' || i, 'u' || i || '@bench.test', '{PLAIN}secret', 'bench.test/u' || i || '/'
FROM domains d, generate_series(1, 100) i WHERE d.name = 'bench.test';
SQL
}
# sieve_rules writes a 50-rule script that matches none of smtp-source's
# messages: every test runs, the message is kept.
sieve_rules() {
	echo 'require ["fileinto", "imap4flags", "envelope", "subaddress", "relational", "comparator-i;ascii-numeric"];'
	for i in $(seq 1 50); do
		case $((i % 5)) in
		0) echo "if header :contains \"subject\" \"newsletter-$i\" { fileinto \"News$i\"; stop; }" ;;
		1) echo "if address :domain :is \"from\" \"sender$i.example\" { fileinto \"From$i\"; }" ;;
		2) echo "if header :matches \"list-id\" \"*list$i*\" { addflag \"\\\\Flagged\"; fileinto \"List$i\"; }" ;;
		3) echo "if allof (size :over 10M, header :contains \"x-tag\" \"t$i\") { discard; stop; }" ;;
		4) echo "if envelope :detail \"to\" \"tag$i\" { fileinto \"Tag$i\"; }" ;;
		esac
	done
}
add_scripts() { # every mailbox gets the 50-rule script, active
	local script
	script=$(sieve_rules)
	psql -q -v ON_ERROR_STOP=1 -v script="$script" "host=$data/postgres dbname=mailhost user=mailhost" <<'SQL'
INSERT INTO sieve_scripts (mailbox_id, name, content, active) SELECT id, 'rules', :'script', true FROM mailboxes;
SQL
}
stop_mailhost() {
	kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=""
}
peak_rss_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
cpu_s() { # user+system CPU seconds of a process (children not included)
	awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"
}
user_s() { # user CPU seconds only: the kernel's share (file system, sockets) varies with the machine's state
	awk -v hz="$(getconf CLK_TCK)" '{print $14 / hz}' "/proc/$1/stat"
}
pg_cpu_s() { # CPU seconds of the embedded cluster's processes
	local t=0 p
	for p in $(pgrep -f "postgres.*$data" || true) $(pgrep -P "$(pgrep -f "postgres -D $data" | head -1)" 2>/dev/null || true); do
		t=$(awk -v t="$t" -v hz="$(getconf CLK_TCK)" '{print t + ($14 + $15) / hz}' "/proc/$p/stat" 2>/dev/null || echo "$t")
	done
	echo "$t"
}

run() { # label target-host target-port maildir-root extra-env...
	local label=$1 host=$2 port=$3 root=$4; shift 4
	echo "=== $label" >&2
	env "$@" MAILDIR_ROOT="$root" N="$N" SIZE="$SIZE" "$SHARED/smtp-throughput.sh" "$host" "$port" \
		| tee -a "$work/throughput.log" | sed -n "s/^RESULT /RESULT label=$label /p" >>"$OUT"
}

# The sender checks' DNS: what the load generator (loadgen@client.test,
# HELO client.test, from 127.0.0.1) and mailhost look up.
start_dns() {
	cat >"$work/zone" <<'ZONE'
client.test. 3600 SOA ns.client.test. hostmaster.client.test. 1 7200 3600 1209600 300
0.0.127.in-addr.arpa. 3600 SOA ns.client.test. hostmaster.client.test. 1 7200 3600 1209600 300
client.test. TXT "v=spf1 a mx include:_spf.client.test -all"
client.test. A 192.0.2.10
client.test. MX 10 mx.client.test.
mx.client.test. A 192.0.2.11
_spf.client.test. TXT "v=spf1 ip4:192.0.2.0/24 ip4:127.0.0.0/8 -all"
1.0.0.127.in-addr.arpa. PTR localhost.client.test.
localhost.client.test. A 127.0.0.1
ZONE
	go build -o "$work/authdns" ./bench/authdns
	"$work/authdns" -addr "127.0.0.1:$DNS_PORT" -zone "$work/zone" 2>"$work/authdns.log" &
	dns_pid=$!
	sleep 0.5
	kill -0 "$dns_pid" 2>/dev/null || { cat "$work/authdns.log" >&2; exit 1; }
}
[ "$AUTH" = 1 ] && start_dns

for rep in $(seq "$REPS"); do
	if [ "$BASELINE" = 1 ] && stack_up; then
		# shellcheck disable=SC1091
		. "$STACK_DIR/stack.env"
		run baseline-c20 127.0.0.1 $((BASE_PORT + 1)) "$MAILDIR_ROOT" C=20 M=20
		run baseline-c1 127.0.0.1 $((BASE_PORT + 1)) "$MAILDIR_ROOT" C=1 M=20
		"$SHARED/stack-down.sh" >/dev/null 2>&1
		stack_started=0
	fi
	for mode in $FILTERS; do
		lp=mailhost # label prefix: the default configuration keeps its old labels
		[ "$mode" = on ] || lp=mailhost-filter-$mode
		[ "$mode" = rspamd ] && start_rspamd
		start_mailhost "$mode"
		c0=$(cpu_s "$pid") u0=$(user_s "$pid") p0=$(pg_cpu_s) r0=0
		[ -n "$rspamd_pid" ] && r0=$(tree_cpu_s "$rspamd_pid")
		run $lp-c20 127.0.0.1 "$PORT" "$data/vmail" C=20 M=20
		c1=$(cpu_s "$pid") u1=$(user_s "$pid") p1=$(pg_cpu_s) r1=0
		[ -n "$rspamd_pid" ] && r1=$(tree_cpu_s "$rspamd_pid")
		run $lp-c1 127.0.0.1 "$PORT" "$data/vmail" C=1 M=20
		echo "RESULT label=$lp-rss peak_rss_kb=$(peak_rss_kb "$pid")" >>"$OUT"
		echo "RESULT label=$lp-cpu c20_mailhost_ms_per_msg=$(echo "($c1 - $c0) * 1000 / $N" | bc -l)" \
			"c20_mailhost_user_ms_per_msg=$(echo "($u1 - $u0) * 1000 / $N" | bc -l)" \
			"c20_postgres_ms_per_msg=$(echo "($p1 - $p0) * 1000 / $N" | bc -l)" \
			"c20_rspamd_ms_per_msg=$(echo "($r1 - $r0) * 1000 / $N" | bc -l)" >>"$OUT"
		stop_mailhost
		[ -n "$rspamd_pid" ] && stop_rspamd
	done
	if [ "$AUTH" = 1 ]; then
		# mynetworks that never matches: the loopback load generator is checked.
		start_mailhost on MAILHOST_INBOUND_CHECKS=true MAILHOST_DNS_RESOLVER=127.0.0.1:$DNS_PORT \
			MAILHOST_SMTP_MYNETWORKS=192.0.2.255/32
		c0=$(cpu_s "$pid") u0=$(user_s "$pid") p0=$(pg_cpu_s)
		run mailhost-auth-c20 127.0.0.1 "$PORT" "$data/vmail" C=20 M=20
		c1=$(cpu_s "$pid") u1=$(user_s "$pid") p1=$(pg_cpu_s)
		run mailhost-auth-c1 127.0.0.1 "$PORT" "$data/vmail" C=1 M=20
		echo "RESULT label=mailhost-auth-cpu c20_mailhost_ms_per_msg=$(echo "($c1 - $c0) * 1000 / $N" | bc -l)" \
			"c20_mailhost_user_ms_per_msg=$(echo "($u1 - $u0) * 1000 / $N" | bc -l)" \
			"c20_postgres_ms_per_msg=$(echo "($p1 - $p0) * 1000 / $N" | bc -l)" >>"$OUT"
		# Proof that the checks ran: the delivered files carry their results.
		echo "RESULT label=mailhost-auth-checked files=$(grep -rl 'spf=pass smtp.mailfrom=loadgen@client.test' "$data/vmail" | wc -l)" >>"$OUT"
		stop_mailhost
	fi
	if [ "$SIEVE" = 1 ]; then
		start_mailhost on
		add_scripts
		run mailhost-sieve-c20 127.0.0.1 "$PORT" "$data/vmail" C=20 M=20
		run mailhost-sieve-c1 127.0.0.1 "$PORT" "$data/vmail" C=1 M=20
		stop_mailhost
	fi
done

python3 - "$OUT" "$FILTERS" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    kv = dict(f.split("=", 1) for f in line.split()[1:])
    rows.setdefault(kv["label"], []).append(kv)
def med(label, key):
    v = [float(r[key]) for r in rows.get(label, []) if key in r]
    return statistics.median(v) if v else float("nan")
print("%-6s %22s %22s %8s" % ("", "mailhost acc/dlv msg/s", "baseline acc/dlv msg/s", "ratio"))
for c in ("c20", "c1"):
    ma, md = med("mailhost-" + c, "accepted_per_s"), med("mailhost-" + c, "delivered_per_s")
    ba, bd = med("baseline-" + c, "accepted_per_s"), med("baseline-" + c, "delivered_per_s")
    print("%-6s %10.0f / %-9.0f %10.0f / %-9.0f %7.2fx" % (c, ma, md, ba, bd, md / bd if bd == bd and bd else float("nan")))
for mode in sys.argv[2].split():
    lp = "mailhost" if mode == "on" else "mailhost-filter-" + mode
    print("filter %s:" % mode)
    for c in ("c20", "c1"):
        print("  %-4s %10.0f accepted / %-9.0f delivered msg/s" % (c, med(lp + "-" + c, "accepted_per_s"), med(lp + "-" + c, "delivered_per_s")))
    line = "  CPU per message at c20: %.2f ms mailhost (%.2f ms user), %.2f ms PostgreSQL" % (med(lp + "-cpu", "c20_mailhost_ms_per_msg"), med(lp + "-cpu", "c20_mailhost_user_ms_per_msg"), med(lp + "-cpu", "c20_postgres_ms_per_msg"))
    if mode == "rspamd":
        line += ", %.2f ms rspamd" % med(lp + "-cpu", "c20_rspamd_ms_per_msg")
    print(line)
    print("  peak RSS: %.1f MB (VmHWM of the mailhost process; PostgreSQL not included)" % (med(lp + "-rss", "peak_rss_kb") / 1024))
modes = sys.argv[2].split()
if "on" in modes and "off" in modes:
    for c in ("c20", "c1"):
        on, off = med("mailhost-" + c, "delivered_per_s"), med("mailhost-filter-off-" + c, "delivered_per_s")
        print("filter on / off, %s delivered: %.2f" % (c, on / off if off else float("nan")))
if "mailhost-auth-c20" in rows:
    for c in ("c20", "c1"):
        pd, ad = med("mailhost-" + c, "delivered_per_s"), med("mailhost-auth-" + c, "delivered_per_s")
        print("sender checks on, %s: %.0f delivered msg/s, %.0f without: %.0f%%" % (c, ad, pd, 100 * ad / pd if pd else float("nan")))
    print("CPU per message at c20 with the checks: %.2f ms mailhost (%.2f ms user), %.2f ms PostgreSQL; without: %.2f (%.2f user), %.2f" % (
        med("mailhost-auth-cpu", "c20_mailhost_ms_per_msg"), med("mailhost-auth-cpu", "c20_mailhost_user_ms_per_msg"),
        med("mailhost-auth-cpu", "c20_postgres_ms_per_msg"), med("mailhost-cpu", "c20_mailhost_ms_per_msg"),
        med("mailhost-cpu", "c20_mailhost_user_ms_per_msg"), med("mailhost-cpu", "c20_postgres_ms_per_msg")))
    print("files with spf=pass (proof the checks ran): %.0f" % med("mailhost-auth-checked", "files"))
for c in ("c20", "c1"):
    s, n = med("mailhost-sieve-" + c, "delivered_per_s"), med("mailhost-" + c, "delivered_per_s")
    if s == s:
        print("%-6s 50-rule Sieve script on every mailbox: %.0f msg/s delivered, %.2f of the rate without (issue 15: >= 0.90)" % (c, s, s / n))
print("mailhost peak RSS: %.1f MB (VmHWM of the mailhost process; PostgreSQL not included)" % (med("mailhost-rss", "peak_rss_kb") / 1024))
EOF
echo "raw results: $OUT, logs: $work" >&2
