package maildir

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Folder is one Maildir directory, INBOX or a Maildir++ folder, holding
// cur/ new/ tmp/. A Folder is a plain value; build one with Mailbox.Folder or
// directly from a path the index stores.
type Folder struct {
	Path  string     // the directory holding cur/ new/ tmp/
	Owner Owner      // applied to delivered files when running as root
	Names *Generator // required by Deliver and as the destination of Link
}

// Message is a message file found in a folder.
type Message struct {
	Info               // parsed from the file name
	Sub      string    // "new" or "cur"
	Path     string    // full path of the file
	FileSize int64     // from stat
	ModTime  time.Time // from stat; the IMAP internal date
}

func newMessage(info Info, sub, path string, fi fs.FileInfo) Message {
	return Message{Info: info, Sub: sub, Path: path, FileSize: fi.Size(), ModTime: fi.ModTime()}
}

// DeliverOptions change how Deliver stores a message. The zero value
// delivers into new/ like an MDA.
type DeliverOptions struct {
	// Cur stores the message in cur/ with Flags (IMAP APPEND) instead of new/.
	Cur   bool
	Flags Flags
	// ModTime, if set, becomes the file's mtime, which carries the IMAP
	// internal date (RFC 3501 2.3.3).
	ModTime time.Time
	// Key, if set, is the key to publish under, as planned by CopyKey
	// (Link's copy fallback); a clash is then an error, not a retry.
	Key string
}

// Delivered describes a stored message.
type Delivered struct {
	Key   string // the stable key: "<base>,S=<size>,W=<vsize>"
	Name  string // file name: Key in new/, Key+":2,<flags>" in cur/
	Path  string // full path
	Size  int64  // bytes on disk
	VSize int64  // size with every bare LF counted as CRLF (RFC 822 size)
}

// copyBufs are Deliver's copy buffers: a delivery (an IMAP APPEND, a
// message of the MTA) borrows one instead of making 32 KiB of garbage.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// Deliver stores the message read from r in the folder, durably, in the order
// the delivery contract requires: the file is written in tmp/ (0600,
// O_EXCL), fsynced, then published into new/ (or cur/) under its final name
// "<base>,S=<size>,W=<vsize>", then that directory is fsynced. Only when
// Deliver returns nil is the message safe to acknowledge.
//
// Publishing uses link(2) then unlink(2), as qmail does, so an existing file
// is never overwritten; on a file system without hard links it falls back to
// rename(2). On any error the tmp file is removed and nothing stays in new/.
// The message is streamed; it is never held in memory.
func (f Folder) Deliver(r io.Reader, opts DeliverOptions) (d Delivered, err error) {
	if f.Names == nil {
		return Delivered{}, errors.New("maildir: deliver: folder has no name Generator")
	}
	var flags Flags
	sub := "new"
	if opts.Cur {
		sub = "cur"
		if flags, err = ParseFlags(string(opts.Flags)); err != nil {
			return Delivered{}, err
		}
	} else if opts.Flags != "" {
		return Delivered{}, errors.New("maildir: deliver: flags need DeliverOptions.Cur (new/ files have none)")
	}

	base := f.Names.Next()
	tmpPath := filepath.Join(f.Path, "tmp", base)
	file, err := os.OpenFile(tmpPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, FileMode)
	if err != nil {
		return Delivered{}, fmt.Errorf("maildir: deliver: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmpPath) // may already be gone after a link
		}
	}()
	cw := &countingWriter{w: file}
	if err = f.Owner.chownFile(file); err == nil {
		bp := copyBufs.Get().(*[]byte)
		_, err = io.CopyBuffer(cw, r, *bp)
		copyBufs.Put(bp)
	}
	if err == nil && !opts.ModTime.IsZero() {
		err = os.Chtimes(tmpPath, time.Time{}, opts.ModTime)
	}
	if err == nil {
		err = file.Sync()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Delivered{}, fmt.Errorf("maildir: deliver: writing %s: %w", tmpPath, err)
	}

	d = Delivered{Size: cw.n, VSize: cw.n + cw.bareLF}
	for attempt := 0; ; attempt++ {
		d.Key = base + ",S=" + strconv.FormatInt(d.Size, 10) + ",W=" + strconv.FormatInt(d.VSize, 10)
		if opts.Key != "" {
			d.Key = opts.Key
		}
		d.Name = d.Key
		if opts.Cur {
			d.Name = FormatName(d.Key, flags)
		}
		d.Path = filepath.Join(f.Path, sub, d.Name)
		err = publish(tmpPath, d.Path)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || attempt == 4 || opts.Key != "" {
			return Delivered{}, fmt.Errorf("maildir: deliver: %w", err)
		}
		base = f.Names.Next() // name clash: try another
	}
	if err = syncDir(filepath.Join(f.Path, sub)); err != nil {
		os.Remove(d.Path)
		return Delivered{}, err
	}
	return d, nil
}

