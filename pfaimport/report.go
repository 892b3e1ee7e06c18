package pfaimport

import (
	"fmt"
	"io"
)

// Count is how many objects of a kind an import made and how many it found
// already there (a second run).
type Count struct {
	Created, Existing int
}

// Report is what an import did, or with DryRun would do.
type Report struct {
	DryRun       bool
	Domains      Count
	AliasDomains Count
	Mailboxes    Count
	Aliases      Count
	Forwardings  Count // Postfix Admin aliases of a mailbox's own address with other destinations
	Vacations    Count
	Admins       Count
	Folders      Count
	// SelfAliases counts the aliases Postfix Admin makes of each mailbox to
	// itself: mailhost needs none.
	SelfAliases int
	// Messages and Bytes are the messages indexed (copied with Copy) now;
	// MessagesExisting those a previous run indexed.
	Messages, Bytes  int64
	MessagesExisting int64
	// HashedCleartext counts passwords stored in clear by Postfix Admin and
	// hashed by the import.
	HashedCleartext int
	// PasswordsChanged counts existing mailboxes whose hash is no longer
	// Postfix Admin's: upgraded at a login since the first run, or set
	// anew. They are kept.
	PasswordsChanged int
	// Sieve lists the Sieve scripts found, not imported.
	Sieve []string
	// SieveImported counts the Sieve files handed to the importer.
	SieveImported int
	// Skipped lists what was not imported, and why.
	Skipped []skipped
	// Differences lists what a previous run (or someone since) left
	// different from the source; nothing is overwritten.
	Differences []string
}

type skipped struct {
	What, Why string
}

func (r *Report) skip(what, format string, a ...any) {
	r.Skipped = append(r.Skipped, skipped{What: what, Why: fmt.Sprintf(format, a...)})
}

func (r *Report) differ(format string, a ...any) {
	r.Differences = append(r.Differences, fmt.Sprintf(format, a...))
}

// WriteTo prints the report for a person.
func (r *Report) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	verb := "imported"
	if r.DryRun {
		verb = "would import"
	}
	fmt.Fprintf(cw, "postfixadmin import (%s; existing: already there, left as they are)\n", map[bool]string{true: "dry run", false: "done"}[r.DryRun])
	for _, c := range []struct {
		name string
		c    Count
	}{{"domains", r.Domains}, {"alias domains", r.AliasDomains}, {"mailboxes", r.Mailboxes}, {"aliases", r.Aliases},
		{"forwardings", r.Forwardings}, {"vacation replies", r.Vacations}, {"admins", r.Admins}, {"folders", r.Folders}} {
		fmt.Fprintf(cw, "  %-17s %s %d, existing %d\n", c.name+":", verb, c.c.Created, c.c.Existing)
	}
	fmt.Fprintf(cw, "  %-17s %s %d (%d bytes), existing %d\n", "messages:", verb, r.Messages, r.Bytes, r.MessagesExisting)
	fmt.Fprintf(cw, "  mailbox self-aliases not needed: %d\n", r.SelfAliases)
	if r.HashedCleartext > 0 {
		fmt.Fprintf(cw, "  cleartext passwords hashed: %d\n", r.HashedCleartext)
	}
	if r.PasswordsChanged > 0 {
		fmt.Fprintf(cw, "  passwords changed here since the first run, kept: %d\n", r.PasswordsChanged)
	}
	if r.SieveImported > 0 {
		fmt.Fprintf(cw, "  %-17s %d files\n", "Sieve scripts:", r.SieveImported)
	}
	if len(r.Sieve) > 0 {
		fmt.Fprintf(cw, "Sieve scripts found, not imported (a dry run, or no Sieve importer):\n")
		for _, s := range r.Sieve {
			fmt.Fprintf(cw, "  %s\n", s)
		}
	}
	if len(r.Skipped) > 0 {
		fmt.Fprintf(cw, "skipped (%d):\n", len(r.Skipped))
		for _, s := range r.Skipped {
			fmt.Fprintf(cw, "  %s: %s\n", s.What, s.Why)
		}
	}
	if len(r.Differences) > 0 {
		fmt.Fprintf(cw, "differences (%d):\n", len(r.Differences))
		for _, d := range r.Differences {
			fmt.Fprintf(cw, "  %s\n", d)
		}
	}
	return cw.n, cw.err
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}
