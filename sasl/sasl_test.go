package sasl_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"mailhost/auth"
	"mailhost/sasl"
)

// script is the client side of an exchange: the lines it answers the
// server's challenges with, and the challenges it saw (decoded).
type script struct {
	lines []string
	seen  []string
}

var errHangup = errors.New("client hung up")

func (s *script) Challenge(encoded string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return "", fmt.Errorf("server sent bad base64 %q", encoded)
	}
	s.seen = append(s.seen, string(b))
	if len(s.lines) == 0 {
		return "", errHangup
	}
	l := s.lines[0]
	s.lines = s.lines[1:]
	return l, nil
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

const (
	alice = "alice@example.test"
	pw    = "pass word"
)

var errWrongPassword = errors.New("wrong password") // what the check answers

// Every edge case of the exchange, once, for both mechanisms; each protocol's
// tests then check its replies to the same cases end to end.
func TestExchange(t *testing.T) {
	long := strings.Repeat("p", sasl.MaxResponse) // a response over the limit with the NULs
	for _, tc := range []struct {
		name       string
		mech       string
		initial    string   // as on the command line: "" none, "=" empty
		lines      []string // the client's answers to the challenges
		challenges []string // what the server must have asked
		want       error    // nil: success with wantCred
		wantCred   sasl.Credentials
	}{
		// PLAIN (RFC 4616)
		{name: "plain initial response, empty authzid", mech: "PLAIN", initial: b64("\x00" + alice + "\x00" + pw),
			wantCred: sasl.Credentials{Username: alice, Password: pw}},
		{name: "plain authzid equal to authcid", mech: "plain", initial: b64(alice + "\x00" + alice + "\x00" + pw),
			wantCred: sasl.Credentials{Authzid: alice, Username: alice, Password: pw}},
		{name: "plain authzid equal after normalisation", mech: "PLAIN", initial: b64("Alice@EXAMPLE.test\x00" + alice + "\x00" + pw),
			wantCred: sasl.Credentials{Authzid: "Alice@EXAMPLE.test", Username: alice, Password: pw}},
		{name: "plain authzid differs", mech: "PLAIN", initial: b64("bob@example.test\x00" + alice + "\x00" + pw),
			want: sasl.ErrAuthzid},
		{name: "plain authzid differs, both no address", mech: "PLAIN", initial: b64("root\x00alice\x00" + pw),
			want: sasl.ErrAuthzid},
		{name: "plain no initial response", mech: "PLAIN", lines: []string{b64("\x00" + alice + "\x00" + pw)},
			challenges: []string{""}, wantCred: sasl.Credentials{Username: alice, Password: pw}},
		{name: "plain empty initial response", mech: "PLAIN", initial: "=", want: sasl.ErrMalformed},
		{name: "plain empty response", mech: "PLAIN", lines: []string{""}, challenges: []string{""}, want: sasl.ErrMalformed},
		{name: "plain cancel", mech: "PLAIN", lines: []string{"*"}, challenges: []string{""}, want: sasl.ErrCancelled},
		{name: "plain bad base64 initial", mech: "PLAIN", initial: "!!!notbase64", want: sasl.ErrBase64},
		{name: "plain bad base64 response", mech: "PLAIN", lines: []string{"AGFsaWNl="}, challenges: []string{""}, want: sasl.ErrBase64},
		{name: "plain one NUL", mech: "PLAIN", initial: b64(alice + "\x00" + pw), want: sasl.ErrMalformed},
		{name: "plain no NUL", mech: "PLAIN", initial: b64("no nuls"), want: sasl.ErrMalformed},
		{name: "plain three NULs", mech: "PLAIN", initial: b64("\x00" + alice + "\x00" + pw + "\x00"), want: sasl.ErrMalformed},
		{name: "plain empty authcid", mech: "PLAIN", initial: b64("\x00\x00" + pw), want: sasl.ErrMalformed},
		{name: "plain empty password", mech: "PLAIN", initial: b64("\x00" + alice + "\x00"), want: sasl.ErrMalformed},
		{name: "plain authcid not UTF-8", mech: "PLAIN", initial: b64("\x00al\xffice\x00" + pw), want: sasl.ErrMalformed},
		{name: "plain at the limit", mech: "PLAIN", initial: b64("\x00" + alice + "\x00" + long[:sasl.MaxResponse-len(alice)-2]),
			wantCred: sasl.Credentials{Username: alice, Password: long[:sasl.MaxResponse-len(alice)-2]}},
		{name: "plain one octet over the limit", mech: "PLAIN", initial: b64("\x00" + alice + "\x00" + long[:sasl.MaxResponse-len(alice)-1]),
			want: sasl.ErrTooLong},
		{name: "plain far over the limit", mech: "PLAIN", lines: []string{b64(strings.Repeat(long, 3))}, challenges: []string{""},
			want: sasl.ErrTooLong},
		{name: "plain wrong password", mech: "PLAIN", initial: b64("\x00" + alice + "\x00wrong"), want: errWrongPassword},

		// LOGIN (draft-murchison-sasl-login)
		{name: "login prompts", mech: "LOGIN", lines: []string{b64(alice), b64(pw)},
			challenges: []string{"Username:", "Password:"}, wantCred: sasl.Credentials{Username: alice, Password: pw}},
		{name: "login user name as initial response", mech: "LOGIN", initial: b64(alice), lines: []string{b64(pw)},
			challenges: []string{"Password:"}, wantCred: sasl.Credentials{Username: alice, Password: pw}},
		{name: "login empty initial response", mech: "LOGIN", initial: "=", lines: []string{b64(alice), b64(pw)},
			challenges: []string{"Username:", "Password:"}, wantCred: sasl.Credentials{Username: alice, Password: pw}},
		{name: "login cancel at the password", mech: "LOGIN", lines: []string{b64(alice), "*"},
			challenges: []string{"Username:", "Password:"}, want: sasl.ErrCancelled},
		{name: "login empty user name", mech: "LOGIN", lines: []string{"="}, challenges: []string{"Username:"}, want: sasl.ErrMalformed},
		{name: "login empty password", mech: "LOGIN", lines: []string{b64(alice), ""},
			challenges: []string{"Username:", "Password:"}, want: sasl.ErrMalformed},
		{name: "login NUL in user name", mech: "LOGIN", initial: b64("\x00" + alice), want: sasl.ErrMalformed},
		{name: "login bad base64", mech: "LOGIN", lines: []string{"a\x00b"}, challenges: []string{"Username:"}, want: sasl.ErrBase64},
		{name: "login password over the limit", mech: "LOGIN", initial: b64(alice), lines: []string{b64(long + "x")},
			challenges: []string{"Password:"}, want: sasl.ErrTooLong},
		{name: "login wrong password", mech: "LOGIN", initial: b64(alice), lines: []string{b64("wrong")},
			challenges: []string{"Password:"}, want: errWrongPassword},

		{name: "unknown mechanism", mech: "CRAM-MD5", want: sasl.ErrUnknownMechanism},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *sasl.Credentials
			check := func(c sasl.Credentials) error {
				if got != nil {
					t.Fatal("check called twice")
				}
				got = &c
				if c.Password != pw && !strings.HasPrefix(c.Password, "ppp") {
					return errWrongPassword
				}
				return nil
			}
			srv, err := sasl.NewServer(tc.mech, check, nil)
			if err == nil {
				c := &script{lines: tc.lines}
				err = sasl.Run(srv, tc.initial, c)
				if !slices.Equal(c.seen, tc.challenges) {
					t.Errorf("challenges %q, want %q", c.seen, tc.challenges)
				}
				if len(c.lines) > 0 {
					t.Errorf("lines left unread: %q", c.lines)
				}
			}
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			switch {
			case tc.want == nil && (got == nil || *got != tc.wantCred):
				t.Fatalf("check saw %+v, want %+v", got, tc.wantCred)
			case tc.want != nil && tc.want != errWrongPassword && got != nil:
				t.Fatalf("check called with %+v after %v", got, err)
			}
		})
	}
}

