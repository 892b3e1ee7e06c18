package store_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"

	"mailhost/store"
)

// TestSyncSinceShared: what FolderSub.SyncSince returns is what
// IMAPSyncSince would return for the session's modseq, whether it reads
// or takes another session's snapshot, and a snapshot serves only the
// wake-ups before it began.
func TestSyncSinceShared(t *testing.T) {
	b := newIMAPBox(t)
	ctx := context.Background()
	l := b.s.NewFolderListener(slog.New(slog.DiscardHandler)) // not run: wake-ups by Notify only
	x, y := l.Subscribe(b.inbox.ID), l.Subscribe(b.inbox.ID)
	defer x.Close()
	defer y.Close()
	check := func(sub *store.FolderSub, since int64) store.IMAPSync {
		t.Helper()
		got, err := sub.SyncSince(ctx, since)
		if err != nil {
			t.Fatal(err)
		}
		want, err := b.s.IMAPSyncSince(ctx, b.inbox.ID, since)
		if err != nil {
			t.Fatal(err)
		}
		if got.Folder != want.Folder || got.Complete != want.Complete || got.RecentUID != want.RecentUID ||
			!slices.Equal(got.Vanished, want.Vanished) || !slices.EqualFunc(got.Changed, want.Changed, sameMessage) {
			t.Fatalf("since %d: shared %+v, own %+v", since, got, want)
		}
		return got
	}
	h0 := b.hms(t, b.inbox.ID)
	uids := b.appendN(t, b.inbox.ID, 3)
	l.Notify(b.inbox.ID)
	if got := check(x, h0); len(got.Changed) != 3 {
		t.Fatalf("3 appended, %d changed", len(got.Changed))
	}
	h1 := b.hms(t, b.inbox.ID)
	check(y, h0) // x's snapshot
	check(y, h1) // the same, nothing after h1

	if _, err := b.s.IMAPStoreFlags(ctx, b.inbox.ID, uids[:1], store.FlagsAdd, []string{`\Deleted`}, nil, keep); err != nil {
		t.Fatal(err)
	}
	// Before the wake-up the snapshot stands: it is what the session
	// knows of. After it, the change is there.
	if got, _ := y.SyncSince(ctx, h1); len(got.Changed) != 0 {
		t.Fatalf("a change without its wake-up shown: %+v", got.Changed)
	}
	l.Notify(b.inbox.ID)
	if got := check(y, h1); len(got.Changed) != 1 || got.Changed[0].UID != uids[0] {
		t.Fatalf("after the wake-up: %+v", got.Changed)
	}
	got := check(x, h0) // older than y's snapshot: x reads its own
	got.Changed[0].Flags[0] = "changed by the caller"
	check(x, h1) // the snapshot was not touched

	h2 := b.hms(t, b.inbox.ID)
	if _, err := b.s.IMAPExpunge(ctx, b.mbox, b.inbox.ID, nil); err != nil {
		t.Fatal(err)
	}
	l.Notify(b.inbox.ID)
	if got := check(x, h2); !slices.Equal(got.Vanished, uids[:1]) {
		t.Fatalf("vanished %v, want %v", got.Vanished, uids[:1])
	}
	check(y, h1)
	check(y, h0)
}

func sameMessage(a, b store.IMAPMessage) bool {
	return a.UID == b.UID && a.ModSeq == b.ModSeq && slices.Equal(a.Flags, b.Flags) && slices.Equal(a.Keywords, b.Keywords)
}
