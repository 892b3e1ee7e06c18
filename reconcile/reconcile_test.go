package reconcile_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mailhost/maildir"
	"mailhost/reconcile"
	"mailhost/store"
	"mailhost/testdb"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

// deadKey is a key made by a process of host "test" that no longer runs.
func deadKey(n string) string { return "1700000000.M1P999999999Q" + n + ".test,S=6" }

// TestCheckAndRepair builds each kind of difference a crash can leave,
// checks that `check` reports exactly those (and not a file in flight),
// that a live Adopt never adopts a removed message, and that a repair
// leaves nothing to report.
func TestCheckAndRepair(t *testing.T) {
	ctx := context.Background()
	s := testdb.Open(t)
	if _, err := s.Pool().Exec(ctx, `INSERT INTO domains (name) VALUES ('example.test');
		INSERT INTO mailboxes (domain_id, local_part, address, password, maildir)
		SELECT id, 'a', 'a@example.test', 'x', 'example.test/a/' FROM domains`); err != nil {
		t.Fatal(err)
	}
	var mbox int64
	if err := s.Pool().QueryRow(ctx, `SELECT id FROM mailboxes`).Scan(&mbox); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	names, err := maildir.NewGenerator("test")
	if err != nil {
		t.Fatal(err)
	}
	owner := maildir.Owner{UID: -1, GID: -1}
	path, err := maildir.Create(root, "example.test", "a", owner)
	if err != nil {
		t.Fatal(err)
	}
	box := maildir.Mailbox{Path: path, Sep: '/', Owner: owner, Names: names}
	for _, sf := range maildir.StandardFolders() { // as the admin service makes them
		if _, _, err := s.EnsureIMAPFolder(ctx, mbox, sf.Name, sf.SpecialUse); err != nil {
			t.Fatal(err)
		}
	}
	inboxDir := maildir.Folder{Path: path, Owner: owner, Names: names}
	deliver := func() maildir.Delivered {
		d, err := inboxDir.Deliver(strings.NewReader("hello\n"), maildir.DeliverOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CommitDelivery(ctx, store.Delivery{Entries: []store.IndexEntry{{MailboxID: mbox,
			Folder: "INBOX", Key: d.Key, Size: d.Size, InternalDate: time.Now()}}}); err != nil {
			t.Fatal(err)
		}
		return d
	}
	kept, expunged, lost := deliver(), deliver(), deliver()
	inbox, err := s.IMAPFolder(ctx, mbox, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	files := &reconcile.Reconciler{Index: s, Grace: time.Hour, Host: names.Host()}

	// A crash right after an EXPUNGE committed: the row is gone, the file stays.
	uids, _ := s.IMAPUIDs(ctx, inbox.ID)
	if _, err := s.IMAPStoreFlags(ctx, inbox.ID, uids[1:2], store.FlagsAdd, []string{`\Deleted`}, nil,
		func(old, _ string, _ []string) string { return old }); err != nil {
		t.Fatal(err)
	}
	if gone, err := s.IMAPExpunge(ctx, mbox, inbox.ID, nil); err != nil || len(gone) != 1 || gone[0].Key != expunged.Key {
		t.Fatalf("expunge: %v %+v", err, gone)
	}
	// A file whose row is lost.
	os.Remove(lost.Path)
	// A delivery whose process died before its commit, and one in flight.
	os.WriteFile(filepath.Join(path, "new", deadKey("1")), []byte("hello\n"), 0o600)
	inflight := names.Next() + ",S=6"
	os.WriteFile(filepath.Join(path, "new", inflight), []byte("hello\n"), 0o600)
	// A MOVE's link whose process died before the commit.
	if err := s.IntendAdds(ctx, inbox.ID, "test", []string{deadKey("2")}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(path, "cur", deadKey("2")+":2,S"), []byte("hello\n"), 0o600)
	// Debris in tmp/.
	old := filepath.Join(path, "tmp", "debris")
	os.WriteFile(old, nil, 0o600)
	os.Chtimes(old, time.Time{}, time.Now().Add(-48*time.Hour))
	// A folder deleted from the index whose directory stayed.
	if err := box.CreateFolder("Gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateIMAPFolder(ctx, mbox, "Gone", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteIMAPFolder(ctx, mbox, "Gone"); err != nil {
		t.Fatal(err)
	}

	check := func(repair bool) []string {
		c := &reconcile.Checker{Files: files, Index: s, Root: root, Owner: owner, Repair: repair}
		var got []string
		if _, err := c.Run(ctx, "", func(d reconcile.Difference) { got = append(got, d.What+" "+d.Name) }); err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		return got
	}
	want := []string{
		"deleted folder still on disk ",
		"file without index row " + deadKey("1"),
		"index row without file " + lost.Key,
		"link of an unfinished MOVE or COPY " + deadKey("2") + ":2,S",
		"removed message still on disk " + expunged.Key,
		"stale file in tmp/ debris",
	}
	if got := check(false); !slices.Equal(got, want) {
		t.Fatalf("check found\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A live adoption takes the dead delivery, never the removed message
	// or the dead link, and leaves the file in flight alone.
	n, err := files.Adopt(ctx, mbox, inbox.ID, inboxDir)
	if err != nil || n != 1 {
		t.Fatalf("adopted %d, %v; want 1", n, err)
	}
	for _, p := range []string{expunged.Path, filepath.Join(path, "cur", deadKey("2")+":2,S")} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still on disk after Adopt: %v", p, err)
		}
	}

	check(true)
	if got := check(false); len(got) != 0 {
		t.Fatalf("after repair: %q", got)
	}
	ff, err := s.IMAPFolderFiles(ctx, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{kept.Key, deadKey("1")} {
		if _, ok := ff.Indexed[k]; !ok {
			t.Errorf("%s not indexed after repair", k)
		}
	}
	if _, ok := ff.Indexed[inflight]; ok || len(ff.Pending) != 0 || len(ff.Indexed) != 2 {
		t.Errorf("after repair: %+v", ff)
	}
	if _, err := os.Stat(filepath.Join(path, ".Gone")); !os.IsNotExist(err) {
		t.Errorf("deleted folder's directory: %v", err)
	}
}
