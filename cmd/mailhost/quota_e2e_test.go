package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailhost/testsupport"
)

// TestServeQuotaWarningParallelClients: IMAP APPENDs and SMTP deliveries
// from parallel clients take a mailbox over 80% of its quota together; its
// owner gets one warning, delivered to the INBOX through the queue.
func TestServeQuotaWarningParallelClients(t *testing.T) {
	e := newMailEnv(t, "alice@example.test")
	ctx := context.Background()
	if _, err := e.st.Pool().Exec(ctx, `UPDATE mailboxes SET quota_bytes = 100000, used_bytes = 78000`); err != nil {
		t.Fatal(err)
	}
	e.start(t)
	body := strings.Repeat("filling the mailbox up\r\n", 80) // ~2 KB a message
	var wg sync.WaitGroup
	for i := range 3 {
		c := e.imapLogin(t, "alice@example.test")
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := fmt.Sprintf("Subject: appended %d\r\n\r\n%s", i, body)
			cmd := c.Append("INBOX", int64(len(msg)), nil)
			if _, err := cmd.Write([]byte(msg)); err != nil {
				t.Error(err)
			}
			if err := cmd.Close(); err != nil {
				t.Error(err)
			}
			if _, err := cmd.Wait(); err != nil {
				t.Errorf("APPEND %d: %v", i, err)
			}
		}()
	}
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := mailOne(e.smtp, "alice@example.test", fmt.Sprintf("Subject: mailed %d\r\n\r\n%s", i, body)); err != nil {
				t.Errorf("SMTP %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	inbox := e.box("alice@example.test").Path
	warnings := func() int {
		n := 0
		for _, sub := range []string{"new", "cur"} {
			files, _ := filepath.Glob(filepath.Join(inbox, sub, "*"))
			for _, f := range files {
				if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), "is 80% full") {
					n++
				}
			}
		}
		return n
	}
	testsupport.Eventually(t, 30*time.Second, "the quota warning in the INBOX", func() bool { return warnings() > 0 })
	e.stop(t)
	if n := warnings(); n != 1 {
		t.Fatalf("%d warnings in the INBOX, want 1\n%s", n, e.srv.log)
	}
	if n := strings.Count(e.srv.log.String(), "quota warning queued"); n != 1 {
		t.Fatalf("%d warnings queued, want 1\n%s", n, e.srv.log)
	}
}

// mailOne sends msg from bob@far.example to rcpt over one SMTP session in
// clear text.
func mailOne(addr, rcpt, msg string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Mail("bob@far.example", nil); err != nil {
		return err
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}
