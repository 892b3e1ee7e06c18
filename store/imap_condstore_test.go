package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"mailhost/store"
)

// TestModSeqEveryChange: each change to a folder (delivery, APPEND/COPY,
// adoption, STORE, EXPUNGE, MOVE's source and destination, POP3 QUIT,
// DropMissing) takes exactly one step of the folder's HIGHESTMODSEQ and
// gives it to the rows it changes or to the tombstones of those it removes;
// IMAPVanishedSince answers from those tombstones.
func TestModSeqEveryChange(t *testing.T) {
	b := newIMAPBox(t)
	ctx := context.Background()
	inbox, trash := b.inbox.ID, b.folder(t, "Trash").ID
	step := func(what string, folderID int64, do func()) int64 {
		t.Helper()
		before := b.hms(t, folderID)
		do()
		after := b.hms(t, folderID)
		if after != before+1 {
			t.Fatalf("%s: HIGHESTMODSEQ %d -> %d, want one step", what, before, after)
		}
		return after
	}
	wantModSeq := func(what string, folderID int64, uids []uint32, modseq int64) {
		t.Helper()
		ms := b.messages(t, folderID)
		for _, u := range uids {
			if m, ok := ms[u]; !ok || m.ModSeq != modseq {
				t.Errorf("%s: UID %d: %+v, want modseq %d", what, u, m, modseq)
			}
		}
	}
	wantTombs := func(what string, folderID int64, uids []uint32, modseq int64) {
		t.Helper()
		tombs := b.tombstones(t, folderID)
		for _, u := range uids {
			if got, ok := tombs[u]; !ok || got != modseq {
				t.Errorf("%s: tombstone of UID %d: %d (%v), want %d", what, u, got, ok, modseq)
			}
		}
	}

	var delivered int64
	h := step("delivery", inbox, func() {
		res, err := b.s.CommitDelivery(ctx, store.Delivery{Entries: []store.IndexEntry{{MailboxID: b.mbox,
			Folder: "INBOX", FolderID: inbox, Key: "1700000000.M0P1Q1.test", Size: 10, InternalDate: time.Now()}}})
		if err != nil {
			t.Fatal(err)
		}
		delivered = res.Entries[0].UID
	})
	wantModSeq("delivery", inbox, []uint32{uint32(delivered)}, h)
	var appended []uint32
	h = step("append", inbox, func() { appended = b.appendN(t, inbox, 3) })
	wantModSeq("append", inbox, appended, h)
	h = step("adopt", inbox, func() {
		if n, err := b.s.IMAPAdopt(ctx, b.mbox, inbox, []store.NewIMAPMessage{b.msg()}); err != nil || n != 1 {
			t.Fatalf("adopt: %d, %v", n, err)
		}
	})
	wantModSeq("adopt", inbox, []uint32{5}, h)
	h = step("store", inbox, func() {
		ch, err := b.s.IMAPStoreFlags(ctx, inbox, appended[:2], store.FlagsAdd, []string{`\Deleted`}, nil, keep)
		if err != nil || len(ch) != 2 || ch[0].ModSeq != b.hms(t, inbox) {
			t.Fatalf("store: %+v, %v", ch, err)
		}
	})
	wantModSeq("store", inbox, appended[:2], h)
	h = step("expunge", inbox, func() {
		if _, err := b.s.IMAPExpunge(ctx, b.mbox, inbox, nil); err != nil {
			t.Fatal(err)
		}
	})
	wantTombs("expunge", inbox, appended[:2], h)
	afterExpunge := h

	var moved []uint32
	src := step("move source", inbox, func() {
		dst := step("move destination", trash, func() {
			var err error
			moved, _, _, err = b.s.IMAPMove(ctx, b.mbox, inbox, trash, appended[2:], []store.NewIMAPMessage{b.msg()})
			if err != nil {
				t.Fatal(err)
			}
		})
		wantModSeq("move destination", trash, moved, dst)
	})
	wantTombs("move source", inbox, appended[2:], src)

	mbox, err := b.s.POP3Inbox(ctx, b.mbox)
	if err != nil {
		t.Fatal(err)
	}
	h = step("pop3 quit", inbox, func() {
		if _, err := b.s.POP3Expunge(ctx, b.mbox, inbox, []int64{mbox.Messages[0].ID}); err != nil {
			t.Fatal(err)
		}
	})
	wantTombs("pop3 quit", inbox, []uint32{uint32(mbox.Messages[0].UID)}, h)
	h = step("drop missing", inbox, func() {
		if n, err := b.s.DropMissing(ctx, b.mbox, inbox, []string{mbox.Messages[1].Key}); err != nil || n != 1 {
			t.Fatalf("drop missing: %d, %v", n, err)
		}
	})
	wantTombs("drop missing", inbox, []uint32{uint32(mbox.Messages[1].UID)}, h)

	// VANISHED (EARLIER) since the EXPUNGE: the MOVE's, POP3's and the
	// check's removals, complete (a folder made after migration 0007 has
	// every tombstone: floor 0).
	got, floor, err := b.s.IMAPVanishedSince(ctx, inbox, afterExpunge)
	want := []uint32{appended[2], uint32(mbox.Messages[0].UID), uint32(mbox.Messages[1].UID)}
	slices.Sort(want)
	if err != nil || floor != 0 || !slices.Equal(got, want) {
		t.Errorf("vanished since %d: %v floor %d (%v), want %v floor 0", afterExpunge, got, floor, err, want)
	}
	sync, err := b.s.IMAPSyncSince(ctx, inbox, afterExpunge)
	if err != nil || !sync.Complete || !slices.Equal(sync.Vanished, want) || sync.Folder.HighestModSeq != b.hms(t, inbox) ||
		len(sync.Changed) != 0 {
		t.Errorf("sync since %d: %+v, %v", afterExpunge, sync, err)
	}
	if _, err := b.s.IMAPSyncSince(ctx, 1<<40, 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("sync of no folder: %v", err)
	}
	if _, _, err := b.s.IMAPVanishedSince(ctx, 1<<40, 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("vanished of no folder: %v", err)
	}
	// CHANGEDSINCE serves FETCH (CHANGEDSINCE m) and SEARCH MODSEQ m (m-1):
	// only the messages changed after m.
	changed, err := b.s.IMAPChangedSince(ctx, trash, b.hms(t, trash)-1)
	if err != nil || len(changed) != 1 || changed[0].UID != moved[0] {
		t.Errorf("changed since: %+v, %v", changed, err)
	}
}