// publish makes the finished tmp file visible as dst without ever replacing
// an existing file.
func publish(tmpPath, dst string) error {
	err := os.Link(tmpPath, dst)
	if err == nil {
		os.Remove(tmpPath) // a leftover would only be an orphan in tmp/
		return nil
	}
	if errors.Is(err, fs.ErrExist) {
		return err
	}
	// No hard links here (or some other link failure): rename instead.
	if _, serr := os.Lstat(dst); serr == nil {
		return &fs.PathError{Op: "publish", Path: dst, Err: fs.ErrExist}
	}
	return os.Rename(tmpPath, dst)
}

// countingWriter counts bytes and the LFs not preceded by CR.
type countingWriter struct {
	w         io.Writer
	n, bareLF int64
	lastCR    bool
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	p = p[:n]
	for i := 0; i < len(p); {
		j := bytes.IndexByte(p[i:], '\n')
		if j < 0 {
			break
		}
		at := i + j
		if at > 0 && p[at-1] != '\r' || at == 0 && !c.lastCR {
			c.bareLF++
		}
		i = at + 1
	}
	if n > 0 {
		c.lastCR = p[n-1] == '\r'
	}
	c.n += int64(n)
	return n, err
}

// CopyKey plans the key of a copy of message srcName (of size bytes) in
// dst: a fresh base name with the source's ",S=" and ",W=" sizes. A caller
// that must record the key before the file exists (the index journal of
// MOVE and COPY) plans it here and passes it to Link.
func CopyKey(dst Folder, srcName string, size int64) (string, error) {
	if dst.Names == nil {
		return "", errors.New("maildir: copy key: destination folder has no name Generator")
	}
	info, err := ParseName(srcName)
	if err != nil {
		return "", err
	}
	if info.Size >= 0 {
		size = info.Size
	}
	key := dst.Names.Next() + ",S=" + strconv.FormatInt(size, 10)
	if info.VSize >= 0 {
		key += ",W=" + strconv.FormatInt(info.VSize, 10)
	}
	return key, nil
}

// Link stores a copy of message name of src in dst's cur/ with flags, for
// IMAP COPY and MOVE: a hard link when possible, so the bytes are not
// duplicated, otherwise a streamed copy through Deliver (the internal date,
// the file's mtime, is kept either way). The copy's key is key when given
// (planned by CopyKey), else a fresh one; the ",S=" and ",W=" sizes are
// carried over. It fsyncs dst's cur/ before returning.
func Link(src Folder, name string, dst Folder, key string, flags Flags) (Delivered, error) {
	if dst.Names == nil {
		return Delivered{}, errors.New("maildir: link: destination folder has no name Generator")
	}
	flags, err := ParseFlags(string(flags))
	if err != nil {
		return Delivered{}, err
	}
	curDir := filepath.Join(dst.Path, "cur")
	if fi, err := os.Stat(curDir); err != nil || !fi.IsDir() {
		return Delivered{}, fmt.Errorf("maildir: link: destination %s is not a Maildir", dst.Path)
	}
	var d Delivered
	var fallback bool
	err = src.withFile(name, func(path string) error {
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		info, err := ParseName(filepath.Base(path))
		if err != nil {
			return err
		}
		d = Delivered{Size: info.Size, VSize: info.VSize}
		if d.Size < 0 {
			d.Size = fi.Size()
		}
		for attempt := 0; attempt < 5; attempt++ {
			d.Key = key
			if key == "" {
				d.Key = dst.Names.Next() + ",S=" + strconv.FormatInt(d.Size, 10)
				if d.VSize >= 0 {
					d.Key += ",W=" + strconv.FormatInt(d.VSize, 10)
				}
			}
			d.Name = FormatName(d.Key, flags)
			d.Path = filepath.Join(curDir, d.Name)
			err := os.Link(path, d.Path)
			switch {
			case err == nil:
				return nil
			case errors.Is(err, fs.ErrExist) && key == "":
				continue // name clash: try another
			case errors.Is(err, fs.ErrExist):
				return err // a planned key is taken
			case errors.Is(err, fs.ErrNotExist):
				return err // the source was renamed: look it up again
			default: // EXDEV, EPERM, EMLINK, ...: copy the bytes instead
				fallback = true
				d, err = copyInto(path, dst, flags, fi.ModTime(), key)
				return err
			}
		}
		return fmt.Errorf("link %s: %w", d.Path, fs.ErrExist)
	})
	if err != nil {
		return Delivered{}, fmt.Errorf("maildir: link %q: %w", name, err)
	}
	if !fallback { // Deliver has synced already
		if err := syncDir(curDir); err != nil {
			os.Remove(d.Path)
			return Delivered{}, err
		}
	}
	return d, nil
}

