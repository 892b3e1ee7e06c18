package maildir

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// The standard Maildir flag letters (https://cr.yp.to/proto/maildir.html),
// written after ":2," in ASCII order.
const (
	FlagDraft   = 'D' // IMAP \Draft
	FlagFlagged = 'F' // IMAP \Flagged
	FlagPassed  = 'P' // forwarded/bounced; no IMAP system flag (clients use $Forwarded)
	FlagReplied = 'R' // IMAP \Answered
	FlagSeen    = 'S' // IMAP \Seen
	FlagTrashed = 'T' // IMAP \Deleted
)

// maxNameLen is NAME_MAX of the common Linux file systems.
const maxNameLen = 255

// Flags is the info part of a cur/ file name after ":2,": upper-case letters
// for the standard flags and Dovecot keyword letters 'a'..'z' (their meaning
// lives in dovecot-keywords; this package preserves them without
// interpreting them). The canonical form, which ParseName and ParseFlags
// return and FormatName writes, holds each letter once in ASCII order, so the
// standard flags come first.
type Flags string

// ParseFlags checks that s holds only ASCII letters and returns them in
// canonical form.
func ParseFlags(s string) (Flags, error) {
	for i := 0; i < len(s); i++ {
		if !isLetter(s[i]) {
			return "", &NameError{What: "flags", Name: s, Reason: "only ASCII letters are flags"}
		}
	}
	return canonicalFlags(s), nil
}

// canonicalFlags keeps the ASCII letters of s, once each, in ASCII order.
func canonicalFlags(s string) Flags {
	var seen [128]bool
	for i := 0; i < len(s); i++ {
		if isLetter(s[i]) {
			seen[s[i]] = true
		}
	}
	var b []byte
	for c := range seen {
		if seen[c] {
			b = append(b, byte(c))
		}
	}
	return Flags(b)
}

func isLetter(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }

// Has reports whether flag letter c is set.
func (f Flags) Has(c byte) bool { return strings.IndexByte(string(f), c) >= 0 }

// With returns f with the letters of add set, in canonical form.
func (f Flags) With(add string) Flags { return canonicalFlags(string(f) + add) }

// Without returns f with the letters of del cleared, in canonical form.
func (f Flags) Without(del string) Flags {
	kept := strings.Map(func(r rune) rune {
		if strings.ContainsRune(del, r) {
			return -1
		}
		return r
	}, string(f))
	return canonicalFlags(kept)
}

// Keywords returns the keyword letters ('a'..'z') of f.
func (f Flags) Keywords() string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r
		}
		return -1
	}, string(f))
}

// IMAPFlag returns the IMAP system flag (RFC 3501 2.3.2) that Maildir flag
// letter c stands for, or "" if none (P, keyword letters, anything else).
func IMAPFlag(c byte) string {
	switch c {
	case FlagDraft:
		return `\Draft`
	case FlagFlagged:
		return `\Flagged`
	case FlagReplied:
		return `\Answered`
	case FlagSeen:
		return `\Seen`
	case FlagTrashed:
		return `\Deleted`
	}
	return ""
}

// FlagLetter returns the Maildir letter for an IMAP system flag (compared
// case-insensitively), or 0 if the flag has none (\Recent has none: it is
// not stored).
func FlagLetter(imapFlag string) byte {
	for _, c := range []byte{FlagDraft, FlagFlagged, FlagReplied, FlagSeen, FlagTrashed} {
		if strings.EqualFold(imapFlag, IMAPFlag(c)) {
			return c
		}
	}
	return 0
}

// Info is what a message file name says.
type Info struct {
	Name  string // the file name as given
	Key   string // everything before ":2,"; the message's stable identity
	Size  int64  // from ",S=<n>" in the key (RFC 822 size on disk), -1 if absent
	VSize int64  // from ",W=<n>" in the key (size with CRLF line ends), -1 if absent
	Flags Flags  // canonical; empty if the name has no ":2," part
}