// TestStoreUnchangedSince: STORE (UNCHANGEDSINCE n) changes only the
// messages whose modseq is at most n and reports the others as modified.
func TestStoreUnchangedSince(t *testing.T) {
	b := newIMAPBox(t)
	ctx := context.Background()
	uids := b.appendN(t, b.inbox.ID, 3)
	seen := b.hms(t, b.inbox.ID) // what a client saw
	if _, err := b.s.IMAPStoreFlags(ctx, b.inbox.ID, uids[:1], store.FlagsAdd, []string{`\Flagged`}, nil, keep); err != nil {
		t.Fatal(err)
	}
	ch, modified, err := b.s.IMAPStoreFlagsUnchangedSince(ctx, b.inbox.ID, append(uids, 99), seen,
		store.FlagsAdd, []string{`\Seen`}, nil, keep)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(modified, uids[:1]) || len(ch) != 2 || ch[0].UID != uids[1] || ch[1].UID != uids[2] {
		t.Fatalf("changes %+v, modified %v; want UIDs %v changed and %v modified", ch, modified, uids[1:], uids[:1])
	}
	ms := b.messages(t, b.inbox.ID)
	if slices.Contains(ms[uids[0]].Flags, `\Seen`) || !slices.Contains(ms[uids[1]].Flags, `\Seen`) ||
		ms[uids[1]].ModSeq != b.hms(t, b.inbox.ID) {
		t.Errorf("rows %+v", ms)
	}
	// UNCHANGEDSINCE 0 fails for every message (RFC 7162 3.1.3).
	_, modified, err = b.s.IMAPStoreFlagsUnchangedSince(ctx, b.inbox.ID, uids, 0, store.FlagsAdd, []string{`\Draft`}, nil, keep)
	if err != nil || !slices.Equal(modified, uids) {
		t.Errorf("unchangedsince 0: modified %v, %v", modified, err)
	}
}