func copyInto(path string, dst Folder, flags Flags, mtime time.Time, key string) (Delivered, error) {
	in, err := os.Open(path)
	if err != nil {
		return Delivered{}, err
	}
	defer in.Close()
	return dst.Deliver(in, DeliverOptions{Cur: true, Flags: flags, ModTime: mtime, Key: key})
}

// withFile runs op on the path of message name, in cur/ or new/. If op fails
// with fs.ErrNotExist, another process has probably renamed the file (flags
// changed, new/ to cur/); it is looked up again by key and op retried.
func (f Folder) withFile(name string, op func(path string) error) error {
	info, err := ParseName(name)
	if err != nil {
		return err
	}
	candidates := []string{filepath.Join(f.Path, "cur", name), filepath.Join(f.Path, "new", name)}
	for attempt := 0; attempt < 3; attempt++ {
		for _, p := range candidates {
			if err := op(p); !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		m, err := f.Find(info.Key)
		if err != nil {
			return err
		}
		candidates = []string{m.Path}
	}
	return fmt.Errorf("%s keeps moving: %w", name, fs.ErrNotExist)
}

// Find returns the message whose key is key, in cur/ or new/, whatever its
// flags are now. It fails with an error matching fs.ErrNotExist if there is
// none. It reads the directories, so prefer the name the index knows and
// use Find when that name has gone stale.
func (f Folder) Find(key string) (Message, error) {
	if info, err := ParseName(key); err != nil || info.Key != key {
		return Message{}, &NameError{What: "key", Name: key, Reason: "not a message key"}
	}
	for attempt := 0; attempt < 3; attempt++ {
		m, err := f.find(key)
		if !errors.Is(err, errRaced) {
			return m, err
		}
	}
	return Message{}, fmt.Errorf("maildir: find %q in %s: keeps moving: %w", key, f.Path, fs.ErrNotExist)
}

var errRaced = errors.New("renamed while looking")

func (f Folder) find(key string) (Message, error) {
	for _, sub := range []string{"cur", "new"} {
		dir := filepath.Join(f.Path, sub)
		d, err := os.Open(dir)
		if err != nil {
			return Message{}, fmt.Errorf("maildir: find %q: %w", key, err)
		}
		for {
			names, rerr := d.Readdirnames(1024)
			for _, n := range names {
				if n != key && !strings.HasPrefix(n, key+":") {
					continue
				}
				d.Close()
				path := filepath.Join(dir, n)
				fi, err := os.Lstat(path)
				if errors.Is(err, fs.ErrNotExist) {
					return Message{}, errRaced
				}
				if err != nil {
					return Message{}, fmt.Errorf("maildir: find %q: %w", key, err)
				}
				info, err := ParseName(n)
				if err != nil {
					return Message{}, fmt.Errorf("maildir: find %q: %w", key, err)
				}
				return newMessage(info, sub, path, fi), nil
			}
			if errors.Is(rerr, io.EOF) {
				break
			}
			if rerr != nil {
				d.Close()
				return Message{}, fmt.Errorf("maildir: find %q: %w", key, rerr)
			}
		}
		d.Close()
	}
	return Message{}, fmt.Errorf("maildir: find %q in %s: %w", key, f.Path, fs.ErrNotExist)
}

// SetFlags gives message name exactly flags by renaming it to
// FormatName(key, flags) in cur/, moving it out of new/ if it is there, and
// returns the new file name. If another process renamed the file meanwhile,
// it is found again by key. The rename is not fsynced: the index holds the
// flags too, and a lost rename only loses a flag change on disk.
func (f Folder) SetFlags(name string, flags Flags) (string, error) {
	flags, err := ParseFlags(string(flags))
	if err != nil {
		return "", err
	}
	info, err := ParseName(name)
	if err != nil {
		return "", err
	}
	newName := FormatName(info.Key, flags)
	dst := filepath.Join(f.Path, "cur", newName)
	if err := f.withFile(name, func(p string) error { return os.Rename(p, dst) }); err != nil {
		return "", fmt.Errorf("maildir: set flags of %q: %w", name, err)
	}
	return newName, nil
}

// Remove deletes message name (found again by key if it was renamed). It
// fails with an error matching fs.ErrNotExist if the message is gone.
func (f Folder) Remove(name string) error {
	if err := f.withFile(name, os.Remove); err != nil {
		return fmt.Errorf("maildir: remove %q: %w", name, err)
	}
	return nil
}

// Open opens message name for reading (found again by key if it was
// renamed). The caller streams from the file and closes it.
func (f Folder) Open(name string) (*os.File, error) {
	var file *os.File
	err := f.withFile(name, func(p string) error {
		var err error
		file, err = os.Open(p)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("maildir: open %q: %w", name, err)
	}
	return file, nil
}
