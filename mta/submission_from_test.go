package mta_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"mailhost/mailheader"
)

// TestSubmissionFromHeader: RFC 5322 3.6 allows exactly one From: field,
// and every address in it must be the user's. A second From: (which a
// reader may show instead of the checked one) and a "From :" with white
// space before the colon (which readers take as From:) are no way round
// the check.
func TestSubmissionFromHeader(t *testing.T) {
	e := newSubEnv(t)
	c := e.dialSub(t)
	if err := c.Auth(sasl.NewPlainClient("", "alice@example.test", "secret")); err != nil {
		t.Fatal(err)
	}
	const rest = "To: bob@example.test\r\nSubject: hi\r\n\r\nFrom: a body line is not a field\r\n"
	refused := smtp.EnhancedCode{5, 7, 1}
	for _, tc := range []struct {
		name, header string
		ok           bool
	}{
		{"one From", "From: Alice <alice@example.test>\r\n", true},
		{"her alias", "From: sales@example.test\r\n", true},
		{"name in capitals", "FROM: alice@example.test\r\n", true},
		{"folded", "From: Alice\r\n <alice@example.test>\r\n", true},
		{"space before the colon, hers", "From : alice@example.test\r\n", true},
		{"two of hers in one field", "From: alice@example.test, sales@example.test\r\n", true},
		{"two fields, the second not hers", "From: alice@example.test\r\nFrom: bob@example.test\r\n", false},
		{"two fields, both hers", "From: alice@example.test\r\nFrom: sales@example.test\r\n", false},
		{"two fields, one with a space", "From: alice@example.test\r\nFrom : bob@example.test\r\n", false},
		{"space before the colon, not hers", "From : bob@example.test\r\n", false},
		{"tab before the colon, not hers", "From\t: bob@example.test\r\n", false},
		{"one of two not hers", "From: alice@example.test, bob@example.test\r\n", false},
		{"empty", "From:\r\n", false},
		{"empty group", "From: undisclosed-recipients:;\r\n", false},
		{"not an address", "From: alice\r\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.files("bob@example.test", "INBOX")
			err := send(c, "alice@example.test", []string{"bob@example.test"}, tc.header+rest)
			if !tc.ok {
				wantCode(t, err, 553, refused)
				c.Reset()
				if n := len(e.files("bob@example.test", "INBOX")); n != len(before) {
					t.Fatalf("refused message delivered: bob has %d messages, had %d", n, len(before))
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			var got string
			for _, f := range e.files("bob@example.test", "INBOX") {
				if !slices.Contains(before, f) {
					got = e.read(f)
				}
			}
			h := mailheader.Parse([]byte(got))
			if n := h.FieldsByKey("From").Len(); n != 1 {
				t.Fatalf("delivered message has %d From: fields, want the one it was sent with:\n%s", n, got)
			}
			if !strings.Contains(got, tc.header) {
				t.Fatalf("delivered message lacks %q:\n%s", tc.header, got)
			}
		})
	}
}
