#!/usr/bin/env bash
# Time from `mailhost serve` start to a healthy /healthz, on a fresh data
# directory (initdb + migrations) and on an existing one (cluster reused).
# Usage: bench/startup.sh [ROUNDS]   (default 5; prints medians in ms)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
BIN=${BIN:-bin/mailhost}
[ -x "$BIN" ] || go build -o "$BIN" ./cmd/mailhost
PORT=${PORT:-18080}
base=$(mktemp -d /tmp/mailhost-bench-XXXX); chmod 755 "$base"
trap 'rm -rf "$base"' EXIT
export MAILHOST_LISTEN_HTTP=127.0.0.1:$PORT
for l in SMTP SUBMISSION SUBMISSIONS IMAP IMAPS POP3 POP3S; do export MAILHOST_LISTEN_$l=off; done
unset DATABASE_URL

now_ms() { date +%s%3N; }

# start DATA: prints ms to healthy; the server's pid is left in $base/pid
start() {
	local t0 pid; t0=$(now_ms)
	"$BIN" serve --data-dir "$1" >"$base/log" 2>&1 &
	pid=$!; echo "$pid" >"$base/pid"
	until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; do
		kill -0 "$pid" 2>/dev/null || { cat "$base/log" >&2; exit 1; }
		sleep 0.01
	done
	echo $(( $(now_ms) - t0 ))
}
stop() {
	local pid; pid=$(cat "$base/pid")
	kill -TERM "$pid"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

fresh=(); existing=()
for i in $(seq "$ROUNDS"); do
	d="$base/data$i"
	fresh+=("$(start "$d")"); stop
	existing+=("$(start "$d")"); stop
done
echo "fresh data dir:    ${fresh[*]} ms -> median $(printf '%s\n' "${fresh[@]}" | median) ms"
echo "existing data dir: ${existing[*]} ms -> median $(printf '%s\n' "${existing[@]}" | median) ms"
