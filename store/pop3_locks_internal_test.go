package store

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestMailboxLocksNeverWaitUnderAMutex: while the lock connection is busy
// with a slow round trip (here: a connection attempt that hangs), another
// login for the same mailbox is answered at once, and a login for another
// mailbox whose context ends stops waiting at once.
func TestMailboxLocksNeverWaitUnderAMutex(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	l := &MailboxLocks{
		connect: func(context.Context) (*pgx.Conn, error) {
			close(entered)
			<-release
			return nil, errors.New("database unreachable")
		},
		use:  make(chan struct{}, 1),
		held: map[int64]lockState{},
	}
	first := make(chan error, 1)
	go func() { _, err := l.TryLock(context.Background(), 1); first <- err }()
	<-entered // the first login holds the connection, stuck

	if ok, err := l.TryLock(context.Background(), 1); ok || err != nil {
		t.Errorf("same mailbox while its lock is being taken: %v, %v; want false at once", ok, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.TryLock(ctx, 2); !errors.Is(err, context.Canceled) {
		t.Errorf("another mailbox, context ended: %v; want context.Canceled at once", err)
	}
	close(release)
	if err := <-first; err == nil {
		t.Error("the stuck login reported no error")
	}
	if len(l.held) != 0 {
		t.Errorf("held %v after failures", l.held)
	}
}
