package imapd_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"

	"mailhost/imapd"
)

// usageLog is an imapd.UsageWatcher that remembers what it heard.
type usageLog struct {
	mu  sync.Mutex
	ids []int64
}

func (u *usageLog) UsageGrew(mailboxID int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.ids = append(u.ids, mailboxID)
}

func (u *usageLog) heard() []int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.ids)
}

// APPEND and COPY tell the watcher of the usage they added, after their
// commit; MOVE adds none, and a refused APPEND tells nothing.
func TestUsageWatcherHearsAppendAndCopy(t *testing.T) {
	e := newEnv(t)
	w := &usageLog{}
	n := e.startNodeWith(t, func(o *imapd.Options) { o.Usage = w })
	id := e.addMailbox(t, "bob@example.test", "secret", 3*int64(len(testMsg)))
	c := e.dial(t, n, "bob@example.test", "secret", nil)
	appendMsg(t, c, "INBOX", testMsg)
	if got := w.heard(); !slices.Equal(got, []int64{id}) {
		t.Fatalf("after APPEND: %v, want [%d]", got, id)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Copy(imap.SeqSetNum(1), "Archive").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Move(imap.SeqSetNum(1), "Trash").Wait(); err != nil {
		t.Fatal(err)
	}
	if got := w.heard(); !slices.Equal(got, []int64{id, id}) {
		t.Fatalf("after COPY and MOVE: %v, want [%d %d]", got, id, id)
	}
	cmd := c.Append("INBOX", int64(2*len(testMsg)), nil)
	cmd.Write([]byte(testMsg + testMsg))
	cmd.Close()
	if _, err := cmd.Wait(); err == nil {
		t.Fatal("APPEND over the quota succeeded")
	}
	if got := w.heard(); len(got) != 2 {
		t.Fatalf("after a refused APPEND: %v", got)
	}
}
