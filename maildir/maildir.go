// Package maildir reads and writes the Maildir++ trees that hold the hosted
// mailboxes, in Dovecot's default layout so that existing trees and tools work:
//
//	<root>/<domain>/<local_part>/{cur,new,tmp}          INBOX
//	<root>/<domain>/<local_part>/.Sent/{cur,new,tmp}    folder "Sent"
//	<root>/<domain>/<local_part>/.Lists.Go/...          folder "Lists/Go"
//
// Message files are named "<unix time>.M<usec>P<pid>Q<n>.<host>,S=<size>" in
// new/, with ":2,<flags>" appended in cur/. The part before ":2," is the
// message's key, its stable identity in the index.
//
// The package knows nothing about the database. It writes durably (tmp/,
// fsync, publish into new/, fsync the directory), never reads a whole message
// into memory, and tolerates other processes renaming files under it.
// Directories are created 0700 and files 0600; when the process runs as root
// everything it creates is chowned to the mailbox Owner.
package maildir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Modes of everything this package creates.
const (
	DirMode  fs.FileMode = 0o700
	FileMode fs.FileMode = 0o600
)

// Owner is the user and group that own a mailbox's files (vmail). It is
// applied only when the process runs as root; otherwise files are already
// owned by the running user.
type Owner struct {
	UID, GID int
}

// chown gives path to o when running as root. It does not follow symlinks.
func (o Owner) chown(path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	if err := os.Lchown(path, o.UID, o.GID); err != nil {
		return fmt.Errorf("maildir: chown %s: %w", path, err)
	}
	return nil
}

// chownFile is chown for a file this package just opened.
func (o Owner) chownFile(f *os.File) error {
	if os.Geteuid() != 0 {
		return nil
	}
	if err := f.Chown(o.UID, o.GID); err != nil {
		return fmt.Errorf("maildir: chown %s: %w", f.Name(), err)
	}
	return nil
}

// ErrInvalidName is matched (errors.Is) by every *NameError.
var ErrInvalidName = errors.New("maildir: invalid name")

// NameError reports a domain, local part, folder name or file name that is
// malformed or would escape the Maildir root. Such names come from clients or
// from the database; the error text is safe to log but says why, not where.
type NameError struct {
	What   string // "domain", "local part", "folder name", "file name", ...
	Name   string // the offending name
	Reason string
}

func (e *NameError) Error() string {
	return "maildir: invalid " + e.What + " " + strconv.Quote(e.Name) + ": " + e.Reason
}

// Is makes errors.Is(err, ErrInvalidName) true.
func (e *NameError) Is(target error) bool { return target == ErrInvalidName }

// mkdirAll creates dir and any missing parents with DirMode, chowning each
// directory it creates (and only those) to o. An existing directory, or a
// symlink to one, is left alone.
func mkdirAll(dir string, o Owner) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("maildir: %s exists and is not a directory", dir)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("maildir: %w", err)
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirAll(parent, o); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, DirMode); err != nil {
		if errors.Is(err, fs.ErrExist) { // created concurrently
			return nil
		}
		return fmt.Errorf("maildir: %w", err)
	}
	// The umask may have taken bits away; the contract is exactly 0700.
	if err := os.Chmod(dir, DirMode); err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	return o.chown(dir)
}

// createEmptyFile creates an empty FileMode file unless it exists.
func createEmptyFile(path string, o Owner) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, FileMode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	if err := o.chownFile(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	return nil
}

// syncDir fsyncs a directory so that entries created or renamed in it are
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("maildir: sync %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("maildir: sync %s: %w", dir, err)
	}
	return nil
}

// MoveTo moves a whole mailbox directory src to dst with rename(2), for
// example into a retention area when a mailbox is deleted. Missing parents of
// dst are created (DirMode, chowned to owner when running as root). dst must
// not exist and must be on the same file system as src; nothing is copied.
func MoveTo(src, dst string, owner Owner) error {
	if src == "" || dst == "" {
		return errors.New("maildir: move: empty path")
	}
	src, dst = filepath.Clean(src), filepath.Clean(dst)
	fi, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("maildir: move: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("maildir: move: %s is not a directory", src)
	}
	if dst == src || strings.HasPrefix(dst, src+string(filepath.Separator)) {
		return fmt.Errorf("maildir: move %s to %s: destination is inside the source", src, dst)
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("maildir: move %s to %s: %w", src, dst, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("maildir: move: %w", err)
	}
	if err := mkdirAll(filepath.Dir(dst), owner); err != nil {
		return err
	}
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("maildir: move (rename only, same file system required): %w", err)
	}
	return syncDir(filepath.Dir(dst))
}
