#!/usr/bin/env bash
# Memory under a login storm: 500 parallel IMAP LOGINs (half with the right
# password, half wrong) against a mailhost using the default password hash
# (ARGON2ID, 19 MiB and 2 passes per hash), each from its own loopback
# address and spread over 50 mailboxes (each gets as many right as wrong
# passwords, fewer than auth.max_failures), so the throttle refuses none
# and every LOGIN costs a real hash. What bounds the memory is
# auth.max_concurrent_hashes (sized from memory by default: at most 2 per
# CPU). Reports the server's peak RSS (VmHWM of
# /proc/PID/status: the mailhost process alone, its embedded PostgreSQL is
# separate processes), the answers, the hashes computed and the wall time.
#
# Usage: bench/login-storm.sh         (N=500 USERS=50 PORT=21443)
# Env: HASHES=n sets auth.max_concurrent_hashes (default: sized from memory)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-500} USERS=${USERS:-50} PORT=${PORT:-21443} HTTP_PORT=${HTTP_PORT:-21480}
BIN=${BIN:-bin/mailhost}
go build -o "$BIN" ./cmd/mailhost
work=$(mktemp -d /tmp/mailhost-loginstorm.XXXXXX); chmod 755 "$work"
pid=""
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$work"
	true
}
trap cleanup EXIT
ulimit -n 20000 2>/dev/null || true
export MAILHOST_DATA_DIR=$work/data MAILHOST_HOSTNAME=mail.bench.test MAILHOST_LOG_LEVEL=${LOG_LEVEL:-warn}
for l in SMTP SUBMISSION SUBMISSIONS IMAPS POP3 POP3S; do export MAILHOST_LISTEN_$l=off; done
export MAILHOST_LISTEN_IMAP=127.0.0.1:$PORT MAILHOST_LISTEN_HTTP=127.0.0.1:$HTTP_PORT
# Every LOGIN waits its turn for a hash rather than failing at 10 s.
export MAILHOST_AUTH_HASH_WAIT_SECONDS=300
[ -n "${HASHES:-}" ] && export MAILHOST_AUTH_MAX_CONCURRENT_HASHES=$HASHES
unset DATABASE_URL MAILHOST_PASSWORD_SCHEME MAILHOST_PASSWORD_ARGON2_MEMORY_KIB MAILHOST_PASSWORD_ARGON2_TIME
"$BIN" domain add bench.test >/dev/null
for i in $(seq "$USERS"); do
	echo "bench-password-$i" | "$BIN" mailbox add "u$i@bench.test" --password-stdin >/dev/null
done
"$BIN" serve >>"$work/serve.log" 2>&1 &
pid=$!
until (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null; do
	kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
	sleep 0.05
done
rss() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$pid/status"; }
metric() { curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
echo "mailhost $(git rev-parse --short HEAD 2>/dev/null || echo '(no git)'), $(nproc) CPUs, $(awk '/MemAvailable/ { printf "%.1f GiB available", $2/1048576 }' /proc/meminfo), N=$N over $USERS mailboxes, ARGON2ID m=19456 KiB t=2"
echo "before the storm: RSS $(( $(rss VmRSS) / 1024 )) MiB"
hashes0=$(metric mailhost_auth_hashes_total)
python3 - "$PORT" "$N" "$USERS" <<'PY'
import imaplib, socket, sys, threading, time
port, n, users = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])

class IMAPFrom(imaplib.IMAP4):
    """imaplib from a chosen loopback source address."""
    def __init__(self, source, port):
        self.source = source
        super().__init__("127.0.0.1", port, timeout=600)
    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, source_address=(self.source, 0))

answers, lock, start = {}, threading.Lock(), threading.Barrier(n)
def login(i):
    user = i % users + 1
    right = (i // users) % 2 == 0  # each mailbox: half right, half wrong
    pw = f"bench-password-{user}" if right else f"wrong-{i}"
    source = f"127.0.{1 + i // 250}.{i % 250 + 1}"
    try:
        c = IMAPFrom(source, port)
        start.wait()
        try:
            c.login(f"u{user}@bench.test", pw)
            got = "OK"
            c.logout()
        except imaplib.IMAP4.error as e:
            got = "NO " + str(e).split("]")[0].lstrip("b'[")
    except Exception as e:
        got = type(e).__name__
    with lock:
        answers[(right, got)] = answers.get((right, got), 0) + 1

t0 = time.time()
threads = [threading.Thread(target=login, args=(i,)) for i in range(n)]
for t in threads: t.start()
for t in threads: t.join()
dt = time.time() - t0
for (right, got), k in sorted(answers.items()):
    print(f"  {'right' if right else 'wrong'} password -> {got}: {k}")
print(f"{n} parallel LOGINs answered in {dt:.1f}s")
PY
hashes1=$(metric mailhost_auth_hashes_total)
echo "hashes computed: $(( ${hashes1%.*} - ${hashes0%.*} )), busy refusals: $(metric mailhost_auth_hash_busy_total)"
echo "peak RSS of mailhost (VmHWM): $(( $(rss VmHWM) / 1024 )) MiB"
