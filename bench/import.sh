#!/usr/bin/env bash
# Import rate of `mailhost import postfixadmin`: a generated Postfix Admin
# database (PostgreSQL) and Dovecot Maildir tree of N messages (100,000)
# over M mailboxes (100), each folder with its dovecot-uidlist and
# dovecot-keywords, messages of about SIZE octets (2048) with flags and
# keywords in their names. Two runs, each into a fresh mailhost database:
#   copy      --copy: every file copied into maildir_root, fsynced, its
#             directory fsynced, then indexed (the durable move)
#   in place  the files stay where Dovecot left them; only the index is
#             written (PostgreSQL commits with fsync as configured)
# Prints messages/s and MB/s of each.
#
# Usage: bench/import.sh          (~2 min for 100,000 messages; needs ~1 GB in $TMPDIR)
# Env: N=100000 M=100 SIZE=2048 KEEP=1 (keep the tree)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${DATABASE_URL:-}" ]; then
	exec go run ./cmd/pgtest "$0" "$@"
fi
N=${N:-100000} M=${M:-100} SIZE=${SIZE:-2048}
work=$(mktemp -d "${TMPDIR:-/tmp}/import-bench-XXXXXX")
[ "${KEEP:-}" = 1 ] || trap 'rm -rf "$work"' EXIT
PSQL=$(ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -1)
PSQL=${PSQL:-psql}
go build -o "$work/mailhost" ./cmd/mailhost

# dburl NAME: $DATABASE_URL with another database name.
dburl() { python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$DATABASE_URL" "$1"; }
suffix=$$
pfa=$(dburl "pfa_bench_$suffix")
"$PSQL" -q "$DATABASE_URL" -c "CREATE DATABASE pfa_bench_$suffix"
trap '"$PSQL" -q "$DATABASE_URL" -c "DROP DATABASE IF EXISTS pfa_bench_$suffix" -c "DROP DATABASE IF EXISTS mh_copy_$suffix" -c "DROP DATABASE IF EXISTS mh_inplace_$suffix" >/dev/null 2>&1; [ "${KEEP:-}" = 1 ] || rm -rf "$work"' EXIT
"$PSQL" -q "$pfa" -f pfaimport/testdata/pfa-postgres.sql
"$PSQL" -q "$pfa" <<SQL
INSERT INTO domain (domain, description, transport) VALUES ('bench.test', '', 'virtual');
INSERT INTO mailbox (username, password, name, maildir, local_part, domain)
  SELECT 'u' || i || '@bench.test', '{PLAIN}secret', '', 'bench.test/u' || i || '/', 'u' || i, 'bench.test'
  FROM generate_series(1, $M) i;
SQL

echo "== generating $N messages of ~$SIZE octets in $M Maildirs"
python3 - "$work/dovecot" "$N" "$M" "$SIZE" <<'PY'
import os, sys
root, n, m, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
body = (b'x' * 71 + b'\n') * (size // 72)
per = n // m
for b in range(1, m + 1):
    home = os.path.join(root, 'bench.test', 'u%d' % b)
    folders = {'': per - per // 5, '.Archive': per // 10, '.Archive.2024': per - (per - per // 5) - per // 10}
    for folder, count in folders.items():
        d = os.path.join(home, folder)
        for s in ('cur', 'new', 'tmp'):
            os.makedirs(os.path.join(d, s), exist_ok=True)
        uv = 1600000000 + b
        lines = ['3 V%d N%d G0' % (uv, count + 1)]
        for i in range(1, count + 1):
            key = '%d.M%dP%d.dovecot,S=%d,W=%d' % (1600000000 + i, i, b, size, size)
            flags = ('S' if i % 2 else '') + ('F' if i % 7 == 0 else '') + ('a' if i % 3 == 0 else '')
            with open(os.path.join(d, 'cur', key + ':2,' + ''.join(sorted(flags))), 'wb') as f:
                f.write(b'Subject: message %d\n\n' % i + body)
            lines.append('%d :%s' % (i, key))
        with open(os.path.join(d, 'dovecot-uidlist'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
        with open(os.path.join(d, 'dovecot-keywords'), 'w') as f:
            f.write('0 $Label1\n')
    with open(os.path.join(home, 'subscriptions'), 'w') as f:
        f.write('V\t2\n\nArchive\nArchive\t2024\n')
PY
sync

# run NAME MAILDIR_ROOT ARGS...: import into a fresh database, print the rate.
run() {
	local name=$1 db="mh_${1}_$suffix" root=$2
	shift 2
	"$PSQL" -q "$DATABASE_URL" -c "CREATE DATABASE $db"
	local env=(DATABASE_URL="$(dburl "$db")" MAILHOST_DATA_DIR="$work/data-$name" MAILHOST_MAILDIR_ROOT="$root" MAILHOST_PASSWORD_ARGON2_TIME=1
		MAILHOST_PASSWORD_ARGON2_MEMORY_KIB=64)
	if [ "$(id -u)" != 0 ]; then env+=(MAILHOST_VMAIL_UID="$(id -u)" MAILHOST_VMAIL_GID="$(id -g)"); fi
	env "${env[@]}" "$work/mailhost" migrate >/dev/null
	sync
	local t0 t1
	t0=$(date +%s.%N)
	env "${env[@]}" "$work/mailhost" import postfixadmin --from "$pfa" "$@" >"$work/report-$name"
	t1=$(date +%s.%N)
	grep -E '^  messages:' "$work/report-$name"
	python3 -c 'import sys; n, s, t = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]); print("%-8s %d messages in %.1f s: %.0f msgs/s, %.1f MB/s" % (sys.argv[4], n, t, n / t, n * s / t / 1e6))' \
		"$N" "$SIZE" "$(echo "$t1 - $t0" | bc)" "$name"
}
run copy "$work/data-copy/vmail" --maildir-root "$work/dovecot" --copy
run inplace "$work/dovecot" --maildir-root "$work/dovecot"
