package pop3d_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mailhost/auth"
	"mailhost/maildir"
	"mailhost/pop3d"
	"mailhost/reconcile"
	"mailhost/store"
	"mailhost/testdb"
	"mailhost/tlscert"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

// cheapHasher keeps password hashing out of the tests' time.
var cheapHasher = auth.Hasher{Scheme: auth.SchemeArgon2ID, Argon2Time: 1, Argon2MemoryKiB: 64, Argon2Threads: 1}

// env is a database, a Maildir root and a POP3 server on loopback with a
// plain (STLS) and an implicit TLS listener.
type env struct {
	st       *store.Store
	root     string
	srv      *pop3d.Server
	locks    *store.MailboxLocks
	reg      *prometheus.Registry
	plain    string // host:port
	tlsAddr  string
	certFile string
	log      *syncBuffer
	names    *maildir.Generator
	stop     func()
}

type envOptions struct {
	noLoopbackPlaintext bool
	idle                time.Duration
	maxConnsPerClient   int
	throttle            auth.ThrottleConfig
	st                  *store.Store // share a database with another env (another node)
	root                string
}

// syncBuffer collects log output from concurrent sessions.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	e := &env{st: o.st, root: o.root, reg: prometheus.NewRegistry(), log: &syncBuffer{}}
	if e.st == nil {
		e.st = testdb.Open(t)
	}
	if e.root == "" {
		e.root = t.TempDir()
	}
	dir := t.TempDir()
	e.certFile = filepath.Join(dir, "cert.pem")
	cert, err := tlscert.Load(e.certFile, filepath.Join(dir, "key.pem"), "localhost", true, tlscert.Owner{UID: -1, GID: -1})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.MultiWriter(e.log, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.throttle.MaxFailures == 0 {
		o.throttle = auth.ThrottleConfig{MaxFailures: 1000, Block: time.Minute}
	}
	a, err := auth.NewAuthenticator(e.st, auth.Options{Hasher: cheapHasher, Throttle: o.throttle, Log: log, Registry: e.reg})
	if err != nil {
		t.Fatal(err)
	}
	e.locks = e.st.NewMailboxLocks()
	e.srv, err = pop3d.New(pop3d.Config{
		Hostname: "pop.example.test", MaildirRoot: e.root,
		TLS:                    &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		AllowPlaintextLoopback: !o.noLoopbackPlaintext,
		IdleTimeout:            o.idle,
		MaxConnsPerClient:      o.maxConnsPerClient,
		Log:                    log, Registry: e.reg,
	}, a, e.st, &reconcile.Reconciler{Index: e.st, Log: log}, e.locks)
	if err != nil {
		t.Fatal(err)
	}
	pa, err := e.srv.Listen("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	ta, err := e.srv.Listen("127.0.0.1:0", true)
	if err != nil {
		t.Fatal(err)
	}
	e.plain, e.tlsAddr = pa.String(), ta.String()
	e.names, err = maildir.NewGenerator("test.host")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx) }()
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
			e.locks.Close()
		})
	}
	t.Cleanup(e.stop)
	return e
}

// testWriter sends the server's log to the test's log, shown on failure.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

