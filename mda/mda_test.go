package mda_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"mailhost/maildir"
	"mailhost/mda"
	"mailhost/store"
	"mailhost/testsupport"
)

type fakeIndex struct {
	err       error
	overQuota map[int64]bool
	got       store.Delivery
	bounced   []store.QueuedMessage
}

func (f *fakeIndex) CommitDelivery(_ context.Context, d store.Delivery) (store.DeliveryResult, error) {
	f.got = d
	if f.err != nil {
		return store.DeliveryResult{}, f.err
	}
	res := store.DeliveryResult{Entries: make([]store.IndexResult, len(d.Entries))}
	var refused []int
	for i, e := range d.Entries {
		if f.overQuota[e.MailboxID] {
			res.Entries[i].OverQuota = true
			refused = append(refused, i)
			continue
		}
		res.Entries[i] = store.IndexResult{UID: int64(i + 1), FolderID: 1}
	}
	if len(refused) > 0 && len(refused) < len(d.Entries) && d.OnOverQuota != nil {
		f.bounced = d.OnOverQuota(refused)
	}
	return res, nil
}

func agent(t *testing.T, idx mda.Index) (*mda.Agent, string) {
	root := t.TempDir()
	names, err := maildir.NewGenerator("mda.test")
	if err != nil {
		t.Fatal(err)
	}
	return &mda.Agent{Root: root, Names: names, Index: idx}, root
}

func rcpt(id int64, local string) mda.Recipient {
	return mda.Recipient{
		Target: store.LocalTarget{MailboxID: id, Address: local + "@example.test", Domain: "example.test",
			Maildir: "example.test/" + local + "/", Folder: "INBOX"},
		Header: []byte("Delivered-To: " + local + "@example.test\r\n"),
	}
}

func newFiles(t *testing.T, root, local string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(root, "example.test", local, "new", "*"))
	tmp, _ := filepath.Glob(filepath.Join(root, "example.test", local, "tmp", "?*.*"))
	return append(m, tmp...)
}

var msg = mda.Message{Header: []byte("Received: x\r\n"), Body: []byte("Subject: t\r\n\r\nbody\r\n")}

