#!/usr/bin/env bash
# Installs what mailhost and its tests need on a fresh Debian machine with Go:
# the PostgreSQL server binaries (embedded default and tests), the real
# clients and peers the tests drive (listed below), and the Go modules.
# Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# Debian packages: a file that proves it is installed -> package.
declare -A want=(
	[/usr/lib/postgresql]=postgresql
	# OpenSSL's headers: dkimsign signs RSA with libcrypto (cgo).
	[/usr/include/openssl/evp.h]=libssl-dev
	[/usr/bin/swaks]=swaks # SMTP client of the mta and cmd/mailhost tests
	# swaks's STARTTLS and --tls (it only recommends the package, and
	# recommendations are not installed below).
	[/usr/share/doc/libnet-ssleay-perl/copyright]=libnet-ssleay-perl
	# Python's smtplib, imaplib and poplib, clients of the mta, imapd, pop3d
	# and cmd/mailhost tests. Not /usr/bin/python3: python3-minimal has it,
	# without those modules.
	[/usr/bin/pydoc3]=python3
	[/usr/bin/fetchmail]=fetchmail # POP3 client of the pop3d tests (full download)
	[/usr/bin/curl]=curl # pop3://, pop3s:// (and imap) client of the tests
	[/usr/bin/chromium]=chromium # headless browser of the web panel's end-to-end test (chromedp)
	[/usr/bin/mbsync]=isync # IMAP client of the imapd tests (full download, two-way sync)
	# Terminal mail reader the imapd tests drive under a pseudo-terminal
	# (flag, delete, read, save, sync over IMAP).
	[/usr/bin/mutt]=mutt
	[/usr/lib/dovecot/imap]=dovecot-imapd # the reference IMAP server of mailsort's SORT/THREAD comparison test
	[/usr/bin/pebble]=pebble # the ACME test authority of TestACMEWithPebble
	[/usr/bin/openssl]=openssl # s_client: which certificate a listener presents (TestACMEWithPebble)
	[/usr/bin/systemd-analyze]=systemd # verifies the unit `make install` installs (TestMakeInstall)
	[/usr/sbin/smtp-sink]=postfix # smtp-sink: remote MX / relay host of the queue tests and bench/submission.sh
	# The import's end-to-end test runs a private Dovecot (IMAP, POP3) to
	# make the Maildirs and UIDLs it imports.
	[/usr/lib/dovecot/pop3]=dovecot-pop3d
	# The import's MariaDB source: the test starts its own mariadbd on a
	# socket in a temporary directory.
	[/usr/sbin/mariadbd]=mariadb-server
	# The content filter's real milter peers (contentfilter and mta tests,
	# bench/smtp-in.sh): rspamd's proxy worker in milter mode, ClamAV's
	# daemon and milter. The tests start them on loopback with private
	# configurations and an EICAR-only signature file: no downloads.
	[/usr/bin/rspamd]=rspamd
	[/usr/sbin/clamd]=clamav-daemon
	[/usr/sbin/clamav-milter]=clamav-milter
	# dkimpy: the independent DKIM verifier of the dkimsign tests (dkim.verify with
	# the test's own DNS answers; python3-nacl for Ed25519 comes with it).
	[/usr/bin/dkimverify]=python3-dkim
	[/usr/bin/sieve-connect]=sieve-connect # ManageSieve client of the managesieve tests
)
missing=()
for probe in "${!want[@]}"; do
	[ -e "$probe" ] || missing+=("${want[$probe]}")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	# Only postfix's smtp-sink is wanted: "No configuration" keeps the
	# package from setting up (and starting) a mail server on port 25.
	echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
	# No daemon is wanted from these packages (Dovecot's would take ports
	# 143 and 993): a policy-rc.d that refuses every start keeps their
	# install scripts from starting one, also where no init system runs.
	policy=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		policy=/usr/sbin/policy-rc.d
		trap '$SUDO rm -f "$policy"' EXIT
		printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
		$SUDO chmod 755 "$policy"
	fi
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	if [ -n "$policy" ]; then $SUDO rm -f "$policy"; fi
fi

# Never leave a Postfix daemon holding port 25 (installed here or before).
if [ -x /usr/sbin/postfix ] && $SUDO /usr/sbin/postfix status >/dev/null 2>&1; then
	$SUDO /usr/sbin/postfix stop >/dev/null 2>&1 || true
fi
if command -v systemctl >/dev/null && systemctl is-enabled postfix >/dev/null 2>&1; then
	$SUDO systemctl disable --now postfix >/dev/null 2>&1 || true
fi
# Nor a Dovecot holding ports 143 and 993: the tests run its imap binary
# themselves, without the daemon.
if command -v systemctl >/dev/null && systemctl is-enabled dovecot >/dev/null 2>&1; then
	$SUDO systemctl disable --now dovecot >/dev/null 2>&1 || true
fi
if [ -x /usr/sbin/dovecot ] && $SUDO /usr/sbin/dovecot stop >/dev/null 2>&1; then :; fi
# Nor a system-wide MariaDB: the import tests start their own mariadbd.
if command -v systemctl >/dev/null && systemctl is-enabled mariadb >/dev/null 2>&1; then
	$SUDO systemctl disable --now mariadb >/dev/null 2>&1 || true
fi
if [ -e /run/mysqld/mysqld.pid ]; then
	$SUDO kill "$(cat /run/mysqld/mysqld.pid)" 2>/dev/null || true
fi
# Nor rspamd, clamd, freshclam (which would download signatures) or
# clamav-milter running system-wide (the policy-rc.d above kept the
# install from starting them): the tests start their own.
for unit in rspamd clamav-daemon clamav-freshclam clamav-milter; do
	if command -v systemctl >/dev/null && systemctl is-enabled "$unit" >/dev/null 2>&1; then
		$SUDO systemctl disable --now "$unit" >/dev/null 2>&1 || true
	fi
done

go mod download
echo "setup: ok"
