package managesieve

import (
	"bufio"
	"strings"
	"testing"
)

// FuzzCommand reads commands from any input: no panic, literals bounded,
// every quoted string within its limit.
func FuzzCommand(f *testing.F) {
	for _, s := range []string{
		"PUTSCRIPT \"a\" {5+}\r\nkeep;\r\n",
		"AUTHENTICATE \"PLAIN\" \"AGEAYg==\"\r\nNOOP\r\n",
		"HAVESPACE \"x\" 100\r\nGETSCRIPT {1}\r\nx\r\n",
		"\"unterminated\r\n",
		"PUTSCRIPT \"big\" {999999+}\r\nabc",
		"NOOP \"a\\\"b\\\\c\"\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		rd := &reader{r: bufio.NewReader(strings.NewReader(in)), maxLiteral: 64}
		for range 100 {
			args, err := rd.command()
			if err != nil && !isSyntax(err) {
				return
			}
			for _, a := range args {
				if a.quoted && len(a.s) > maxQuoted || !a.quoted && !a.atom && len(a.s) > 64 {
					t.Fatalf("argument of %d octets passed the limits", len(a.s))
				}
			}
		}
	})
}
