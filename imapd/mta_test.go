package imapd_test

import (
	"context"
	"log/slog"
	"net/netip"
	"net/smtp"
	"os"
	"strings"
	"testing"
	"time"

	"mailhost/maildir"
	"mailhost/mda"
	"mailhost/mta"
)

// TestIdleSeesMailFromTheMTA sends a message over SMTP to the MX server
// while IDLE sessions wait on two IMAP nodes sharing the database.
func TestIdleSeesMailFromTheMTA(t *testing.T) {
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	second := e.startNode(t)
	same := startIdle(t, e, e.nodes[0], "bob@example.test")
	other := startIdle(t, e, second, "bob@example.test")

	startMX(t, e)()
	if n := waitFor(t, "EXISTS on the same node", same.exists); n != 1 {
		t.Errorf("EXISTS %d", n)
	}
	if n := waitFor(t, "EXISTS on the second node", other.exists); n != 1 {
		t.Errorf("EXISTS %d", n)
	}
}

// startMX runs the MX server on the env's database and returns a function
// that delivers a message to bob over SMTP.
func startMX(t *testing.T, e *env) func() {
	t.Helper()
	names, _ := maildir.NewGenerator("mx")
	agent := &mda.Agent{Root: e.root, Owner: maildir.Owner{UID: os.Getuid(), GID: os.Getgid()}, Names: names, Index: e.db}
	cfg := mta.Config{Hostname: "mx.test", Mynetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		MaxMessageBytes: 1 << 20, MaxRecipients: 100, Timeout: 30 * time.Second, MaxErrors: 20,
		MaxConnsPerClient: 10, MaxLineLength: 16384, MaxReceived: 50, DNSBLAction: "reject"}
	mx, err := mta.New("127.0.0.1:0", cfg, e.db, agent, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { mx.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	body := strings.ReplaceAll(testMsg, "Bob <bob@example.test>", "bob@example.test")
	return func() {
		t.Helper()
		if err := smtp.SendMail(mx.Addr().String(), nil, "alice@remote.test", []string{"bob@example.test"}, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
}