// The exchange's own errors pass through the protocol's refuse; the
// check's error is the protocol's answer already and is not touched.
func TestRefuseTranslatesOnlyTheExchangesErrors(t *testing.T) {
	errReply := errors.New("protocol reply")
	var refused []error
	refuse := func(err error) error { refused = append(refused, err); return errReply }
	srv, err := sasl.NewServer("PLAIN", func(sasl.Credentials) error { return errWrongPassword }, refuse)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := srv.Next([]byte("\x00" + alice + "\x00" + pw)); err != errWrongPassword {
		t.Fatalf("check's error came back as %v", err)
	}
	// A response after the end is malformed, and refused.
	if _, _, err := srv.Next([]byte("more")); err != errReply || !errors.Is(refused[0], sasl.ErrMalformed) {
		t.Fatalf("response after the end: %v (refused %v)", err, refused)
	}

	for _, tc := range []struct {
		resp []byte
		want error
	}{
		{[]byte("bob@example.test\x00" + alice + "\x00" + pw), sasl.ErrAuthzid},
		{[]byte("nonul"), sasl.ErrMalformed},
		{make([]byte, sasl.MaxResponse+1), sasl.ErrTooLong}, // a library decoded it: the server bounds it too
	} {
		refused = nil
		srv, _ := sasl.NewServer("PLAIN", func(sasl.Credentials) error { t.Fatal("check called"); return nil }, refuse)
		if _, _, err := srv.Next(tc.resp); err != errReply || len(refused) != 1 || !errors.Is(refused[0], tc.want) {
			t.Errorf("Next(%.20q): %v, refused %v; want the reply for %v", tc.resp, err, refused, tc.want)
		}
	}
}

func TestMechanisms(t *testing.T) {
	if got := sasl.Mechanisms(true); !slices.Equal(got, []string{"PLAIN", "LOGIN"}) {
		t.Errorf("Mechanisms(true) = %q", got)
	}
	// Both send the password itself: nothing to offer where it may not travel.
	if got := sasl.Mechanisms(false); len(got) != 0 {
		t.Errorf("Mechanisms(false) = %q", got)
	}
}

// The Authenticator is the auth package's.
var _ sasl.Authenticator = (*auth.Authenticator)(nil)