// ParseName parses a message file name. It accepts names from Dovecot,
// Courier, mutt and others; it rejects names that cannot be a message or are
// unsafe as a path or an index key: empty, longer than 255 bytes, starting
// with '.', containing '/', ':' (other than the ":2," separator), NUL or other
// control characters, or not valid UTF-8. Non-letters in the flags are
// ignored. An info part other than ":2," (for example the experimental ":1,")
// makes the name invalid.
func ParseName(name string) (Info, error) {
	bad := func(why string) (Info, error) {
		return Info{}, &NameError{What: "file name", Name: name, Reason: why}
	}
	if name == "" {
		return bad("empty")
	}
	if len(name) > maxNameLen {
		return bad("longer than 255 bytes")
	}
	if name[0] == '.' {
		return bad("starts with '.'")
	}
	if !utf8.ValidString(name) {
		return bad("not valid UTF-8")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c == 0x7f {
			return bad("contains a control character")
		}
	}
	if strings.IndexByte(name, '/') >= 0 {
		return bad("contains '/'")
	}
	info := Info{Name: name, Key: name, Size: -1, VSize: -1}
	if i := strings.LastIndex(name, ":2,"); i >= 0 {
		info.Key = name[:i]
		info.Flags = canonicalFlags(name[i+3:])
	}
	if info.Key == "" {
		return bad("empty key")
	}
	if strings.IndexByte(info.Key, ':') >= 0 {
		return bad("unknown info after ':'")
	}
	// Fields follow the base name: "<base>,S=<size>,W=<vsize>".
	_, fields, _ := strings.Cut(info.Key, ",")
	for fld := range strings.SplitSeq(fields, ",") { // without a slice: every FETCH parses names
		switch {
		case strings.HasPrefix(fld, "S=") && info.Size < 0:
			info.Size = parseSize(fld[2:])
		case strings.HasPrefix(fld, "W=") && info.VSize < 0:
			info.VSize = parseSize(fld[2:])
		}
	}
	return info, nil
}

// parseSize parses a decimal size, -1 if it is not one.
func parseSize(s string) int64 {
	if s == "" || len(s) > 18 {
		return -1
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return -1
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// FormatName returns the cur/ file name for key with flags:
// "<key>:2,<flags>", the flags in canonical form (non-letters dropped).
// key must be a valid key, as returned by ParseName or Deliver.
// A message in new/ has no info part: its name is its key.
func FormatName(key string, flags Flags) string {
	return key + ":2," + string(canonicalFlags(string(flags)))
}

// Generator makes unique base names "<unix time>.M<usec>P<pid>Q<n>.<host>"
// for new message files. It is safe for concurrent use. Names are unique
// across processes and machines sharing a volume as long as host names
// differ; Deliver also refuses to overwrite an existing file, so a clash (a
// clock stepping back, a reused pid) costs a retry, never a message.
// Make one per process with NewGenerator and share it.
type Generator struct {
	host string // escaped
	pid  int
	seq  atomic.Uint64
	now  func() time.Time
}

// NewGenerator returns a Generator for this process. host names the machine
// in file names; if empty, os.Hostname is used.
func NewGenerator(host string) (*Generator, error) {
	if host == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("maildir: host name for file names: %w", err)
		}
		host = h
	}
	if host == "" {
		host = "localhost"
	}
	return &Generator{host: escapeHost(host), pid: os.Getpid(), now: time.Now}, nil
}

// Next returns a new unique base name. Deliver appends ",S=<size>,W=<vsize>"
// to it to form the key.
func (g *Generator) Next() string {
	n := g.seq.Add(1)
	t := g.now()
	return fmt.Sprintf("%d.M%dP%dQ%d.%s", t.Unix(), t.Nanosecond()/1000, g.pid, n, g.host)
}

// escapeHost makes a host name safe in a file name the Maildir way: '/'
// becomes `\057` and ':' `\072` (as Dovecot and qmail do); ',' (which would
// start a field), '\' itself, control characters and non-ASCII bytes are
// escaped the same way.
func escapeHost(h string) string {
	var b strings.Builder
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c == '/' || c == ':' || c == ',' || c == '\\' || c < 0x20 || c >= 0x7f {
			fmt.Fprintf(&b, `\%03o`, c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Host returns the host as this Generator writes it into names (escaped).
func (g *Generator) Host() string { return g.host }

// Maker returns the host and process id that a Generator of this package
// wrote into key ("<sec>.M<usec>P<pid>Q<n>.<host>,..."); ok is false for
// names made by other programs.
func Maker(key string) (host string, pid int, ok bool) {
	_, rest, found := strings.Cut(key, ".")
	if !found {
		return "", 0, false
	}
	uniq, host, found := strings.Cut(rest, ".")
	if !found || !strings.HasPrefix(uniq, "M") {
		return "", 0, false
	}
	host, _, _ = strings.Cut(host, ",")
	p := strings.IndexByte(uniq, 'P')
	q := strings.IndexByte(uniq, 'Q')
	if p < 0 || q < p {
		return "", 0, false
	}
	pid, err := strconv.Atoi(uniq[p+1 : q])
	if err != nil || host == "" {
		return "", 0, false
	}
	return host, pid, true
}
