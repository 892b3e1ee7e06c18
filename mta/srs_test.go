package mta_test

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailhost/dnstest"
	"mailhost/mta"
	"mailhost/srs"
	"mailhost/store"
	"mailhost/testsupport"
)

// hostedFunc adapts a function to mta.HostedDomains.
type hostedFunc func(ctx context.Context, name string) (bool, error)

func (f hostedFunc) HostedDomain(ctx context.Context, name string) (bool, error) { return f(ctx, name) }

// srsEnv: dsnEnv with SRS on (addresses @mx.test, the hostname), the
// alias fwd@example.test -> ext@remote.example, other.example's MX on
// loopback, and queue workers delivering to sink.
func srsEnv(t *testing.T) (*env, *dnstest.Server, *dsnSink, *srs.Rewriter) {
	t.Helper()
	var st atomic.Pointer[store.Store]
	fwd := &mta.SRS{Domains: hostedFunc(func(ctx context.Context, d string) (bool, error) {
		return st.Load().HostedDomain(ctx, d)
	})}
	e, z := dsnEnv(t, func(c *mta.Config) { c.SRS = fwd })
	st.Store(e.st)
	secrets, err := e.st.SRSSecrets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if fwd.Rewriter, err = srs.New(secrets, "mx.test", 21*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	e.alias("fwd@example.test", "ext@remote.example")
	z.Add(t, "other.example. 60 IN MX 10 mx.remote.example.")
	sink := newDSNSink(t, true)
	e.startOutbound(z, sink.port, "node-a", func(c *mta.OutboundConfig) { c.SRS = fwd })
	return e, z, sink, fwd.Rewriter
}

// sinkFrom waits for the sink's message to rcpt and returns its sender.
func (s *dsnSink) fromTo(t *testing.T, rcpt string) string {
	t.Helper()
	var from string
	waitFor(t, "a message to "+rcpt, func() bool {
		for _, m := range s.messages() {
			if _, ok := m.rcpt[rcpt]; ok {
				from = m.from
				return true
			}
		}
		return false
	})
	return from
}

// An alias to an outside address forwards with an SRS sender; a bounce
// to that address reaches the original sender; a forged, altered or
// expired SRS address is refused, so nothing can be forwarded through
// it.
func TestSRSForwardAndBounce(t *testing.T) {
	e, _, sink, rw := srsEnv(t)
	c := e.dialHelo("127.0.0.2", "mx.other.example") // from outside
	if err := send(c, "bob@other.example", []string{"fwd@example.test"}, testMsg); err != nil {
		t.Fatal(err)
	}
	from := sink.fromTo(t, "ext@remote.example")
	if !strings.HasPrefix(from, "SRS0=") || !strings.HasSuffix(from, "=other.example=bob@mx.test") {
		t.Fatalf("forwarded from %q, want SRS0=HHHH=TT=other.example=bob@mx.test", from)
	}
	if got, err := rw.Reverse(from, time.Now()); err != nil || got != "bob@other.example" {
		t.Fatalf("the SRS sender reverses to %q, %v", got, err)
	}

	// The bounce, from outside with the null sender, goes back to bob;
	// also lower-cased by some MTA on the way (the hash is compared
	// without case).
	for _, to := range []string{from, strings.ToLower(from)} {
		b := e.dialHelo("127.0.0.2", "mx.remote.example")
		if err := send(b, "", []string{to}, "Subject: Undelivered Mail\r\n\r\nbounce\r\n"); err != nil {
			t.Fatalf("bounce to %s: %v", to, err)
		}
	}
	waitFor(t, "both bounces at bob's", func() bool {
		n := 0
		for _, m := range sink.messages() {
			if _, ok := m.rcpt["bob@other.example"]; ok && m.from == "" {
				n++
			}
		}
		return n == 2
	})

	// Forged and expired addresses, with swaks from outside.
	swaks := testsupport.RequireTool(t, "swaks", "swaks")
	host, port, _ := net.SplitHostPort(e.addr)
	old, _ := rw.Forward("victim@other.example", time.Now().Add(-30*24*time.Hour))
	fresh, _ := rw.Forward("victim@other.example", time.Now())
	local, _, _ := strings.Cut(fresh, "@")
	for name, to := range map[string]string{
		"forged hash":     "SRS0=AAAA" + local[9:] + "@mx.test",
		"altered user":    strings.Replace(fresh, "=victim@", "=mallory@", 1),
		"expired":         old,
		"SRS1 forged":     "SRS1=AAAA=other.example==AAAA=AA=x.example=y@mx.test",
		"in a hosted dom": strings.Replace("SRS0=AAAA"+local[9:]+"@mx.test", "@mx.test", "@example.test", 1),
	} {
		out, _ := exec.Command(swaks, "--server", host, "--port", port, "--local-interface", "127.0.0.2",
			"--helo", "mx.spammer.example", "--from", "<>", "--to", to, "--timeout", "20").CombinedOutput()
		if !strings.Contains(string(out), "<** 550 5.1.1") || !strings.Contains(string(out), "invalid or expired SRS address") {
			t.Errorf("%s (%s): swaks said\n%s", name, to, out)
		}
	}
	// An SRS address of a domain not ours is ordinary relaying: refused.
	c2 := e.dialHelo("127.0.0.2", "mx.spammer.example")
	c2.Mail("", nil)
	wantCode(t, c2.Rcpt(strings.Replace(fresh, "@mx.test", "@elsewhere.example", 1), nil), 554, smtp.EnhancedCode{5, 7, 1})
	if n := len(e.logs.lines("srs reversed")); n != 2 {
		t.Errorf("%d reversals logged, want 2", n)
	}
}

// Mail from a hosted domain keeps its sender when forwarded (SPF of our
// own domain passes from here); a bounce (null sender) stays null.
func TestSRSLeavesHostedSenders(t *testing.T) {
	e, _, sink, _ := srsEnv(t)
	c := e.dial("")
	if err := send(c, "alice@example.test", []string{"fwd@example.test"}, testMsg); err != nil {
		t.Fatal(err)
	}
	if from := sink.fromTo(t, "ext@remote.example"); from != "alice@example.test" {
		t.Fatalf("forwarded from %q, want alice@example.test", from)
	}
	e.alias("fwd2@example.test", "ext2@remote.example")
	if err := send(c, "", []string{"fwd2@example.test"}, testMsg); err != nil {
		t.Fatal(err)
	}
	if from := sink.fromTo(t, "ext2@remote.example"); from != "" {
		t.Fatalf("forwarded bounce from %q, want <>", from)
	}
}

// The queue's own forwarding (a mailbox with a forwarding, delivered by
// the queue workers) rewrites the sender too, and an SRS1 results when
// the sender is another forwarder's SRS0 address.
func TestSRSQueueForwarding(t *testing.T) {
	e, _, sink, _ := srsEnv(t)
	id := e.mailbox("carol@example.test", 0)
	e.exec(`INSERT INTO forwardings (mailbox_id, destinations, keep_copy, active) VALUES ($1, $2, true, true)`,
		id, []string{"ext3@remote.example"})
	for _, from := range []string{"dave@other.example", "SRS0=HHHH=TT=orig.example=erin@other.example"} {
		m := store.QueuedMessage{Sender: from, Origin: "smtp", Body: []byte(testMsg),
			Recipients: []store.QueuedRecipient{{Address: "carol@example.test", Domain: "example.test"}}}
		if _, err := e.st.Enqueue(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "two forwarded copies", func() bool { return len(sink.messages()) == 2 })
	var froms []string
	for _, m := range sink.messages() {
		froms = append(froms, m.from)
	}
	joined := strings.Join(froms, " ")
	if !strings.Contains(joined, "=other.example=dave@mx.test") ||
		!strings.Contains(joined, "SRS1=") || !strings.Contains(joined, "=other.example==HHHH=TT=orig.example=erin@mx.test") {
		t.Fatalf("forwarded from %q", froms)
	}
	if n := len(e.files("carol@example.test", "INBOX")); n != 2 {
		t.Errorf("carol kept %d copies, want 2", n)
	}
}

// A forwarded copy that bounces here: the bounce goes to the original
// sender, not to our own SRS address (which would loop through this
// host).
func TestSRSBounceOfForwardedCopy(t *testing.T) {
	e, _, sink, _ := srsEnv(t)
	e.alias("lost@example.test", "gone@remote.example")
	c := e.dialHelo("127.0.0.2", "mx.other.example")
	if err := send(c, "bob@other.example", []string{"lost@example.test"}, testMsg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the bounce at bob's", func() bool {
		for _, m := range sink.messages() {
			if _, ok := m.rcpt["bob@other.example"]; ok && m.from == "" &&
				strings.Contains(m.data, "Final-Recipient: rfc822; gone@remote.example") &&
				strings.Contains(m.data, "To: <bob@other.example>") {
				return true
			}
		}
		return false
	})
	waitFor(t, "the queue to drain", func() bool { return e.queueLen() == 0 })
}

// A held message (an access rule's HOLD) keeps its forwarded copies in a
// second held message with the SRS sender.
func TestSRSHeldForward(t *testing.T) {
	e, _, _, _ := srsEnv(t)
	e.exec(`INSERT INTO access_rules (kind, pattern, action) VALUES ('sender', 'held@other.example', 'HOLD check')`)
	c := e.dialHelo("127.0.0.2", "mx.other.example")
	if err := send(c, "held@other.example", []string{"fwd@example.test", "alice@example.test"}, testMsg); err != nil {
		t.Fatal(err)
	}
	q := e.queue()
	if len(q) != 2 || q[0].recipient != "alice@example.test" || q[0].sender != "held@other.example" ||
		q[1].recipient != "ext@remote.example" || q[1].origin != "forward" ||
		!strings.HasSuffix(q[1].sender, "=other.example=held@mx.test") {
		t.Fatalf("held queue %+v", q)
	}
}
