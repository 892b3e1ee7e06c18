package sasl_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"mailhost/sasl"
)

// Whatever the client sends, an exchange ends with success or one of the
// package's errors, never a panic, and the check sees only well-formed
// credentials of at most MaxResponse octets whose authzid is empty or the
// user's own.
func FuzzExchange(f *testing.F) {
	f.Add("PLAIN", "", "AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=", "")
	f.Add("PLAIN", "=", "", "")
	f.Add("PLAIN", "", "*", "")
	f.Add("LOGIN", "", "YWxpY2U=", "c2VjcmV0")
	f.Add("LOGIN", "YWxpY2U=", "=", "!!")
	f.Fuzz(func(t *testing.T, mech, initial, line1, line2 string) {
		srv, err := sasl.NewServer(mech, func(c sasl.Credentials) error {
			if c.Username == "" || c.Password == "" || !utf8.ValidString(c.Username) ||
				len(c.Authzid)+len(c.Username)+len(c.Password) > sasl.MaxResponse ||
				strings.ContainsRune(c.Password, 0) {
				t.Fatalf("check got %+q", c)
			}
			return nil
		}, nil)
		if err != nil {
			if !errors.Is(err, sasl.ErrUnknownMechanism) {
				t.Fatal(err)
			}
			return
		}
		c := &script{lines: []string{line1, line2}}
		err = sasl.Run(srv, initial, c)
		for _, known := range []error{nil, sasl.ErrMalformed, sasl.ErrTooLong, sasl.ErrAuthzid, sasl.ErrCancelled, sasl.ErrBase64, errHangup} {
			if errors.Is(err, known) {
				return
			}
		}
		t.Fatalf("unexpected error %v", err)
	})
}
