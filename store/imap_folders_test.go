package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"mailhost/store"
)

// TestUIDValidityGrows: a folder deleted and created again within the same
// second, and a folder renamed onto a deleted name, get a larger
// UIDVALIDITY than the folder that had the name; MAILBOXID is new for a
// folder created again and kept by RENAME.
func TestUIDValidityGrows(t *testing.T) {
	b := newIMAPBox(t)
	ctx := context.Background()
	create := func(name string) store.IMAPFolder {
		t.Helper()
		f, err := b.s.CreateIMAPFolder(ctx, b.mbox, name, "")
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	del := func(name string) {
		t.Helper()
		if _, err := b.s.DeleteIMAPFolder(ctx, b.mbox, name); err != nil {
			t.Fatal(err)
		}
	}
	older := create("Older") // made before the folder it will replace
	x1 := create("X")
	del("X")
	x2 := create("X")
	if x2.UIDValidity <= x1.UIDValidity || x2.ObjectID == x1.ObjectID {
		t.Errorf("re-created X: UIDVALIDITY %d after %d, MAILBOXID %s after %s", x2.UIDValidity, x1.UIDValidity,
			x2.ObjectID, x1.ObjectID)
	}
	del("X")
	if err := b.s.RenameIMAPFolder(ctx, b.mbox, "Older", "X"); err != nil {
		t.Fatal(err)
	}
	x3 := b.folder(t, "X")
	if x3.UIDValidity <= x2.UIDValidity || x3.ObjectID != older.ObjectID || x3.ID != older.ID {
		t.Errorf("renamed onto X: UIDVALIDITY %d after %d; MAILBOXID %s, was %s", x3.UIDValidity, x2.UIDValidity,
			x3.ObjectID, older.ObjectID)
	}
	if len(x3.ObjectID) != 33 || x3.ObjectID[0] != 'F' {
		t.Errorf("MAILBOXID %q", x3.ObjectID)
	}
	// RENAME INBOX makes a new folder: a new UIDVALIDITY too.
	b.appendN(t, b.inbox.ID, 2)
	if err := b.s.RenameIMAPInbox(ctx, b.mbox, "Old mail"); err != nil {
		t.Fatal(err)
	}
	if om := b.folder(t, "Old mail"); om.UIDValidity <= x3.UIDValidity || om.UIDNext != 3 {
		t.Errorf("Old mail: %+v", om)
	}
	if tombs := b.tombstones(t, b.inbox.ID); len(tombs) != 2 {
		t.Errorf("INBOX tombstones after RENAME INBOX: %v", tombs)
	}
}

// TestSubscriptions: subscriptions are names apart from folders (RFC 9051
// 6.3.4-6.3.7): provisioning subscribes its folders, CREATE does not, a
// name without a folder may be subscribed, DELETE keeps the subscription,
// RENAME moves it.
func TestSubscriptions(t *testing.T) {
	b := newIMAPBox(t)
	ctx := context.Background()
	subs := func() []string {
		t.Helper()
		names, err := b.s.IMAPSubscriptions(ctx, b.mbox)
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	if got := subs(); !slices.Equal(got, []string{"INBOX", "Sent", "Trash"}) {
		t.Fatalf("after provisioning: %v", got)
	}
	for _, n := range []string{"A", "A/B", "C"} {
		if _, err := b.s.CreateIMAPFolder(ctx, b.mbox, n, ""); err != nil {
			t.Fatal(err)
		}
	}
	if got := subs(); len(got) != 3 || b.folder(t, "A").Subscribed {
		t.Fatalf("CREATE subscribed: %v", got)
	}
	for _, n := range []string{"A", "A/B", "C", "Nowhere"} {
		if err := b.s.SetIMAPSubscribed(ctx, b.mbox, n, true); err != nil {
			t.Fatalf("subscribe %s: %v", n, err)
		}
	}
	if err := b.s.SetIMAPSubscribed(ctx, b.mbox, "A", true); err != nil {
		t.Errorf("second subscribe: %v", err)
	}
	if _, err := b.s.DeleteIMAPFolder(ctx, b.mbox, "C"); err != nil {
		t.Fatal(err)
	}
	if err := b.s.RenameIMAPFolder(ctx, b.mbox, "A", "Z"); err != nil {
		t.Fatal(err)
	}
	want := []string{"C", "INBOX", "Nowhere", "Sent", "Trash", "Z", "Z/B"}
	if got := subs(); !slices.Equal(got, want) {
		t.Errorf("subscriptions %v, want %v", got, want)
	}
	if !b.folder(t, "Z/B").Subscribed {
		t.Error("Z/B not marked subscribed")
	}
	if err := b.s.SetIMAPSubscribed(ctx, b.mbox, "Nowhere", false); err != nil {
		t.Error(err)
	}
	if err := b.s.SetIMAPSubscribed(ctx, b.mbox, "Nowhere", false); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unsubscribe of a name not subscribed: %v", err)
	}
}

// TestQuota: STORAGE in KiB (usage rounded up) and the message count of
// the mailbox; no message limit.
func TestQuota(t *testing.T) {
	b := newIMAPBox(t)
	b.appendN(t, b.inbox.ID, 3) // 30 bytes
	q, err := b.s.IMAPQuota(context.Background(), b.mbox)
	if err != nil {
		t.Fatal(err)
	}
	if q != (store.IMAPQuota{StorageUsed: 1, StorageLimit: 1024, MessagesUsed: 3}) {
		t.Errorf("quota %+v", q)
	}
}

// TestObjectIDsAndSaveDate: EMAILID is new for an APPEND, kept by MOVE and
// by a COPY that passes it on; SAVEDATE is when the row was made in its
// folder; THREADID is NIL.
func TestObjectIDsAndSaveDate(t *testing.T) {
	b := newIMAPBox(t)
	ctx := context.Background()
	trash := b.folder(t, "Trash").ID
	uids := b.appendN(t, b.inbox.ID, 2)
	src := b.messages(t, b.inbox.ID)
	if src[uids[0]].EmailID == src[uids[1]].EmailID || len(src[uids[0]].EmailID) != 33 ||
		src[uids[0]].SaveDate.IsZero() || src[uids[0]].ThreadID != "" {
		t.Fatalf("appended: %+v", src)
	}
	cp := b.msg()
	cp.EmailID = src[uids[0]].EmailID
	copied, _, err := b.s.IMAPAppend(ctx, b.mbox, trash, []store.NewIMAPMessage{cp})
	if err != nil {
		t.Fatal(err)
	}
	moved, _, _, err := b.s.IMAPMove(ctx, b.mbox, b.inbox.ID, trash, uids[1:], []store.NewIMAPMessage{b.msg()})
	if err != nil {
		t.Fatal(err)
	}
	dst := b.messages(t, trash)
	if dst[copied[0]].EmailID != src[uids[0]].EmailID || dst[moved[0]].EmailID != src[uids[1]].EmailID {
		t.Errorf("EMAILIDs: copy %s of %s, move %s of %s", dst[copied[0]].EmailID, src[uids[0]].EmailID,
			dst[moved[0]].EmailID, src[uids[1]].EmailID)
	}
	if dst[moved[0]].SaveDate.Before(src[uids[1]].SaveDate) {
		t.Errorf("SAVEDATE of the moved message %v, before its first save %v", dst[moved[0]].SaveDate, src[uids[1]].SaveDate)
	}
}
