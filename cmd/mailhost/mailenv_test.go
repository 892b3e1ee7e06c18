package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailhost/maildir"
	"mailhost/store"
	"mailhost/testdb"
)

// mailEnv is a real `mailhost serve` with SMTP (MX), IMAP and POP3 on
// loopback, a database of its own and a data directory that survives
// restarts: the stress and crash tests drive it with real clients and kill
// it with SIGKILL.
type mailEnv struct {
	env              []string
	data             string
	smtp, imap, pop3 string
	st               *store.Store // reads the index behind serve's back
	srv              *running
}

// mailPassword is every test mailbox's password.
const mailPassword = "stress password"

// newMailEnv makes the environment and the mailboxes (with their Maildirs
// and standard folders, as `mailhost mailbox add` makes them). serve is not
// started yet.
func newMailEnv(t *testing.T, addrs ...string) *mailEnv {
	t.Helper()
	url := testdb.New(t)
	e := &mailEnv{data: dataDir(t), smtp: freePort(t), imap: freePort(t), pop3: freePort(t)}
	e.env = baseEnv("DATABASE_URL="+url, "MAILHOST_DATA_DIR="+e.data, "MAILHOST_HOSTNAME=mx.test",
		"MAILHOST_LISTEN_SMTP="+e.smtp, "MAILHOST_LISTEN_IMAP="+e.imap, "MAILHOST_LISTEN_POP3="+e.pop3,
		// Cheap hashes, the same for serve, so logins do not rehash.
		"MAILHOST_PASSWORD_ARGON2_TIME=1", "MAILHOST_PASSWORD_ARGON2_MEMORY_KIB=64")
	st, err := store.Open(context.Background(), url, store.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	e.st = st
	domains := map[string]bool{}
	for _, a := range addrs {
		_, domain, _ := strings.Cut(a, "@")
		if !domains[domain] {
			run1(t, e.env, "", "domain", "add", domain)
			domains[domain] = true
		}
		run1(t, e.env, mailPassword+"\n", "mailbox", "add", "--password-stdin", "--quota", "0", a)
	}
	return e
}

// start runs serve (again) on the same database and data directory.
func (e *mailEnv) start(t *testing.T) {
	t.Helper()
	e.srv = startServe(t, e.env)
}

// kill ends serve with SIGKILL, as a crash or an operator's kill -9 would.
func (e *mailEnv) kill(t *testing.T) {
	t.Helper()
	if err := e.srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-e.srv.exited
}

// stop ends serve with SIGTERM; it must exit 0.
func (e *mailEnv) stop(t *testing.T) {
	t.Helper()
	if code := e.srv.stop(t); code != 0 {
		t.Fatalf("serve exit %d after SIGTERM\n%s", code, e.srv.log)
	}
}

// check runs `mailhost check`, which must find no difference between the
// index and the Maildirs.
func (e *mailEnv) check(t *testing.T) {
	t.Helper()
	code, out, errs := mailhost(t, e.env, "", "check")
	if code != 0 || !strings.Contains(out, "no differences") {
		t.Errorf("mailhost check: exit %d\n%s%s", code, out, errs)
	}
}

// reindex runs `mailhost reindex`: it indexes message files written by hand.
func (e *mailEnv) reindex(t *testing.T) {
	t.Helper()
	run1(t, e.env, "", "reindex")
}

// box is the Maildir of a mailbox.
func (e *mailEnv) box(addr string) maildir.Mailbox {
	local, domain, _ := strings.Cut(addr, "@")
	return maildir.Mailbox{Path: filepath.Join(e.data, "vmail", domain, local)}
}

// folderDir is the directory of an IMAP folder of a mailbox.
func (e *mailEnv) folderDir(t *testing.T, addr, folder string) string {
	t.Helper()
	f, err := e.box(addr).Folder(folder)
	if err != nil {
		t.Fatal(err)
	}
	return f.Path
}

// createFolders makes folder directories by hand (serve not running); the
// next reindex gives them rows.
func (e *mailEnv) createFolders(t *testing.T, addr string, names ...string) {
	t.Helper()
	box := e.box(addr)
	box.Owner = ownerOf(t, box.Path)
	for _, n := range names {
		if err := box.CreateFolder(n); err != nil {
			t.Fatal(err)
		}
	}
}

func ownerOf(t *testing.T, path string) maildir.Owner {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return maildir.Owner{UID: int(st.Uid), GID: int(st.Gid)}
}

// writeMessages writes messages with those Message-IDs into a folder's
// cur/ by hand, with Maildir flags (e.g. "T" for \Deleted, "S" for \Seen)
// as flags(i) says, owned like the folder.
func writeMessages(t *testing.T, dir string, ids []string, flags func(i int) string) {
	t.Helper()
	o := ownerOf(t, dir)
	for i, id := range ids {
		body := fmt.Sprintf("Message-ID: <%s>\nFrom: fill@remote.example\nSubject: %s\n\n%s\n",
			id, id, strings.Repeat("filler ", 20))
		// Named after the Message-ID, unique without a Generator.
		name := fmt.Sprintf("%d.%s.fill,S=%d:2,%s", 1700000000+i, strings.ReplaceAll(id, "@", "_"), len(body), flags(i))
		path := filepath.Join(dir, "cur", name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if os.Geteuid() == 0 {
			if err := os.Chown(path, o.UID, o.GID); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// msgIDs makes n Message-IDs "<prefix>-<i>@test".
func msgIDs(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d@test", prefix, i)
	}
	return out
}

// place is where the index holds a message: a folder and a UID.
type place struct {
	Folder string
	UID    uint32
	Flags  []string
}

var messageIDRE = regexp.MustCompile(`(?im)^Message-ID:\s*<([^>]+)>`)

// index reads a mailbox's index and, for each row, the Message-ID of its
// file: Message-ID -> every place holding it. A row without its file is an
// error.
func (e *mailEnv) index(t *testing.T, addr string) map[string][]place {
	t.Helper()
	rows, err := e.st.Pool().Query(context.Background(), `
		SELECT f.name, m.uid, m.filename, m.flags FROM messages m JOIN folders f ON f.id = m.folder_id
		JOIN mailboxes b ON b.id = f.mailbox_id WHERE b.address = $1 ORDER BY f.name, m.uid`, addr)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		p    place
		name string
	}
	var all []row
	for rows.Next() {
		var r row
		var uid int64
		if err := rows.Scan(&r.p.Folder, &uid, &r.name, &r.p.Flags); err != nil {
			t.Fatal(err)
		}
		r.p.UID = uint32(uid)
		all = append(all, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	box := e.box(addr)
	out := map[string][]place{}
	for _, r := range all {
		f, err := box.Folder(r.p.Folder)
		if err != nil {
			t.Errorf("%s: index row %s %d: %v", addr, r.p.Folder, r.p.UID, err)
			continue
		}
		file, err := f.Open(r.name)
		if err != nil {
			t.Errorf("%s: index row %s %d has no file: %v", addr, r.p.Folder, r.p.UID, err)
			continue
		}
		head := make([]byte, 512)
		n, _ := file.Read(head)
		file.Close()
		m := messageIDRE.FindSubmatch(head[:n])
		if m == nil {
			t.Errorf("%s: %s %d (%s): no Message-ID", addr, r.p.Folder, r.p.UID, r.name)
			continue
		}
		out[string(m[1])] = append(out[string(m[1])], r.p)
	}
	return out
}

// uidNext returns the UIDNEXT of every folder of a mailbox.
func (e *mailEnv) uidNext(t *testing.T, addr string) map[string]uint32 {
	t.Helper()
	rows, err := e.st.Pool().Query(context.Background(), `SELECT f.name, f.uidnext FROM folders f
		JOIN mailboxes b ON b.id = f.mailbox_id WHERE b.address = $1`, addr)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint32{}
	for rows.Next() {
		var name string
		var next int64
		if err := rows.Scan(&name, &next); err != nil {
			t.Fatal(err)
		}
		out[name] = uint32(next)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// imapLogin logs in over IMAP (plain text is allowed from loopback).
func (e *mailEnv) imapLogin(t *testing.T, addr string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(e.imap, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(addr, mailPassword).Wait(); err != nil {
		t.Fatalf("IMAP login %s: %v", addr, err)
	}
	return c
}

// statusMatchesSelect asks STATUS (MESSAGES UNSEEN) of each folder first,
// then SELECTs it and counts: both must agree. It is meant as the first
// look at the folders after a restart, when a STATUS that trusts an index
// not yet reconciled would disagree with what SELECT finds on disk.
func (e *mailEnv) statusMatchesSelect(t *testing.T, addr string, folders ...string) {
	t.Helper()
	c := e.imapLogin(t, addr)
	defer c.Logout()
	for _, f := range folders {
		st, err := c.Status(f, &imap.StatusOptions{NumMessages: true, NumUnseen: true}).Wait()
		if err != nil {
			t.Fatalf("STATUS %s: %v", f, err)
		}
		sel, err := c.Select(f, nil).Wait()
		if err != nil {
			t.Fatalf("SELECT %s: %v", f, err)
		}
		unseen, err := c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, nil).Wait()
		if err != nil {
			t.Fatalf("SEARCH UNSEEN in %s: %v", f, err)
		}
		nUnseen := uint32(len(unseen.AllUIDs()))
		if *st.NumMessages != sel.NumMessages || *st.NumUnseen != nUnseen {
			t.Errorf("%s %s: STATUS says %d messages, %d unseen; SELECT shows %d, %d", addr, f,
				*st.NumMessages, *st.NumUnseen, sel.NumMessages, nUnseen)
		}
	}
}

// countFilesIn counts the message files in a folder's new/ and cur/.
func countFilesIn(dir string) int {
	n := 0
	for _, sub := range []string{"new", "cur"} {
		d, err := os.Open(filepath.Join(dir, sub))
		if err != nil {
			continue
		}
		names, _ := d.Readdirnames(-1)
		d.Close()
		for _, name := range names {
			if !strings.HasPrefix(name, ".") {
				n++
			}
		}
	}
	return n
}

// fileEvents counts what the kernel reports (inotify) about files in some
// directories: IN_CREATE for a link or a new file, IN_DELETE for an
// unlink. The crash tests pick their instants by these events.
type fileEvents struct {
	f      *os.File
	mask   uint32
	counts chan int // the latest count
}

func watchFiles(t *testing.T, mask uint32, dirs ...string) *fileEvents {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if _, err := syscall.InotifyAddWatch(fd, d, mask); err != nil {
			syscall.Close(fd)
			t.Fatal(err)
		}
	}
	// Non-blocking, so reads go through the runtime's poller and Close
	// ends them.
	w := &fileEvents{f: os.NewFile(uintptr(fd), "inotify"), mask: mask, counts: make(chan int, 1)}
	go w.run()
	t.Cleanup(func() { w.f.Close() })
	return w
}

func (w *fileEvents) run() {
	defer close(w.counts)
	buf := make([]byte, 64<<10)
	n := 0
	for {
		k, err := w.f.Read(buf)
		if err != nil {
			return
		}
		for off := 0; off+syscall.SizeofInotifyEvent <= k; {
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			off += syscall.SizeofInotifyEvent + int(binary.NativeEndian.Uint32(buf[off+12:]))
			if mask&w.mask != 0 {
				n++
			}
		}
		select { // keep only the latest count
		case <-w.counts:
		default:
		}
		w.counts <- n
	}
}

// wait returns once n events were seen, or done is closed (the operation
// answered first); it returns the count seen.
func (w *fileEvents) wait(n int, done <-chan struct{}) int {
	seen := 0
	for {
		select {
		case c, ok := <-w.counts:
			if !ok {
				return seen
			}
			if seen = c; seen >= n {
				return seen
			}
		case <-done:
			return seen
		}
	}
}

// pop3Client is a minimal POP3 client (RFC 1939) for the tests.
type pop3Client struct {
	conn net.Conn
	r    *bufio.Reader
}

// errPOP3 is a -ERR answer.
type errPOP3 struct{ line string }

func (e *errPOP3) Error() string { return "pop3: " + e.line }

func dialPOP3(addr, user, password string) (*pop3Client, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(2 * time.Minute))
	p := &pop3Client{conn: conn, r: bufio.NewReader(conn)}
	if _, err := p.cmd(""); err != nil {
		conn.Close()
		return nil, err
	}
	for _, c := range []string{"USER " + user, "PASS " + password} {
		if _, err := p.cmd(c); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return p, nil
}

// cmd sends a command ("" only reads) and returns its status line.
func (p *pop3Client) cmd(line string) (string, error) {
	if line != "" {
		if _, err := p.conn.Write([]byte(line + "\r\n")); err != nil {
			return "", err
		}
	}
	l, err := p.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	l = strings.TrimRight(l, "\r\n")
	if !strings.HasPrefix(l, "+OK") {
		return l, &errPOP3{l}
	}
	return l, nil
}

// multi reads a multi-line answer's body (dot-unstuffed).
func (p *pop3Client) multi() ([]string, error) {
	var out []string
	for {
		l, err := p.r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		l = strings.TrimRight(l, "\r\n")
		if l == "." {
			return out, nil
		}
		out = append(out, strings.TrimPrefix(l, "."))
	}
}

// uidl returns the UIDL of each message number.
func (p *pop3Client) uidl() (map[int]string, error) {
	if _, err := p.cmd("UIDL"); err != nil {
		return nil, err
	}
	lines, err := p.multi()
	if err != nil {
		return nil, err
	}
	out := map[int]string{}
	for _, l := range lines {
		var n int
		var u string
		if _, err := fmt.Sscanf(l, "%d %s", &n, &u); err != nil {
			return nil, fmt.Errorf("UIDL line %q: %w", l, err)
		}
		out[n] = u
	}
	return out, nil
}

// isIMAPCode reports whether err is an IMAP NO with that response code.
func isIMAPCode(err error, code imap.ResponseCode) bool {
	var ie *imap.Error
	return errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo && ie.Code == code
}

// sortedKeys returns m's keys in order, for stable messages.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
