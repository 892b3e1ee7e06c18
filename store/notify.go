package store

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// FolderListener is a node's one LISTEN on FolderChannel: a dedicated
// connection whose notices are fanned out to the subscribers of each folder
// id (IMAP sessions that have the folder selected). Subscribers get a wake-up
// on a channel of capacity one, never the notice itself: a notice is only a
// hint, the subscriber reads the truth from the index. When the connection
// fails it is re-established, and every subscriber is woken, since notices
// may have been missed meanwhile.
type FolderListener struct {
	s   *Store
	log *slog.Logger

	// PollEvery wakes every subscriber this often even without a notice
	// (0: 30 seconds), so idle sessions re-check the index and adopt files
	// dropped into their folder: one ticker per node, not a timer per
	// session.
	PollEvery time.Duration

	mu      sync.Mutex
	folders map[int64]*listenedFolder // folders with subscribers
}

// listenedFolder is what the listener keeps of a folder while it has
// subscribers: them, the count of wake-ups, and the latest sync shared by
// its sessions (FolderSub.SyncSince). Gone with the last subscriber, and
// the shared sync with it, so a count starting again from 0 meets no
// older sync.
type listenedFolder struct {
	subs map[*FolderSub]struct{}
	gen  uint64        // wake-ups so far, under the listener's mu
	sync *sharedSync   // under the listener's mu
	turn chan struct{} // capacity one: held by the session reading for all
}

// FolderSub is one subscription; C receives a value when the folder may
// have changed.
type FolderSub struct {
	C        chan struct{}
	folderID int64
	l        *FolderListener
	fn       func() // SetWake's, under l.mu
}

// SetWake makes every wake-up of sub also call fn (nil: none), from the
// goroutine that wakes it, with the listener's lock held: fn must be
// quick and must not call back into the listener. A session that waits
// on its socket rather than on C (IMAP IDLE) interrupts its wait so,
// without a goroutine per session. Once SetWake(nil) returns, fn is not
// running and will not run.
func (sub *FolderSub) SetWake(fn func()) {
	sub.l.mu.Lock()
	sub.fn = fn
	sub.l.mu.Unlock()
}

func (sub *FolderSub) wake() {
	wake(sub.C)
	if sub.fn != nil {
		sub.fn()
	}
}

// NewFolderListener returns a listener; run it with Run.
func (s *Store) NewFolderListener(log *slog.Logger) *FolderListener {
	return &FolderListener{s: s, log: log, folders: map[int64]*listenedFolder{}}
}

// Subscribe wakes the returned subscription on every notice for folderID
// until Close.
func (l *FolderListener) Subscribe(folderID int64) *FolderSub {
	sub := &FolderSub{C: make(chan struct{}, 1), folderID: folderID, l: l}
	l.mu.Lock()
	f := l.folders[folderID]
	if f == nil {
		f = &listenedFolder{subs: map[*FolderSub]struct{}{}, turn: make(chan struct{}, 1)}
		l.folders[folderID] = f
	}
	f.subs[sub] = struct{}{}
	l.mu.Unlock()
	return sub
}

// Close ends the subscription.
func (sub *FolderSub) Close() {
	l := sub.l
	l.mu.Lock()
	if f := l.folders[sub.folderID]; f != nil {
		delete(f.subs, sub)
		if len(f.subs) == 0 {
			delete(l.folders, sub.folderID)
		}
	}
	l.mu.Unlock()
}

func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Notify wakes the subscribers of a folder, as a notice would. Sessions of
// this node call it after their own changes so other sessions on the node
// need not wait for the round trip through PostgreSQL.
func (l *FolderListener) Notify(folderID int64) {
	l.mu.Lock()
	if f := l.folders[folderID]; f != nil {
		f.wake()
	}
	l.mu.Unlock()
}

func (l *FolderListener) wakeAll() {
	l.mu.Lock()
	for _, f := range l.folders {
		f.wake()
	}
	l.mu.Unlock()
}

// wake counts a wake-up of the folder, then wakes its subscribers: one
// that takes a wake-up finds the count at least as high as it was then.
func (f *listenedFolder) wake() {
	f.gen++
	for sub := range f.subs {
		sub.wake()
	}
}

// Run listens until ctx ends, reconnecting with a growing delay (up to
// 10 seconds) when the connection fails.
func (l *FolderListener) Run(ctx context.Context) error {
	every := l.PollEvery
	if every <= 0 {
		every = 30 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				l.wakeAll()
			}
		}
	}()
	delay := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := l.listen(ctx)
		if ctx.Err() != nil {
			break
		}
		l.log.Warn("folder notices: connection lost, reconnecting", "err", err, "in", delay)
		l.wakeAll()
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		delay = min(delay*2, 10*time.Second)
	}
	return nil
}

// listen runs one connection until it fails.
func (l *FolderListener) listen(ctx context.Context) error {
	cfg := l.s.pool.Config().ConnConfig.Copy()
	closeOnCancel(cfg)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+FolderChannel); err != nil {
		return err
	}
	l.wakeAll() // anything missed before this LISTEN is seen now
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		notice, err := ParseFolderNotice(n.Payload)
		if err != nil {
			l.log.Debug("folder notices: ignoring", "payload", n.Payload)
			continue
		}
		l.Notify(notice.FolderID)
	}
}
