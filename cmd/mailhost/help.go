package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// verbDoc is what `mailhost COMMAND VERB -h` prints about one verb: its
// arguments, what it does, and an example.
type verbDoc struct {
	args, does, example string
}

// verbDocs documents the verbs of the provisioning commands, keyed
// "command verb". A verb without an entry gets its command's usage line.
func verbDocs() map[string]verbDoc {
	return map[string]verbDoc{
		"domain add":             {"DOMAIN", "adds a domain (IDNA input, stored as an A-label); 0 means unlimited, sizes take K/M/G/T", "mailhost domain add example.com --max-mailboxes 50 --max-quota 2G"},
		"domain list":            {"", "lists the domains with their usage against their limits", "mailhost domain list --q example"},
		"domain show":            {"DOMAIN", "shows a domain and its usage", "mailhost domain show example.com"},
		"domain update":          {"DOMAIN", "changes a domain; only the flags given change", "mailhost domain update example.com --quota 50G"},
		"domain del":             {"DOMAIN", "deletes a domain; one with mailboxes or aliases only with --force, which retains their Maildirs", "mailhost domain del example.com"},
		"mailbox add":            {"ADDRESS", "adds a mailbox and its Maildir with the standard folders; without a password on stdin or a terminal it generates one and shows it once", "mailhost mailbox add ann@example.com --name \"Ann Example\" --quota 2G --password-stdin < pw.txt"},
		"mailbox list":           {"DOMAIN", "lists a domain's mailboxes with quota and usage", "mailhost mailbox list example.com --q ann"},
		"mailbox show":           {"ADDRESS", "shows a mailbox", "mailhost mailbox show ann@example.com"},
		"mailbox update":         {"ADDRESS", "changes a mailbox; only the flags given change", "mailhost mailbox update ann@example.com --quota 5G"},
		"mailbox passwd":         {"ADDRESS", "sets a mailbox's password, read from stdin or a prompt", "mailhost mailbox passwd ann@example.com --password-stdin < pw.txt"},
		"mailbox del":            {"ADDRESS", "deletes a mailbox; its Maildir is retained for mailbox.retention_days unless --purge", "mailhost mailbox del ann@example.com"},
		"mailbox purge-retained": {"", "removes the retained Maildirs whose time has come", "mailhost mailbox purge-retained"},
		"alias add":              {"ADDRESS DESTINATION...", "adds an alias, or a catch-all @domain", "mailhost alias add sales@example.com ann@example.com bob@example.org"},
		"alias list":             {"DOMAIN", "lists a domain's aliases", "mailhost alias list example.com"},
		"alias del":              {"ADDRESS", "deletes an alias", "mailhost alias del sales@example.com"},
		"admin add":              {"USERNAME", "adds an administrator: a super-admin, or an admin of the domains named", "mailhost admin add carol --domain example.com --password-stdin < pw.txt"},
		"admin list":             {"", "lists the administrators", "mailhost admin list"},
		"admin del":              {"USERNAME", "deletes an administrator", "mailhost admin del carol"},
		"token create":           {"ADMIN", "creates an API token acting with ADMIN's rights and prints only the token (shown once)", "TOKEN=$(mailhost token create carol --name provisioning)"},
		"token list":             {"[ADMIN]", "lists API tokens (of one admin): id, name, prefix, creation, last use, state", "mailhost token list carol"},
		"token revoke":           {"ID", "revokes an API token at once", "mailhost token revoke 3"},
		"app-password add":       {"ADDRESS", "creates an app password for the protocols named and prints only the password (shown once)", "mailhost app-password add ann@example.com --name phone --protocol imap,smtp"},
		"app-password list":      {"ADDRESS", "lists a mailbox's app passwords", "mailhost app-password list ann@example.com"},
		"app-password revoke":    {"ADDRESS ID", "revokes an app password", "mailhost app-password revoke ann@example.com 2"},
		"totp status":            {"USERNAME|ADDRESS", "shows whether an admin or a mailbox owner has a panel second factor", "mailhost totp status carol"},
		"totp reset":             {"USERNAME|ADDRESS", "removes a lost second factor, so its owner can log in and enrol again", "mailhost totp reset ann@example.com"},
		"totp policy":            {"", "shows or sets whether every admin must have a second factor", "mailhost totp policy --require-admins=true"},
		"auth blocks":            {"", "lists the login throttle's running blocks", "mailhost auth blocks --json"},
		"auth unblock":           {"ADDRESS|ACCOUNT", "lifts the block of a client address (IPv6: its /64) or an account", "mailhost auth unblock 192.0.2.7"},
		"queue list":             {"", "lists the outbound queue as mailq does", "mailhost queue list --state deferred"},
		"queue show":             {"ID", "shows one queued message", "mailhost queue show 0662A9B1C4D2E1A3F07C --body"},
		"queue flush":            {"[ID]", "makes waiting recipients due now: of one message, one domain or all", "mailhost queue flush --domain example.org"},
		"queue hold":             {"ID", "stops delivery attempts of a message", "mailhost queue hold 0662A9B1C4D2E1A3F07C"},
		"queue release":          {"ID", "releases a held message and tries it at once", "mailhost queue release 0662A9B1C4D2E1A3F07C"},
		"queue delete":           {"ID", "removes a message, or every message with --all, without notice to the sender", "mailhost queue delete 0662A9B1C4D2E1A3F07C"},
		"access add":             {"KIND PATTERN ACTION [TEXT...]", "adds an access rule as a Postfix access map line (KIND client, helo, sender or recipient)", "mailhost access add client 192.0.2.0/24 REJECT spam source"},
		"access list":            {"", "lists the access rules", "mailhost access list --kind client"},
		"access delete":          {"KIND PATTERN | ID", "deletes an access rule", "mailhost access delete client 192.0.2.0/24"},
		"relocated add":          {"ADDRESS NEW_LOCATION...", "marks user@domain or @domain as moved", "mailhost relocated add bob@example.com bob@example.org"},
		"relocated list":         {"", "lists the relocated addresses", "mailhost relocated list"},
		"relocated delete":       {"ADDRESS", "deletes a relocated address", "mailhost relocated delete bob@example.com"},
	}
}

