package imapd_test

import (
	"encoding/base64"
	"strings"
	"testing"
)

// The SASL edge cases of the sasl package's table test, end to end over
// IMAP AUTHENTICATE (RFC 9051 6.2.2, SASL-IR RFC 4959), each on a
// connection of its own, with the exact tagged replies: "*" and a
// response that is not base64 (initial or not) are answered BAD, as the
// RFC asks.
func TestAuthEdgeCases(t *testing.T) {
	e := newEnv(t)
	const bob = "bob@example.test"
	e.addMailbox(t, bob, "secret", 0)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	plain := b64("\x00" + bob + "\x00secret")

	const (
		ok        = "A OK "
		failed    = "A NO [AUTHENTICATIONFAILED] "
		authzid   = "A NO [AUTHORIZATIONFAILED] Logging in as another user is not supported"
		malformed = "A BAD Malformed SASL response"
		tooLong   = "A BAD SASL response too long"
		cancelled = "A BAD AUTHENTICATE cancelled"
	)
	type step struct{ send, want string }
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"initial response, empty authzid", []step{{"A AUTHENTICATE PLAIN " + plain, ok}}},
		{"no initial response", []step{{"A AUTHENTICATE PLAIN", "+ "}, {plain, ok}}},
		{"authzid equal to authcid after normalisation", []step{{"A AUTHENTICATE PLAIN " + b64("Bob@EXAMPLE.test\x00"+bob+"\x00secret"), ok}}},
		{"authzid differs", []step{{"A AUTHENTICATE PLAIN " + b64("alice@example.test\x00"+bob+"\x00secret"), authzid}}},
		{"wrong password", []step{{"A AUTHENTICATE PLAIN " + b64("\x00"+bob+"\x00wrong"), failed}}},
		{"cancel", []step{{"A AUTHENTICATE PLAIN", "+ "}, {"*", cancelled}}},
		{"empty initial response", []step{{"A AUTHENTICATE PLAIN =", malformed}}},
		{"empty response", []step{{"A AUTHENTICATE PLAIN", "+ "}, {"", malformed}}},
		{"initial response not base64", []step{{"A AUTHENTICATE PLAIN !!!notbase64", malformed}}},
		{"response not base64", []step{{"A AUTHENTICATE PLAIN", "+ "}, {"AGFsaWNl=", malformed}}},
		{"one NUL", []step{{"A AUTHENTICATE PLAIN " + b64(bob+"\x00secret"), malformed}}},
		{"three NULs", []step{{"A AUTHENTICATE PLAIN " + b64("\x00"+bob+"\x00secret\x00"), malformed}}},
		{"response over the SASL limit", []step{{"A AUTHENTICATE PLAIN", "+ "}, {b64("\x00" + bob + "\x00" + strings.Repeat("p", 2900)), tooLong}}},
		{"login", []step{{"A AUTHENTICATE LOGIN", "+ " + b64("Username:")}, {b64(bob), "+ " + b64("Password:")}, {b64("secret"), ok}}},
		{"login with the user as initial response", []step{{"A AUTHENTICATE LOGIN " + b64(bob), "+ " + b64("Password:")}, {b64("secret"), ok}}},
		{"login cancel", []step{{"A AUTHENTICATE LOGIN", "+ " + b64("Username:")}, {"*", cancelled}}},
		{"login empty user name", []step{{"A AUTHENTICATE LOGIN", "+ " + b64("Username:")}, {"=", malformed}}},
		{"login wrong password", []step{{"A AUTHENTICATE LOGIN " + b64(bob), "+ " + b64("Password:")}, {b64("wrong"), failed}}},
		{"unknown mechanism", []step{{"A AUTHENTICATE CRAM-MD5", "A NO [CANNOT] Unsupported authentication mechanism"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, e.nodes[0].addr)
			for _, s := range tc.steps {
				r.send(s.send + "\r\n")
				prefix := "A "
				if strings.HasPrefix(s.want, "+") {
					prefix = "+"
				}
				if got := strings.TrimSuffix(r.expect(prefix), "\r\n"); !strings.HasPrefix(got, s.want) {
					t.Fatalf("%.40s: got %q, want %q...", s.send, got, s.want)
				}
			}
			// Logged in, LIST works; otherwise the session goes on, not
			// logged in.
			want := "B BAD [CLIENTBUG]"
			if tc.steps[len(tc.steps)-1].want == ok {
				want = "B OK"
			}
			r.send("B LIST \"\" INBOX\r\n")
			if got := r.expect("B "); !strings.HasPrefix(got, want) {
				t.Fatalf("LIST after AUTHENTICATE: %q, want %q...", got, want)
			}
		})
	}
}
