package pgcluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// locks coordinate the processes that share one cluster, with flock(2) so a
// process that dies drops its hold. The start lock is held exclusively
// while deciding to start or stop the server; every user holds the users
// lock shared, and the last one out is the one that can take it exclusively.
// The lock files sit beside the cluster directory, so they live as long as it.
type locks struct {
	start, users *os.File
}

func openLocks(parent, base string, owner Owner) (*locks, error) {
	open := func(name string) (*os.File, error) {
		f, err := os.OpenFile(filepath.Join(parent, "."+base+"."+name+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return nil, fmt.Errorf("pgcluster: lock: %w", err)
		}
		if os.Geteuid() == 0 { // the owner may use the cluster without root later
			if err := f.Chown(int(owner.UID), int(owner.GID)); err != nil {
				f.Close()
				return nil, fmt.Errorf("pgcluster: lock: %w", err)
			}
		}
		return f, nil
	}
	s, err := open("start")
	if err != nil {
		return nil, err
	}
	u, err := open("users")
	if err != nil {
		s.Close()
		return nil, err
	}
	return &locks{start: s, users: u}, nil
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

func (l *locks) lockStart() error {
	if err := flock(l.start, syscall.LOCK_EX); err != nil {
		return fmt.Errorf("pgcluster: take start lock: %w", err)
	}
	return nil
}

func (l *locks) unlockStart() { _ = flock(l.start, syscall.LOCK_UN) }

func (l *locks) share() error {
	if err := flock(l.users, syscall.LOCK_SH); err != nil {
		return fmt.Errorf("pgcluster: take users lock: %w", err)
	}
	return nil
}

// lastUser drops this process's shared hold and reports whether no other
// process holds one. Called with the start lock held, so nobody joins
// in between.
func (l *locks) lastUser() bool {
	_ = flock(l.users, syscall.LOCK_UN)
	if err := flock(l.users, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return false
	}
	_ = flock(l.users, syscall.LOCK_UN)
	return true
}

func (l *locks) close() {
	l.start.Close()
	l.users.Close()
}
