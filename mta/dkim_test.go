package mta_test

import (
	"context"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"

	"mailhost/mta"
)

// markSigner "signs" by prepending a field: it shows which messages the
// server hands to its signer (dkimsign's own tests check signatures).
type markSigner struct{}

func (markSigner) Sign(_ context.Context, msg []byte) ([]byte, error) {
	return append([]byte("X-Test-Signed: yes\r\n"), msg...), nil
}

func withSigner(c *mta.Config) { c.DKIM = markSigner{} }

// queuedSigned maps each queued recipient to whether its copy was signed.
func (e *env) queuedSigned() map[string]bool {
	out := map[string]bool{}
	for _, q := range e.queue() {
		out[q.recipient] = strings.HasPrefix(q.body, "X-Test-Signed: yes\r\n")
	}
	return out
}

// Submitted mail is signed before it is queued, also when an access
// rule holds it.
func TestSubmissionIsSigned(t *testing.T) {
	e := newSubEnv(t, withSigner)
	e.exec(`INSERT INTO access_rules (kind, pattern, action) VALUES ('recipient', 'held@remote.example', 'HOLD review')`)
	c := e.dialSub(t)
	if err := c.Auth(sasl.NewPlainClient("", "alice@example.test", "secret")); err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{"far@remote.example", "held@remote.example"} {
		if err := send(c, "alice@example.test", []string{to}, subMsg); err != nil {
			t.Fatalf("to %s: %v", to, err)
		}
	}
	got := e.queuedSigned()
	if len(got) != 2 || !got["far@remote.example"] || !got["held@remote.example"] {
		t.Fatalf("queued copies signed: %v", got)
	}
}

// Mail relayed for mynetworks is signed; mail that came from outside on
// port 25, to a relay domain or forwarded by an alias, is passed on as it
// came, even with a hosted domain in From:.
func TestWhichInboundMailIsSigned(t *testing.T) {
	e := newEnv(t, withSigner)
	e.domain("example.test")
	e.relayDomain("relay.test", "[192.0.2.1]:25")
	e.alias("fwd@example.test", "forwarded@remote.example")
	msg := "From: alice@example.test\r\nSubject: hi\r\n\r\nhello\r\n"
	if err := send(e.dial("127.0.0.1"), "alice@example.test", []string{"out@remote.example"}, msg); err != nil {
		t.Fatal(err) // mynetworks may relay
	}
	if err := send(e.dial("127.0.0.2"), "alice@example.test", []string{"x@relay.test", "fwd@example.test"}, msg); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"out@remote.example": true, "x@relay.test": false, "forwarded@remote.example": false}
	got := e.queuedSigned()
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("queued copies signed: %v, want %v", got, want)
			break
		}
	}
}
