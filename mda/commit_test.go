package mda_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"mailhost/mda"
	"mailhost/store"
)

// scriptedIndex answers each commit with the next of its scripted
// answers; a folder named in gone has no row.
type scriptedIndex struct {
	gone    map[string]bool
	errs    []error // the error of the 1st, 2nd... commit, nil for success
	commits []store.Delivery
}

func (f *scriptedIndex) CommitDelivery(_ context.Context, d store.Delivery) (store.DeliveryResult, error) {
	n := len(f.commits)
	f.commits = append(f.commits, d)
	if n < len(f.errs) && f.errs[n] != nil {
		return store.DeliveryResult{}, f.errs[n]
	}
	res := store.DeliveryResult{Entries: make([]store.IndexResult, len(d.Entries)), QueueIDs: make([]int64, len(d.Queue))}
	for i, e := range d.Entries {
		if !f.gone[e.Folder] {
			res.Entries[i] = store.IndexResult{UID: int64(10*n + i + 1), FolderID: 1}
		}
	}
	for i := range d.Queue {
		res.QueueIDs[i] = int64(100 + i)
	}
	return res, nil
}

func rcptIn(id int64, local, folder string) mda.Recipient {
	r := rcpt(id, local)
	r.Target.Folder, r.Target.FolderID = folder, 42
	return r
}

func mkFolder(t *testing.T, root, local, dir string) {
	t.Helper()
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, "example.test", local, dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
}

func folderFiles(t *testing.T, root, local, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(root, "example.test", local, dir, "new", "*"))
	return m
}

// TestDeliverFolderVanishedAfterCommit: the commit went through for bob
// and the queue, but alice's folder "news" has no row any more. Deliver
// must succeed (an error would make the client retry and duplicate bob's
// copy and the queued one) and put alice's copy into her INBOX, indexed.
func TestDeliverFolderVanishedAfterCommit(t *testing.T) {
	idx := &scriptedIndex{gone: map[string]bool{"news": true}}
	a, root := agent(t, idx)
	mkFolder(t, root, "alice", ".news")
	res, err := a.Deliver(context.Background(), msg,
		[]mda.Recipient{rcptIn(1, "alice", "news"), rcpt(2, "bob")},
		[]store.QueuedMessage{{Origin: "forward"}}, nil)
	if err != nil {
		t.Fatalf("Deliver after a successful commit: %v", err)
	}
	o := res.Outcomes[0]
	if o.WantedFolder != "news" || o.Recipient.Target.Folder != "INBOX" || o.UID == 0 || o.Err != nil {
		t.Errorf("alice's outcome %+v", o)
	}
	if f := folderFiles(t, root, "alice", ""); len(f) != 1 || f[0] != o.Path {
		t.Errorf("alice's INBOX %v, outcome path %s", f, o.Path)
	}
	if f := folderFiles(t, root, "alice", ".news"); len(f) != 0 {
		t.Errorf("copy left in the vanished folder: %v", f)
	}
	if len(idx.commits) != 2 || len(idx.commits[1].Entries) != 1 || idx.commits[1].Entries[0].Folder != "INBOX" ||
		idx.commits[1].Entries[0].FolderID != 0 || len(idx.commits[1].Queue) != 0 {
		t.Errorf("commits %+v", idx.commits)
	}
	if len(res.QueueIDs) != 1 || res.Outcomes[1].UID == 0 {
		t.Errorf("result %+v", res)
	}
}

// TestDeliverRefileCommitFails: the second commit fails; the message is
// still accepted and alice's copy waits in INBOX for adoption.
func TestDeliverRefileCommitFails(t *testing.T) {
	idx := &scriptedIndex{gone: map[string]bool{"news": true},
		errs: []error{nil, &pgconn.PgError{Code: "40P01", Message: "deadlock detected"}}}
	a, root := agent(t, idx)
	mkFolder(t, root, "alice", ".news")
	res, err := a.Deliver(context.Background(), msg, []mda.Recipient{rcptIn(1, "alice", "news"), rcpt(2, "bob")}, nil, nil)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if o := res.Outcomes[0]; o.Err == nil || o.WantedFolder != "news" {
		t.Errorf("alice's outcome %+v, want an Err", o)
	}
	if f := folderFiles(t, root, "alice", ""); len(f) != 1 {
		t.Errorf("alice's INBOX %v: the refiled copy must stay for adoption", f)
	}
}

// TestDeliverAbandonedBeforeCommit: the caller's context ends while the
// files are written: nothing is committed and nothing stays.
func TestDeliverAbandonedBeforeCommit(t *testing.T) {
	idx := &scriptedIndex{}
	a, root := agent(t, idx)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.Deliver(ctx, msg, []mda.Recipient{rcpt(1, "alice")}, nil, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if len(idx.commits) != 0 || len(newFiles(t, root, "alice")) != 0 {
		t.Errorf("commits %d, files %v", len(idx.commits), newFiles(t, root, "alice"))
	}
}

// blockingGroup holds every group commit until release is closed.
type blockingGroup struct {
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blockingGroup) CommitDeliveries(_ context.Context, ds []store.Delivery) ([]store.DeliveryResult, error) {
	b.once.Do(func() { close(b.started) })
	<-b.release
	out := make([]store.DeliveryResult, len(ds))
	for i := range ds {
		out[i] = store.DeliveryResult{Entries: []store.IndexResult{{UID: 7, FolderID: 1}}}
	}
	return out, nil
}

// TestGroupIndexOutcomeIsNeverGuessed: a caller whose context ends while
// its delivery is being committed still gets the commit's outcome; one
// whose delivery had not been sent gets an error that says nothing was
// committed.
func TestGroupIndexOutcomeIsNeverGuessed(t *testing.T) {
	b := &blockingGroup{started: make(chan struct{}), release: make(chan struct{})}
	g := &mda.GroupIndex{Store: b}
	d := store.Delivery{Entries: []store.IndexEntry{{MailboxID: 1}}}

	inFlight := make(chan error, 1)
	ctx1, cancel1 := context.WithCancel(context.Background())
	go func() {
		res, err := g.CommitDelivery(ctx1, d)
		if err == nil && res.Entries[0].UID != 7 {
			err = errors.New("wrong result")
		}
		inFlight <- err
	}()
	<-b.started // the first delivery's transaction is running
	ctx2, cancel2 := context.WithCancel(context.Background())
	waiting := make(chan error, 1)
	go func() { _, err := g.CommitDelivery(ctx2, d); waiting <- err }()
	cancel1()
	cancel2()
	err := <-waiting
	if err == nil || !store.RolledBack(err) {
		t.Errorf("withdrawn delivery: %v, want an error that store.RolledBack recognises", err)
	}
	close(b.release)
	if err := <-inFlight; err != nil {
		t.Errorf("in-flight delivery: %v, want its committed result", err)
	}
}
