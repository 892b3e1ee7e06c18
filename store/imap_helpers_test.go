package store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"mailhost/store"
	"mailhost/testdb"
)

// imapBox is a mailbox made as provisioning makes it (INBOX, Sent, Trash),
// for the IMAP index tests.
type imapBox struct {
	s     *store.Store
	mbox  int64
	inbox store.IMAPFolder
	keys  atomic.Int64
}

func newIMAPBox(t *testing.T) *imapBox {
	t.Helper()
	s := testdb.Open(t)
	ctx := context.Background()
	mustExec(t, s, `INSERT INTO domains (name) VALUES ('example.test')`)
	var domain int64
	if err := s.Pool().QueryRow(ctx, `SELECT id FROM domains`).Scan(&domain); err != nil {
		t.Fatal(err)
	}
	var mb store.Mailbox
	err := s.Tx(ctx, func(tx *store.Tx) error {
		var err error
		mb, err = tx.InsertMailbox(ctx, store.Mailbox{DomainID: domain, LocalPart: "a", Address: "a@example.test",
			Password: "x", Maildir: "example.test/a/", Active: true, QuotaBytes: 1 << 20},
			[]store.NewFolder{{Name: "INBOX"}, {Name: "Sent", SpecialUse: `\Sent`}, {Name: "Trash", SpecialUse: `\Trash`}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	b := &imapBox{s: s, mbox: mb.ID}
	b.inbox = b.folder(t, "INBOX")
	return b
}

func (b *imapBox) folder(t *testing.T, name string) store.IMAPFolder {
	t.Helper()
	f, err := b.s.IMAPFolder(context.Background(), b.mbox, name)
	if err != nil {
		t.Fatalf("folder %s: %v", name, err)
	}
	return f
}

func (b *imapBox) hms(t *testing.T, folderID int64) int64 {
	t.Helper()
	f, err := b.s.IMAPFolderByID(context.Background(), folderID)
	if err != nil {
		t.Fatal(err)
	}
	return f.HighestModSeq
}

// msg is a new message file with a key of its own.
func (b *imapBox) msg() store.NewIMAPMessage {
	k := fmt.Sprintf("1700000000.M%dP1Q1.test,S=10", b.keys.Add(1))
	return store.NewIMAPMessage{Key: k, Subdir: "cur", Filename: k + ":2,", Flags: []string{}, Keywords: []string{},
		Size: 10, InternalDate: time.Now()}
}

func (b *imapBox) appendN(t *testing.T, folderID int64, n int) []uint32 {
	t.Helper()
	var msgs []store.NewIMAPMessage
	for range n {
		msgs = append(msgs, b.msg())
	}
	uids, _, err := b.s.IMAPAppend(context.Background(), b.mbox, folderID, msgs)
	if err != nil {
		t.Fatal(err)
	}
	return uids
}

// messages returns a folder's messages by UID.
func (b *imapBox) messages(t *testing.T, folderID int64) map[uint32]store.IMAPMessage {
	t.Helper()
	ms, err := b.s.IMAPMessages(context.Background(), folderID, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint32]store.IMAPMessage{}
	for _, m := range ms {
		out[m.UID] = m
	}
	return out
}

// tombstones returns the expunged_messages rows of a folder: uid → modseq.
func (b *imapBox) tombstones(t *testing.T, folderID int64) map[uint32]int64 {
	t.Helper()
	rows, err := b.s.Pool().Query(context.Background(), `SELECT uid, modseq FROM expunged_messages WHERE folder_id = $1`, folderID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[uint32]int64{}
	for rows.Next() {
		var uid, modseq int64
		if err := rows.Scan(&uid, &modseq); err != nil {
			t.Fatal(err)
		}
		out[uint32(uid)] = modseq
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func keep(old, _ string, _ []string) string { return old }
