#!/usr/bin/env bash
# FETCH of the headers (ENVELOPE, FLAGS, sizes, BODY.PEEK[HEADER.FIELDS (...)])
# of a 10,000-message mailbox, and SEARCH over it (a flag, a header, body
# text), through the real server and the go-imap client on loopback; and
# SORT (ARRIVAL, DATE, SUBJECT) and THREAD REFERENCES over 10,000 messages in
# threads of five, cold (a new session: every header read) and warm
# (repeated in one session: its header summaries).
# The first SELECT adopts the 10,000 files dropped into new/ (timed in the log).
#
# Usage: bench/imap-fetch-search.sh [BENCHTIME]   (default 3x)
# Uses $DATABASE_URL when set, else a throwaway embedded cluster (cmd/pgtest).
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./cmd/pgtest go test -run '^$' -bench 'IMAP10k' -benchtime "${1:-3x}" -timeout 30m ./imapd/
