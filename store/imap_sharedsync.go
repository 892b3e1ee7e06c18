package store

import (
	"context"
	"slices"
)

// One sync for the sessions of a node.
//
// A change to a folder wakes every session of the node that has it
// selected, and each then reads the changes since its modseq
// (IMAPSyncSince). Sessions of one folder usually stand at the same
// modseq or close to it, so they read the same rows: the first reads for
// all, the others take its snapshot, when it is recent enough for them.
//
// Recent enough: the snapshot's reading began after the folder's latest
// wake-up that the session could have taken (its count, listenedFolder.gen,
// is read before the snapshot and when the session asks). A wake-up comes
// after its change committed (a notice is sent by PostgreSQL on commit,
// FolderListener.Notify is called after the commit returned), so a
// snapshot begun after it shows that change, as the session's own read
// would have. A session that asks without having taken a wake-up (a NOOP
// looking for changes of other nodes whose notices are still on their way)
// reads for itself: IMAPSyncSince.

// maxSharedLag is how many wake-ups old the previous shared snapshot may
// be for a new read to reach back to where it ended (a change brings two:
// the node's own Notify and the notice). An older one may be far behind,
// and its sessions with it: the read starts from the asking session's
// modseq instead.
const maxSharedLag = 4

// sharedSync is a sync read for the sessions of a node.
type sharedSync struct {
	gen  uint64 // the folder's wake-up count when the read began
	sync IMAPSync
}

// SyncSince is IMAPSyncSince(folder, since) for a session that took a
// wake-up of sub (from C or SetWake's function) and now looks for the
// changes: it returns the snapshot another session of the node read after
// that wake-up when it reaches back to since, or reads one (for the
// sessions asking meanwhile too: they wait for it). What it returns is
// the session's own: Changed and Vanished only after since.
func (sub *FolderSub) SyncSince(ctx context.Context, since int64) (IMAPSync, error) {
	l := sub.l
	l.mu.Lock()
	f := l.folders[sub.folderID]
	if f == nil { // closed
		l.mu.Unlock()
		return l.s.IMAPSyncSince(ctx, sub.folderID, since)
	}
	want := f.gen
	if sy, ok := f.usable(want, since); ok {
		l.mu.Unlock()
		return sy, nil
	}
	l.mu.Unlock()
	select { // one session reads at a time; the others wait for its snapshot
	case f.turn <- struct{}{}:
	case <-ctx.Done():
		return IMAPSync{}, ctx.Err()
	}
	defer func() { <-f.turn }()
	l.mu.Lock()
	if sy, ok := f.usable(want, since); ok {
		l.mu.Unlock()
		return sy, nil
	}
	gen := f.gen
	from := since
	if f.sync != nil && f.sync.sync.Folder.HighestModSeq < from && gen-f.sync.gen <= maxSharedLag {
		// Read from where the previous snapshot ended: the sessions
		// that took it stand there or later, so this one serves them all.
		from = f.sync.sync.Folder.HighestModSeq
	}
	l.mu.Unlock()
	sy, err := l.s.IMAPSyncSince(ctx, sub.folderID, from)
	if err != nil {
		return IMAPSync{}, err
	}
	l.mu.Lock()
	if f.sync == nil || f.sync.gen <= gen {
		f.sync = &sharedSync{gen: gen, sync: sy}
	}
	l.mu.Unlock()
	return sy.after(since), nil
}

// usable returns the folder's shared snapshot for a session that took
// wake-up want and stands at since, when it has one that fits.
func (f *listenedFolder) usable(want uint64, since int64) (IMAPSync, bool) {
	sh := f.sync
	if sh == nil || sh.gen < want || sh.sync.since > since || sh.sync.Folder.HighestModSeq < since {
		return IMAPSync{}, false
	}
	return sh.sync.after(since), true
}

// after returns the part of a sync read since an earlier modseq that a
// read since since would have returned. The messages are copies: the
// caller may keep or change them.
func (sy IMAPSync) after(since int64) IMAPSync {
	out := sy
	out.since = since
	out.Complete = since >= sy.floor
	out.Changed = make([]IMAPMessage, 0, len(sy.Changed))
	for _, m := range sy.Changed {
		if m.ModSeq > since {
			m.Flags, m.Keywords = slices.Clone(m.Flags), slices.Clone(m.Keywords)
			out.Changed = append(out.Changed, m)
		}
	}
	out.Vanished, out.vanishedModSeqs = nil, nil
	for i, u := range sy.Vanished {
		if sy.vanishedModSeqs[i] > since {
			out.Vanished = append(out.Vanished, u)
			out.vanishedModSeqs = append(out.vanishedModSeqs, sy.vanishedModSeqs[i])
		}
	}
	return out
}
