package imapd_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"mailhost/imapd"
	"mailhost/reconcile"
	"mailhost/store"
)

func TestReindexKeepsUIDsAndFixesUsage(t *testing.T) {
	e := newEnv(t)
	id := e.addMailbox(t, "bob@example.test", "secret", 0)
	c := e.dial(t, e.nodes[0], "bob@example.test", "secret", nil)
	appendMsg(t, c, "INBOX", testMsg, imap.FlagSeen, "$Label")
	appendMsg(t, c, "INBOX", testMsg)
	appendMsg(t, c, "INBOX", testMsg)
	ctx := context.Background()

	box := e.maildirPath("bob@example.test")
	cur := filepath.Join(box, "cur")
	// The files of messages 1 and 2, as the index names them (the names'
	// order is not the append order: their counters have no fixed width).
	before, err := e.db.IMAPMessages(ctx, mustFolder(t, e.db, id, "INBOX").ID, []uint32{1, 2})
	if err != nil || len(before) != 2 || before[0].Subdir != "cur" || before[1].Subdir != "cur" {
		t.Fatalf("messages 1 and 2: %+v, %v", before, err)
	}
	first, second := before[0].Filename, before[1].Filename
	// Lose message 2's file, add a foreign file and a new folder on disk,
	// flag message 1 on disk only, and wreck the counters.
	os.Remove(filepath.Join(cur, second))
	os.Rename(filepath.Join(cur, first), filepath.Join(cur, strings.TrimSuffix(first, "S")+"FS"))
	os.WriteFile(filepath.Join(box, "new", "1700000000.x.host"), []byte("Subject: foreign\n\nx\n"), 0o600)
	os.MkdirAll(filepath.Join(box, ".Lists.Go", "cur"), 0o700)
	os.MkdirAll(filepath.Join(box, ".Lists.Go", "new"), 0o700)
	os.MkdirAll(filepath.Join(box, ".Lists.Go", "tmp"), 0o700)
	e.db.Pool().Exec(ctx, `UPDATE mailboxes SET used_bytes = 999999, used_messages = 99 WHERE id = $1`, id)
	e.db.Pool().Exec(ctx, `DELETE FROM folders WHERE mailbox_id = $1 AND name = 'Junk'`, id)

	boxes, err := e.db.ReindexMailboxes(ctx, "bob@example.test")
	if err != nil {
		t.Fatal(err)
	}
	res, err := imapd.Reindex(ctx, e.db, &reconcile.Reconciler{Index: e.db}, e.root, boxes[0])
	if err != nil {
		t.Fatal(err)
	}
	if res.Kept != 2 || res.Added != 1 || res.Removed != 1 || !slices.Equal(res.FoldersAdded, []string{"Junk", "Lists/Go"}) {
		t.Errorf("reindex: %+v", res)
	}
	msgs, err := e.db.IMAPMessages(ctx, mustFolder(t, e.db, id, "INBOX").ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	var uids []uint32
	for _, m := range msgs {
		uids = append(uids, m.UID)
	}
	if !slices.Equal(uids, []uint32{1, 3, 4}) {
		t.Errorf("UIDs after reindex: %v, want 1 3 4", uids)
	}
	if !slices.Contains(msgs[0].Flags, `\Flagged`) || !slices.Contains(msgs[0].Keywords, "$Label") {
		t.Errorf("message 1: flags %v keywords %v", msgs[0].Flags, msgs[0].Keywords)
	}
	if b, n := usage(t, e, id); n != 3 || b != 2*int64(len(testMsg))+int64(len("Subject: foreign\n\nx\n")) {
		t.Errorf("usage after reindex: %d bytes %d messages", b, n)
	}
}

func mustFolder(t *testing.T, db *store.Store, mailboxID int64, name string) store.IMAPFolder {
	t.Helper()
	f, err := db.IMAPFolder(context.Background(), mailboxID, name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
