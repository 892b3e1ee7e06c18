#!/usr/bin/env bash
# POP3 download of N messages (1000) of about SIZE octets (10240, LF line
# endings as delivered): one client session logs in, STATs and RETRs every
# message in turn (no pipelining, as fetchmail and mail clients do), QUITs
# without deleting. Reports msgs/s and MB/s (octets received) for mailhost
# over POP3 and POP3S, and, with BASELINE=1, for the private Dovecot of
# ../shared/bench on the same messages with the same client (the Go
# benchmark pop3d.BenchmarkPOP3Download).
#
# mailhost runs in the benchmark's process on a real PostgreSQL (a
# throwaway cluster, or $DATABASE_URL), with the messages delivered as the
# delivery agent does (file + index row); the client talks to it over
# loopback TCP.
#
# Usage: bench/pop3-download.sh        (BASELINE=1 needs root; ~1 min)
# Env: N=1000 SIZE=10240 BENCHTIME=5x BASELINE=1 SHARED=../shared/bench
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000} SIZE=${SIZE:-10240} BENCHTIME=${BENCHTIME:-5x} BASELINE=${BASELINE:-1}
SHARED=${SHARED:-../shared/bench}
export POP3_BENCH_MESSAGES=$N POP3_BENCH_SIZE=$SIZE

bench() {
	go run ./cmd/pgtest go test -run '^$' -bench '^BenchmarkPOP3Download$' -benchtime "$1" ./pop3d |
		grep -E '^Benchmark' | sed -E 's/-[0-9]+ +/ /'
}

echo "== mailhost: $N messages of ~$SIZE octets"
bench "$BENCHTIME"

[ "$BASELINE" = 1 ] || exit 0
[ "$(id -u)" = 0 ] || { echo "pop3-download.sh: BASELINE=1 needs root (or BASELINE=0)" >&2; exit 1; }
command -v dovecot >/dev/null || { echo "pop3-download.sh: dovecot-pop3d is not installed (see $SHARED/README.md)" >&2; exit 1; }
"$SHARED/stack-up.sh" >/dev/null
trap '"$SHARED/stack-down.sh" >/dev/null 2>&1 || true' EXIT
# shellcheck disable=SC1091
. "${STACK_DIR:-/tmp/baseline/stack}/stack.env"
md=$MAILDIR_ROOT/bench.test/u1/Maildir
rm -rf "$md"; mkdir -p "$md/cur" "$md/new" "$md/tmp"
# The same messages as the benchmark delivers to mailhost (benchMessage).
python3 - "$md/new" "$N" "$SIZE" <<'PY'
import sys
d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
line = ("The quick brown fox jumps over the lazy dog. " * 2)[:72] + "\n"
for i in range(n):
    s = (f"From: sender{i}@remote.test\nTo: alice@example.com\nSubject: message {i}\n"
         f"Message-ID: <{i}@remote.test>\nDate: Mon, 2 Jan 2026 15:04:05 +0000\n\n")
    while len(s) < size:
        s += line
    with open(f"{d}/{1700000000 + i}.M{i}P1.bench,S={len(s)}", "w") as f:
        f.write(s)
PY
chown -R "${MAIL_UID:-5000}:${MAIL_GID:-5000}" "$MAILDIR_ROOT/bench.test"
export POP3_BENCH_ADDR=127.0.0.1:10110 POP3_BENCH_USER=u1@bench.test POP3_BENCH_PASS=secret
bench 1x >/dev/null # Dovecot builds its index and UID list on the first login
echo "== Dovecot (baseline, plain POP3): $N messages of ~$SIZE octets"
bench "$BENCHTIME"
