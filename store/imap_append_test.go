package store_test

import (
	"context"
	"errors"
	"testing"

	"mailhost/store"
)

// TestIMAPAppendQuotaAndJournal: APPEND's one statement charges what went
// in, refuses what does not fit with nothing written, drops the keys'
// 'add' journal rows, and tells a missing folder from a full mailbox.
func TestIMAPAppendQuotaAndJournal(t *testing.T) {
	b := newIMAPBox(t) // quota 1 MiB
	ctx := context.Background()
	usage := func() (bytes, msgs int64) {
		t.Helper()
		if err := b.s.Pool().QueryRow(ctx, `SELECT used_bytes, used_messages FROM mailboxes WHERE id = $1`, b.mbox).
			Scan(&bytes, &msgs); err != nil {
			t.Fatal(err)
		}
		return bytes, msgs
	}
	m1, m2 := b.msg(), b.msg()
	mustExec(t, b.s, `INSERT INTO pending_files (folder_id, key, op, node) VALUES ($1, $2, 'add', 'n')`, b.inbox.ID, m1.Key)
	uids, uv, err := b.s.IMAPAppend(ctx, b.mbox, b.inbox.ID, []store.NewIMAPMessage{m1, m2})
	if err != nil || len(uids) != 2 || uids[0] == 0 || uids[1] != uids[0]+1 || uv != b.inbox.UIDValidity {
		t.Fatalf("append: uids %v, uidvalidity %d (want %d), %v", uids, uv, b.inbox.UIDValidity, err)
	}
	if by, n := usage(); by != 20 || n != 2 {
		t.Fatalf("usage %d bytes %d messages, want 20, 2", by, n)
	}
	var journal int
	if err := b.s.Pool().QueryRow(ctx, `SELECT count(*) FROM pending_files`).Scan(&journal); err != nil || journal != 0 {
		t.Fatalf("journal rows left: %d (%v)", journal, err)
	}

	// A key indexed already is neither indexed nor charged again.
	m3 := b.msg()
	uids, _, err = b.s.IMAPAppend(ctx, b.mbox, b.inbox.ID, []store.NewIMAPMessage{m1, m3})
	if err != nil || uids[0] != 0 || uids[1] == 0 {
		t.Fatalf("append again: %v, %v", uids, err)
	}
	if by, n := usage(); by != 30 || n != 3 {
		t.Fatalf("usage %d bytes %d messages, want 30, 3", by, n)
	}

	hms := b.hms(t, b.inbox.ID)
	big := b.msg()
	big.Size = 1 << 20
	if _, _, err := b.s.IMAPAppend(ctx, b.mbox, b.inbox.ID, []store.NewIMAPMessage{big}); !errors.Is(err, store.ErrOverQuota) {
		t.Fatalf("over quota: %v", err)
	}
	if by, n := usage(); by != 30 || n != 3 || b.hms(t, b.inbox.ID) != hms || len(b.messages(t, b.inbox.ID)) != 3 {
		t.Fatalf("over quota changed something: usage %d/%d, modseq %d (was %d)", by, n, b.hms(t, b.inbox.ID), hms)
	}
	if _, _, err := b.s.IMAPAppend(ctx, b.mbox, 1<<40, []store.NewIMAPMessage{b.msg()}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no such folder: %v", err)
	}
	if _, _, err := b.s.IMAPAppend(ctx, 1<<40, b.inbox.ID, []store.NewIMAPMessage{b.msg()}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no such mailbox: %v", err)
	}
	if by, n := usage(); by != 30 || n != 3 {
		t.Fatalf("usage %d bytes %d messages after refusals, want 30, 3", by, n)
	}
}
