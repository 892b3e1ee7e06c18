package pop3d

import (
	"strconv"
	"strings"
)

// Limits of RFC 2449 section 4: a command line is at most 255 octets
// including the CRLF, an argument at most 40 characters.
const (
	maxCommandLine = 255
	maxArgLen      = 40
	// maxSASLLine bounds an AUTH continuation line (RFC 5034 section 4
	// lifts the 255-octet limit for them): base64 of a PLAIN response with
	// the longest address and password.
	maxSASLLine = 8192
)

// command is one parsed command line.
type command struct {
	Name string   // upper case: "USER", "RETR", ...
	Args []string // space-separated arguments
	// Rest is everything after the keyword and one space, unsplit: the
	// PASS argument, which may contain spaces (RFC 1939 section 7).
	Rest string
}

// parseCommand parses a command line without its line ending (RFC 1939
// section 3): a keyword of three or four letters, case-insensitive, then
// arguments separated by spaces. Arguments longer than 40 characters
// (RFC 2449 section 4) are refused, except for USER and PASS, whose
// argument is taken whole (addresses and passwords are often longer, and a
// password may contain spaces), and AUTH, whose initial response may fill
// the line (RFC 5034 section 4). It returns the reason a line is refused,
// to be sent after "-ERR ".
func parseCommand(line string) (command, string) {
	if line == "" {
		return command{}, "Empty command"
	}
	kw, rest, _ := strings.Cut(line, " ")
	if len(kw) < 3 || len(kw) > 4 || !isLetters(kw) {
		return command{}, "Unknown command"
	}
	c := command{Name: strings.ToUpper(kw), Rest: rest}
	if c.Name == "PASS" || c.Name == "USER" {
		return c, ""
	}
	limit := maxArgLen
	if c.Name == "AUTH" {
		limit = maxCommandLine
	}
	for _, a := range strings.Split(rest, " ") {
		if a == "" { // tolerate doubled and trailing spaces, as most servers do
			continue
		}
		if len(a) > limit {
			return command{}, "Argument too long"
		}
		for i := 0; i < len(a); i++ {
			if a[i] < 0x21 || a[i] > 0x7e {
				return command{}, "Invalid character in argument"
			}
		}
		c.Args = append(c.Args, a)
	}
	return c, ""
}

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// parseNumber reads a message number or line count: decimal digits only,
// no sign, at most 9 digits (no mailbox has a billion messages).
func parseNumber(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}
