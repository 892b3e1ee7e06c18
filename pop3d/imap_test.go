package pop3d_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailhost/auth"
	"mailhost/imapd"
	"mailhost/maildir"
	"mailhost/reconcile"
)

// startIMAP runs the IMAP server on the env's database and Maildir root:
// the other way users read the same mailbox.
func (e *env) startIMAP(t *testing.T) string {
	t.Helper()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := auth.NewAuthenticator(e.st, auth.Options{Hasher: cheapHasher,
		Throttle: auth.ThrottleConfig{MaxFailures: 1000, Block: time.Minute}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	notices := e.st.NewFolderListener(log)
	srv := imapd.New(imapd.Options{Backend: e.st, Files: &reconcile.Reconciler{Index: e.st, Log: log}, Auth: a, Notices: notices, MaildirRoot: e.root,
		Owner: maildir.Owner{UID: -1, GID: -1}, Names: e.names, AllowPlaintextLoopback: true,
		AppendLimit: 1 << 20, Log: log})
	if err := srv.Listen("127.0.0.1:0", ""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { notices.Run(ctx); done <- struct{}{} }()
	go func() { srv.Serve(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
	return srv.Addr(false).String()
}

// A POP3 session and IMAP sessions on one mailbox agree: UIDL is the IMAP
// UID, a POP3 deletion reaches a selected IMAP session as EXPUNGE, and a
// message expunged over IMAP during a POP3 session is reported, not
// served, with the quota right at the end.
func TestPOP3AndIMAPStayConsistent(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.addMailbox(t, alice, "secret")
	for i := 1; i <= 4; i++ {
		e.deliver(t, alice, message(fmt.Sprint("m", i), strings.Repeat("x\n", i)))
	}
	expunged := make(chan uint32, 10)
	ic, err := imapclient.DialInsecure(e.startIMAP(t), &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{Expunge: func(seq uint32) { expunged <- seq }},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	if err := ic.Login(alice, "secret").Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := ic.Select("INBOX", nil).Wait()
	if err != nil || sel.NumMessages != 4 {
		t.Fatalf("SELECT = %+v, %v", sel, err)
	}
	// IMAP marks message 1 \Seen: its file moves to cur/ with :2,S.
	if _, err := ic.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
		Flags: []imap.Flag{imap.FlagSeen}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}

	c := dial(t, e.plain)
	c.login(alice, "secret")
	c.expect("UIDL", "+OK")
	for i, l := range c.multi() {
		if want := fmt.Sprintf("%d %d.%d", i+1, sel.UIDValidity, i+1); l != want {
			t.Fatalf("UIDL line %q; want %q (UIDVALIDITY.UID)", l, want)
		}
	}
	c.expect("RETR 1", "+OK") // the renamed file
	c.multi()

	// IMAP expunges message 3 while the POP3 session is open.
	if _, err := ic.Store(imap.SeqSetNum(3), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
		Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	c.expect("RETR 3", "-ERR Message 3 no longer exists")
	c.expect("DELE 2", "+OK")
	c.expect("DELE 3", "+OK")
	c.expect("QUIT", "+OK Logging out, 1 messages deleted.")

	// The selected IMAP session learns of the POP3 deletion.
	if err := ic.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for got := false; !got; {
		select {
		case seq := <-expunged:
			got = seq == 2 // after the IMAP expunge of 3, POP3's message 2 is still sequence 2
		case <-deadline:
			t.Fatal("IMAP session never saw the POP3 deletion")
		case <-time.After(200 * time.Millisecond):
			ic.Noop().Wait()
		}
	}
	data, err := ic.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if uids := data.AllUIDs(); len(uids) != 2 || uids[0] != 1 || uids[1] != 4 {
		t.Fatalf("UIDs left = %v; want [1 4]", uids)
	}
	left := e.int64(t, `SELECT coalesce(sum(size), 0) FROM messages`)
	if u := e.usage(t, alice); u.rows != 2 || u.files != 2 || u.messages != 2 || u.bytes != left {
		t.Fatalf("after both: %+v (rows hold %d bytes)", u, left)
	}
}
