package pop3d_test

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
)

// The SASL edge cases of the sasl package's table test, end to end over
// POP3 AUTH (RFC 5034), each on a connection of its own, with the exact
// replies.
func TestAuthEdgeCases(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.addMailbox(t, alice, "pass word")
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	plain := b64("\x00" + alice + "\x00pass word")

	c := dial(t, e.plain)
	c.expect("AUTH", "+OK")
	if got := c.multi(); !slices.Equal(got, []string{"PLAIN", "LOGIN"}) {
		t.Fatalf("AUTH mechanisms = %q", got)
	}

	const (
		ok        = "+OK Logged in."
		failed    = "-ERR [AUTH] Authentication failed."
		authzid   = "-ERR [AUTH] Logging in as another user is not supported."
		malformed = "-ERR Invalid SASL PLAIN response."
		notBase64 = "-ERR Invalid SASL response (not base64)."
		cancelled = "-ERR Authentication cancelled."
		tooLong   = "-ERR SASL response too long."
	)
	type step struct{ send, want string }
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"initial response, empty authzid", []step{{"AUTH PLAIN " + plain, ok}}},
		{"no initial response", []step{{"AUTH PLAIN", "+ "}, {plain, ok}}},
		{"mechanism in lower case", []step{{"auth plain " + plain, ok}}},
		{"authzid equal to authcid after normalisation", []step{{"AUTH PLAIN " + b64("Alice@EXAMPLE.com\x00"+alice+"\x00pass word"), ok}}},
		{"authzid differs", []step{{"AUTH PLAIN " + b64("bob@example.com\x00"+alice+"\x00pass word"), authzid}}},
		{"wrong password", []step{{"AUTH PLAIN " + b64("\x00"+alice+"\x00wrong"), failed}}},
		{"cancel", []step{{"AUTH PLAIN", "+ "}, {"*", cancelled}}},
		{"empty initial response", []step{{"AUTH PLAIN =", malformed}}},
		{"empty response", []step{{"AUTH PLAIN", "+ "}, {"", malformed}}},
		{"initial response not base64", []step{{"AUTH PLAIN !!!notbase64", notBase64}}},
		{"response not base64", []step{{"AUTH PLAIN", "+ "}, {"AGFsaWNl=", notBase64}}},
		{"one NUL", []step{{"AUTH PLAIN " + b64(alice+"\x00pass word"), malformed}}},
		{"three NULs", []step{{"AUTH PLAIN " + b64("\x00"+alice+"\x00pass word\x00"), malformed}}},
		{"response over the line limit", []step{{"AUTH PLAIN", "+ "}, {strings.Repeat("A", 9000), tooLong}}},
		{"response over the SASL limit", []step{{"AUTH PLAIN", "+ "}, {b64("\x00" + alice + "\x00" + strings.Repeat("p", 3000)), tooLong}}},
		{"login", []step{{"AUTH LOGIN", "+ " + b64("Username:")}, {b64(alice), "+ " + b64("Password:")}, {b64("pass word"), ok}}},
		{"login with the user as initial response", []step{{"AUTH LOGIN " + b64(alice), "+ " + b64("Password:")}, {b64("pass word"), ok}}},
		{"login cancel", []step{{"AUTH LOGIN", "+ " + b64("Username:")}, {"*", cancelled}}},
		{"login empty user name", []step{{"AUTH LOGIN", "+ " + b64("Username:")}, {"=", "-ERR Invalid SASL LOGIN response."}}},
		{"login wrong password", []step{{"AUTH LOGIN " + b64(alice), "+ " + b64("Password:")}, {b64("wrong"), failed}}},
		{"unknown mechanism", []step{{"AUTH CRAM-MD5", "-ERR Unsupported authentication mechanism; use PLAIN or LOGIN."}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, e.plain)
			for _, s := range tc.steps {
				if got := c.cmd(s.send); got != s.want {
					t.Fatalf("%.40s: got %q, want %q", s.send, got, s.want)
				}
			}
			if tc.steps[len(tc.steps)-1].want == ok {
				c.expect("QUIT", "+OK") // releases the maildrop for the next case
				c.closed()
			} else {
				c.expect("NOOP", "-ERR NOOP is not allowed before login") // the session goes on
			}
		})
	}
}