// TestTombstonesPruned: a folder keeps between N and 2N tombstones; the
// floor rises to the newest modseq pruned, and IMAPVanishedSince says when
// its list is incomplete.
func TestTombstonesPruned(t *testing.T) {
	b := newIMAPBox(t)
	ctx := context.Background()
	store.SetTombstones(b.s, 2)
	uids := b.appendN(t, b.inbox.ID, 6)
	var steps []int64
	for _, u := range uids { // six EXPUNGEs of one message each
		if _, err := b.s.IMAPStoreFlags(ctx, b.inbox.ID, []uint32{u}, store.FlagsAdd, []string{`\Deleted`}, nil, keep); err != nil {
			t.Fatal(err)
		}
		if _, err := b.s.IMAPExpunge(ctx, b.mbox, b.inbox.ID, nil); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, b.hms(t, b.inbox.ID))
	}
	tombs := b.tombstones(t, b.inbox.ID)
	if len(tombs) < 2 || len(tombs) > 4 {
		t.Fatalf("%d tombstones kept: %v", len(tombs), tombs)
	}
	// The fifth expunge made 5 > 2*2: the three oldest went.
	_, floor, err := b.s.IMAPVanishedSince(ctx, b.inbox.ID, 0)
	if err != nil || floor != steps[2] {
		t.Fatalf("floor %d (%v), want %d", floor, err, steps[2])
	}
	got, _, err := b.s.IMAPVanishedSince(ctx, b.inbox.ID, floor)
	if err != nil || !slices.Equal(got, uids[3:]) {
		t.Errorf("vanished since the floor: %v (%v), want %v", got, err, uids[3:])
	}
	if sync, err := b.s.IMAPSyncSince(ctx, b.inbox.ID, 0); err != nil || sync.Complete || !slices.Equal(sync.Vanished, uids[3:]) {
		t.Errorf("sync since 0 after pruning: %+v, %v", sync, err)
	}
	var count, rows int64
	if err := b.s.Pool().QueryRow(ctx, `SELECT tombstones, (SELECT count(*) FROM expunged_messages WHERE folder_id = $1)
		FROM folders WHERE id = $1`, b.inbox.ID).Scan(&count, &rows); err != nil || count != rows {
		t.Errorf("folder counts %d tombstones, table has %d (%v)", count, rows, err)
	}
}

// TestModSeqConcurrent: sessions changing one folder at once each take a
// HIGHESTMODSEQ step of their own, in commit order: no two changes share a
// modseq, and every step is accounted for.
func TestModSeqConcurrent(t *testing.T) {
	b := newIMAPBox(t)
	ctx := context.Background()
	f, trash := b.inbox.ID, b.folder(t, "Trash").ID
	b.appendN(t, f, 10)
	start := b.hms(t, f)
	const rounds = 30
	results := make([][]int64, 4) // per goroutine: the modseq of each change it made
	var g errgroup.Group
	for w := range 3 { // STORE sessions toggling a flag on every message
		g.Go(func() error {
			for i := range rounds {
				uids, err := b.s.IMAPUIDs(ctx, f)
				if err != nil {
					return err
				}
				op := store.FlagsAdd
				if i%2 == 1 {
					op = store.FlagsDel
				}
				ch, err := b.s.IMAPStoreFlags(ctx, f, uids, op, nil, []string{fmt.Sprintf("k%d", w)}, keep)
				if err != nil {
					return err
				}
				if len(ch) > 0 {
					results[w] = append(results[w], ch[0].ModSeq)
				}
			}
			return nil
		})
	}
	var appends, expunges int
	g.Go(func() error { // APPEND, and MOVE out
		for range rounds {
			if _, _, err := b.s.IMAPAppend(ctx, b.mbox, f, []store.NewIMAPMessage{b.msg()}); err != nil {
				return err
			}
			appends++
			uids, err := b.s.IMAPUIDs(ctx, f)
			if err != nil {
				return err
			}
			if _, _, _, err := b.s.IMAPMove(ctx, b.mbox, f, trash, uids[:1], []store.NewIMAPMessage{b.msg()}); err != nil {
				return err
			}
			expunges++
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	stores := 0
	for _, r := range results {
		for _, m := range r {
			if seen[m] {
				t.Fatalf("two changes got modseq %d", m)
			}
			seen[m] = true
			stores++
		}
	}
	for _, m := range b.tombstones(t, f) {
		if seen[m] {
			t.Fatalf("a removal shares modseq %d with a STORE", m)
		}
	}
	end := b.hms(t, f)
	if end-start != int64(stores+appends+expunges) {
		t.Errorf("HIGHESTMODSEQ went %d -> %d for %d changes", start, end, stores+appends+expunges)
	}
	for _, m := range b.messages(t, f) {
		if m.ModSeq > end {
			t.Errorf("UID %d has modseq %d above HIGHESTMODSEQ %d", m.UID, m.ModSeq, end)
		}
	}
}