func (e *env) exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := e.st.Pool().Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (e *env) int64(t testing.TB, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := e.st.Pool().QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// addMailbox creates a domain (if new), a mailbox with password pw, its
// INBOX row and its Maildir, and returns the mailbox id.
func (e *env) addMailbox(t testing.TB, addr, pw string) int64 {
	t.Helper()
	local, domain, _ := strings.Cut(addr, "@")
	hash, err := cheapHasher.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	e.exec(t, `INSERT INTO domains (name) VALUES ($1) ON CONFLICT DO NOTHING`, domain)
	id := e.int64(t, `INSERT INTO mailboxes (domain_id, local_part, address, password, maildir)
		SELECT id, $2, $3, $4, $1 || '/' || $2 || '/' FROM domains WHERE name = $1 RETURNING id`,
		domain, local, addr, hash)
	e.exec(t, `INSERT INTO folders (mailbox_id, name) VALUES ($1, 'INBOX')`, id)
	if _, err := maildir.Create(e.root, domain, local, maildir.Owner{UID: -1, GID: -1}); err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *env) inbox(t testing.TB, addr string) maildir.Folder {
	local, domain, _ := strings.Cut(addr, "@")
	return maildir.Folder{Path: filepath.Join(e.root, domain, local), Names: e.names}
}

// deliver stores msg in addr's INBOX as the delivery agent does: the file,
// then the index row and the quota charge in one transaction. It returns
// the UID.
func (e *env) deliver(t testing.TB, addr, msg string) int64 {
	t.Helper()
	d, err := e.inbox(t, addr).Deliver(strings.NewReader(msg), maildir.DeliverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return e.index(t, addr, d.Key, d.Size)
}

// index adds the index row of a file already in new/ named key.
func (e *env) index(t testing.TB, addr, key string, size int64) int64 {
	t.Helper()
	ctx := context.Background()
	tx, err := e.st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var uid int64
	err = tx.QueryRow(ctx, `
		WITH f AS (
			UPDATE folders f SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1
			FROM mailboxes m WHERE m.address = $1 AND f.mailbox_id = m.id AND f.name = 'INBOX'
			RETURNING f.id, f.uidnext - 1 AS uid, f.highestmodseq)
		INSERT INTO messages (folder_id, uid, modseq, key, subdir, filename, size, internal_date)
		SELECT id, uid, highestmodseq, $2, 'new', $2, $3, now() FROM f RETURNING uid`,
		addr, key, size).Scan(&uid)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE mailboxes SET used_bytes = used_bytes + $2, used_messages = used_messages + 1
		WHERE address = $1`, addr, size); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return uid
}

// usage is what a mailbox holds: files in new/ and cur/, index rows, and
// the usage counters.
type usage struct {
	files, rows, bytes, messages int64
}

func (e *env) usage(t testing.TB, addr string) usage {
	t.Helper()
	var u usage
	dir := e.inbox(t, addr).Path
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		u.files += int64(len(ents))
	}
	u.rows = e.int64(t, `SELECT count(*) FROM messages m JOIN folders f ON f.id = m.folder_id
		JOIN mailboxes b ON b.id = f.mailbox_id WHERE b.address = $1`, addr)
	u.bytes = e.int64(t, `SELECT used_bytes FROM mailboxes WHERE address = $1`, addr)
	u.messages = e.int64(t, `SELECT used_messages FROM mailboxes WHERE address = $1`, addr)
	return u
}

// client is a raw POP3 client for exact replies and bad input.
type client struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cl := &client{t: t, conn: c, r: bufio.NewReader(c)}
	if g := cl.line(); !strings.HasPrefix(g, "+OK ") {
		t.Fatalf("greeting %q", g)
	}
	return cl
}

// line reads one reply line without CRLF.
func (c *client) line() string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read reply: %v (got %q)", err, l)
	}
	if !strings.HasSuffix(l, "\r\n") {
		c.t.Fatalf("reply %q does not end in CRLF", l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// multi reads the lines of a multi-line body up to the "." line, raw
// (still byte-stuffed).
func (c *client) multi() []string {
	c.t.Helper()
	var out []string
	for {
		l := c.line()
		if l == "." {
			return out
		}
		out = append(out, l)
	}
}

func (c *client) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, line+"\r\n"); err != nil {
		c.t.Fatal(err)
	}
}

// cmd sends a command and returns the first reply line.
func (c *client) cmd(line string) string {
	c.t.Helper()
	c.send(line)
	return c.line()
}

// expect sends a command and checks the reply's beginning.
func (c *client) expect(line, prefix string) string {
	c.t.Helper()
	got := c.cmd(line)
	if !strings.HasPrefix(got, prefix) {
		c.t.Fatalf("%s: got %q; want %q...", line, got, prefix)
	}
	return got
}

func (c *client) login(user, pw string) {
	c.t.Helper()
	c.expect("USER "+user, "+OK")
	c.expect("PASS "+pw, "+OK")
}

// closed reports whether the server closed the connection.
func (c *client) closed() bool {
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.r.ReadByte()
	return errors.Is(err, io.EOF)
}

func message(subject string, body ...string) string {
	return fmt.Sprintf("From: a@remote.test\nTo: alice@example.com\nSubject: %s\n\n%s", subject, strings.Join(body, ""))
}
