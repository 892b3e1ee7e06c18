// Command mailhost is the whole mail server: SMTP, submission, IMAP, POP3,
// the web panel and the REST API, plus the operator's command line.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// command is one subcommand: mailhost NAME [flags] [args].
type command struct {
	summary string
	run     func(ctx context.Context, args []string, io stdio) error
}

// stdio is where a command reads and writes, so tests can run commands.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

func commands() map[string]command {
	return map[string]command{
		"serve":    {"run every server until SIGTERM or SIGINT", cmdServe},
		"migrate":  {"apply database migrations (--status lists them)", cmdMigrate},
		"config":   {"print the effective configuration, secrets redacted (config check validates it)", cmdConfig},
		"passwd":   {"passwd hash: print a password hash for a password read from stdin", cmdPasswd},
		"domain":   {"domain add|list|show|update|del: manage domains", cmdDomain},
		"mailbox":  {"mailbox add|list|show|update|passwd|del|purge-retained: manage mailboxes", cmdMailbox},
		"alias":    {"alias add|list|del: manage aliases and catch-alls", cmdAlias},
		"admin":    {"admin add|list|del: manage administrators (--super, --domain)", cmdAdmin},
		"token":    {"token create ADMIN --name NAME: print a new API token", cmdToken},
		"auth":     {"auth blocks | unblock ADDRESS|ACCOUNT: the login throttle's blocks (client addresses, accounts)", cmdAuth},
		"queue":    {"queue list|show|flush|hold|release|delete: the outbound queue (mailq, postqueue, postsuper, postcat)", cmdQueue},
		"sendmail": {"sendmail [-t] [-i] [-f SENDER] [RCPT...]: send a message read on stdin (as Postfix's sendmail)", cmdSendmail},
		"reindex":  {"reindex [ADDRESS]: rebuild a mailbox's message index (all mailboxes without ADDRESS) from its Maildir", cmdReindex},
		"check":    {"check [--repair] [ADDRESS]: compare the message index with the Maildirs, report (and repair) differences", cmdCheck},
		"version":  {"print the version, the commit it was built from and the Go version (also --version)", cmdVersion},
		"import":   {"import postfixadmin --from DSN --maildir-root DIR [--copy] [--dry-run]: move a Postfix Admin + Dovecot installation in", cmdImport},

		// The SMTP server's policy tables (accesscmd.go).
		"access":    {"access add|list|delete: the SMTP server's access rules (Postfix access(5))", cmdAccess},
		"relocated": {"relocated add|list|delete: addresses whose users moved (Postfix relocated(5))", cmdRelocated},

		// Second factors and app passwords (secondfactorcmd.go).
		"app-password": {"app-password add|list|revoke: a mailbox's passwords for mail programs, each for some protocols", cmdAppPassword},
		"totp":         {"totp status|reset|policy: panel second factors (a reset for a lost device) and the admins' policy", cmdTOTP},

		// DKIM keys and the DNS records of a domain (dnscmd.go).
		"dkim": {"dkim list DOMAIN | rotate DOMAIN | check: a domain's DKIM keys and their TXT records, a rotation, the rotation check now", cmdDKIM},
		"dns":  {"dns DOMAIN [--check]: the DNS records a domain needs, as zone-file lines; --check looks them up", cmdDNS},
	}
}

// errUsage marks an error whose message is a usage line.
var errUsage = errors.New("usage")

// exitError is an error with the exit status it asks for (sendmail's
// sysexits.h codes); other errors exit with 1, usage errors with 2.
type exitError struct {
	status int
	err    error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	os.Exit(run(context.Background(), os.Args, stdio{os.Stdin, os.Stdout, os.Stderr}))
}

func run(ctx context.Context, argv []string, sio stdio) int {
	args := argv[1:]
	switch filepath.Base(argv[0]) { // installed as /usr/sbin/sendmail or mailq
	case "sendmail":
		args = append([]string{"sendmail"}, args...)
	case "mailq":
		args = append([]string{"queue", "list"}, args...)
	}
	switch {
	case len(args) == 0: // a usage error: the command is missing
		usage(sio.err)
		return 2
	case args[0] == "help" || args[0] == "-h" || args[0] == "--help":
		usage(sio.out)
		return 0
	case args[0] == "--version" || args[0] == "-version":
		args[0] = "version"
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(sio.err, "mailhost: unknown command %q (mailhost help lists them)\n", args[0])
		return 2
	}
	if err := cmd.run(ctx, args[1:], sio); err != nil {
		if errors.Is(err, errHelp) {
			return 0
		}
		fmt.Fprintf(sio.err, "mailhost %s: %s\n", args[0], oneLine(err))
		var ee *exitError
		switch {
		case errors.As(err, &ee):
			return ee.status
		case errors.Is(err, errUsage):
			return 2
		}
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s COMMAND [flags] [args]\n\ncommands:\n", filepath.Base(os.Args[0]))
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nEvery command takes --config FILE, --data-dir DIR and -h for its flags.")
}

// oneLine puts a joined error (several problems, one per line) on one
// line, the problems separated by "; ".
func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
}