// verbHelp prints the help of one verb: usage, what it does, an example,
// and only the flags the verb takes.
func (p *provisioning) verbHelp(w io.Writer, verb string) {
	cmd := strings.TrimPrefix(p.fs.Name(), "mailhost ")
	docs := verbDocs()
	doc, ok := docs[cmd+" "+verb]
	if !ok && verb == "del" { // access and relocated take both names
		doc, ok = docs[cmd+" delete"]
	}
	usage := strings.TrimSpace(fmt.Sprintf("mailhost %s %s %s", cmd, verb, doc.args))
	fmt.Fprintf(w, "usage: %s [flags]\n", usage)
	if ok {
		fmt.Fprintf(w, "\n%s.\n\nexample:\n  %s\n", upperFirst(doc.does), doc.example)
	}
	own := flag.NewFlagSet("", flag.ContinueOnError)
	own.SetOutput(w)
	allowed := append([]string{"json"}, p.verbs[verb]...)
	for _, name := range allowed {
		if f := p.fs.Lookup(name); f != nil {
			own.Var(f.Value, f.Name, f.Usage)
		}
	}
	fmt.Fprintln(w, "\nflags:")
	own.PrintDefaults()
	fmt.Fprintln(w, "\nand the flags of every command: --config FILE, --data-dir DIR, --database-url URL, --hostname NAME, --log-level LEVEL, --log-format text|json")
}

// commandHelp prints a provisioning command's verbs, one a line.
func (p *provisioning) commandHelp(w io.Writer, usage string) {
	cmd := strings.TrimPrefix(p.fs.Name(), "mailhost ")
	fmt.Fprintf(w, "usage: %s\n\n", usage)
	docs := verbDocs()
	verbs := make([]string, 0, len(p.verbs))
	for v := range p.verbs {
		if _, both := p.verbs["delete"]; both && v == "del" {
			continue
		}
		verbs = append(verbs, v)
	}
	sort.Strings(verbs)
	for _, v := range verbs {
		doc := docs[cmd+" "+v]
		fmt.Fprintf(w, "  %-16s %s\n", v+" "+doc.args, doc.does)
	}
	fmt.Fprintf(w, "\n`mailhost %s VERB -h` shows a verb's flags and an example.\n", cmd)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
