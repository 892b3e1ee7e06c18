package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"mailhost/store"
)

// TestIMAPSelect: the folder, its \Recent mark and its messages, as the
// separate reads give them; ErrNotFound for a folder that is gone.
func TestIMAPSelect(t *testing.T) {
	b := newIMAPBox(t)
	ctx := context.Background()
	uids := b.appendN(t, b.inbox.ID, 3)
	if _, _, err := b.s.IMAPClaimRecent(ctx, b.inbox.ID); err != nil {
		t.Fatal(err)
	}
	b.appendN(t, b.inbox.ID, 1)
	got, err := b.s.IMAPSelect(ctx, b.inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	f, err := b.s.IMAPFolderByID(ctx, b.inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := b.s.IMAPFolderFlags(ctx, b.inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Folder != f || got.RecentUID != uids[2] || !slices.EqualFunc(got.Messages, msgs, func(a, b store.IMAPMessageFlags) bool {
		return a.UID == b.UID && a.New == b.New && slices.Equal(a.Flags, b.Flags) && slices.Equal(a.Keywords, b.Keywords)
	}) {
		t.Fatalf("IMAPSelect %+v, want folder %+v, recent %d, messages %+v", got, f, uids[2], msgs)
	}
	if _, err := b.s.IMAPSelect(ctx, 1<<40); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no such folder: %v", err)
	}
}