func TestDeliverCreatesMaildirAndIndexes(t *testing.T) {
	idx := &fakeIndex{}
	a, root := agent(t, idx)
	res, err := a.Deliver(context.Background(), msg, []mda.Recipient{rcpt(1, "alice"), rcpt(2, "bob")}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, local := range []string{"alice", "bob"} {
		files := newFiles(t, root, local)
		if len(files) != 1 {
			t.Fatalf("%s: %v", local, files)
		}
		b, _ := os.ReadFile(files[0])
		if want := "Delivered-To: " + local + "@example.test\r\nReceived: x\r\nSubject: t\r\n\r\nbody\r\n"; string(b) != want {
			t.Errorf("%s: %q", local, b)
		}
		for _, sub := range []string{"", "cur", "new", "tmp", ".Sent"} {
			fi, err := os.Stat(filepath.Join(root, "example.test", local, sub))
			if err != nil || fi.Mode().Perm() != 0o700 {
				t.Errorf("%s/%s: %v %v", local, sub, fi.Mode(), err)
			}
		}
	}
	if len(idx.got.Entries) != 2 || idx.got.Entries[0].Folder != "INBOX" || res.Outcomes[1].UID != 2 ||
		!strings.HasSuffix(res.Outcomes[0].Path, idx.got.Entries[0].Key) {
		t.Errorf("index %+v outcomes %+v", idx.got, res.Outcomes)
	}
}

func TestDeliverRollsBackFiles(t *testing.T) {
	idx := &fakeIndex{err: &pgconn.PgError{Code: "40001", Message: "serialization failure"}}
	a, root := agent(t, idx)
	if _, err := a.Deliver(context.Background(), msg, []mda.Recipient{rcpt(1, "alice"), rcpt(2, "bob")}, nil, nil); err == nil {
		t.Fatal("no error")
	}
	if f := append(newFiles(t, root, "alice"), newFiles(t, root, "bob")...); len(f) != 0 {
		t.Errorf("files left after a rolled back commit: %v", f)
	}
}

func TestDeliverWriteFailureLeavesNothing(t *testing.T) {
	idx := &fakeIndex{}
	a, root := agent(t, idx)
	if _, err := a.Deliver(context.Background(), msg, []mda.Recipient{rcpt(1, "alice")}, nil, nil); err != nil {
		t.Fatal(err)
	}
	// bob's tmp/ is a file: his copy cannot be written (even as root).
	os.MkdirAll(filepath.Join(root, "example.test", "bob", "new"), 0o700)
	os.WriteFile(filepath.Join(root, "example.test", "bob", "tmp"), nil, 0o600)
	if _, err := a.Deliver(context.Background(), msg, []mda.Recipient{rcpt(1, "alice"), rcpt(2, "bob")}, nil, nil); err == nil {
		t.Fatal("no error")
	}
	if f := newFiles(t, root, "alice"); len(f) != 1 {
		t.Errorf("alice: %v (the failed delivery's copy must be removed)", f)
	}
}

func TestDeliverOverQuota(t *testing.T) {
	idx := &fakeIndex{overQuota: map[int64]bool{2: true}}
	a, root := agent(t, idx)
	// Alone: ErrOverQuota, nothing stored.
	if _, err := a.Deliver(context.Background(), msg, []mda.Recipient{rcpt(2, "bob")}, nil, nil); !errors.Is(err, mda.ErrOverQuota) {
		t.Fatalf("err %v", err)
	}
	if f := newFiles(t, root, "bob"); len(f) != 0 {
		t.Errorf("bob: %v", f)
	}
	// With another recipient: delivered to alice, bounce built for bob.
	res, err := a.Deliver(context.Background(), msg, []mda.Recipient{rcpt(1, "alice"), rcpt(2, "bob")}, nil,
		func(refused []mda.Outcome) []store.QueuedMessage {
			return []store.QueuedMessage{{Origin: "bounce", Recipients: []store.QueuedRecipient{{Address: refused[0].Recipient.Target.Address}}}}
		})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Outcomes[1].OverQuota || len(newFiles(t, root, "bob")) != 0 || len(newFiles(t, root, "alice")) != 1 {
		t.Errorf("outcomes %+v", res.Outcomes)
	}
	if len(idx.bounced) != 1 || idx.bounced[0].Recipients[0].Address != "bob@example.test" {
		t.Errorf("bounces %+v", idx.bounced)
	}
}

type fakeGroup struct {
	mu     sync.Mutex
	groups []int
	fail   map[int64]bool // mailbox ids whose delivery fails the group
	// The first commit sends its size on first, then waits for release.
	first   chan int
	release chan struct{}
}

func (f *fakeGroup) CommitDeliveries(_ context.Context, ds []store.Delivery) ([]store.DeliveryResult, error) {
	f.mu.Lock()
	isFirst := len(f.groups) == 0
	f.groups = append(f.groups, len(ds))
	f.mu.Unlock()
	if isFirst {
		f.first <- len(ds)
		<-f.release
	}
	out := make([]store.DeliveryResult, len(ds))
	for i, d := range ds {
		if f.fail[d.Entries[0].MailboxID] {
			return nil, &pgconn.PgError{Code: "23503", Message: "fk"}
		}
		out[i] = store.DeliveryResult{Entries: []store.IndexResult{{UID: d.Entries[0].MailboxID, FolderID: 1}}}
	}
	return out, nil
}

func TestGroupIndex(t *testing.T) {
	f := &fakeGroup{fail: map[int64]bool{7: true}, first: make(chan int, 1), release: make(chan struct{})}
	g := &mda.GroupIndex{Store: f}
	var wg sync.WaitGroup
	errs := make([]error, 40)
	uids := make([]int64, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := g.CommitDelivery(context.Background(), store.Delivery{Entries: []store.IndexEntry{{MailboxID: int64(i)}}})
			errs[i] = err
			if err == nil {
				uids[i] = res.Entries[0].UID
			}
		}()
	}
	// While the first commit runs, the other deliveries queue up for the
	// next one.
	var first int
	select {
	case first = <-f.first:
	case <-time.After(30 * time.Second):
		t.Fatal("no commit started")
	}
	testsupport.Eventually(t, 30*time.Second, "the other deliveries to queue up", func() bool { return g.Pending() == len(errs)-first })
	close(f.release)
	wg.Wait()
	for i := range errs {
		if (errs[i] != nil) != (i == 7) || errs[i] == nil && uids[i] != int64(i) {
			t.Errorf("delivery %d: uid %d err %v", i, uids[i], errs[i])
		}
	}
	grouped := false
	for _, n := range f.groups {
		grouped = grouped || n > 1
	}
	if !grouped {
		t.Errorf("no group formed: %v", f.groups)
	}
}
