package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"mailhost/store"
)

// TestRecentClaimedOnce: EXAMINE peeks without claiming; the first SELECT
// claims; messages arriving while two sessions (of any nodes) poll are
// recent in exactly one of them.
func TestRecentClaimedOnce(t *testing.T) {
	b := newIMAPBox(t)
	ctx := context.Background()
	f := b.inbox.ID
	b.appendN(t, f, 3)
	for range 2 { // EXAMINE twice: a peek
		from, to, err := b.s.IMAPPeekRecent(ctx, f)
		if err != nil || from != 1 || to != 3 {
			t.Fatalf("peek: %d:%d, %v", from, to, err)
		}
	}
	st, err := b.s.IMAPStatus(ctx, f)
	if err != nil || st.Recent != 3 {
		t.Fatalf("STATUS RECENT %d, %v", st.Recent, err)
	}
	if n, err := b.s.IMAPMessageCount(ctx, f); err != nil || n != 3 {
		t.Fatalf("IMAPMessageCount %d, %v", n, err)
	}
	if from, to, err := b.s.IMAPClaimRecent(ctx, f); err != nil || from != 1 || to != 3 {
		t.Fatalf("first claim: %d:%d, %v", from, to, err)
	}
	if from, to, err := b.s.IMAPClaimRecent(ctx, f); err != nil || from != 0 || to != 0 {
		t.Fatalf("second claim: %d:%d, %v", from, to, err)
	}
	if st, _ := b.s.IMAPStatus(ctx, f); st.Recent != 0 {
		t.Fatalf("STATUS RECENT %d after the claim", st.Recent)
	}

	const n = 60
	var mu sync.Mutex
	claims := map[uint32]int{}
	done := make(chan struct{})
	var g errgroup.Group
	g.Go(func() error { // deliveries
		defer close(done)
		for range n {
			_, err := b.s.CommitDelivery(ctx, store.Delivery{Entries: []store.IndexEntry{{MailboxID: b.mbox,
				Folder: "INBOX", FolderID: f, Key: b.msg().Key, Size: 10, InternalDate: time.Now()}}})
			if err != nil {
				return err
			}
		}
		return nil
	})
	// One session claims as SELECT does (a look, then the claim), the
	// other as a poll does, from the snapshot of its sync.
	claims2 := []func() (uint32, uint32, error){
		func() (uint32, uint32, error) { return b.s.IMAPClaimRecent(ctx, f) },
		func() (uint32, uint32, error) {
			sy, err := b.s.IMAPSyncSince(ctx, f, 0)
			if err != nil {
				return 0, 0, err
			}
			return b.s.IMAPClaimRecentSeen(ctx, f, sy.RecentUID, sy.Folder.UIDNext)
		},
	}
	claim := func(how int) error {
		from, to, err := claims2[how]()
		if err != nil || from == 0 {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for u := from; u <= to; u++ {
			claims[u]++
		}
		return nil
	}
	for how := range claims2 { // two sessions polling
		g.Go(func() error {
			for {
				select {
				case <-done:
					return claim(how)
				default:
					if err := claim(how); err != nil {
						return err
					}
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	for u := uint32(4); u < 4+n; u++ {
		if claims[u] != 1 {
			t.Errorf("UID %d recent in %d sessions", u, claims[u])
		}
	}
	if len(claims) != n {
		t.Errorf("%d UIDs claimed, want %d", len(claims), n)
	}
}
