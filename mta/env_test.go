package mta_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailhost/maildir"
	"mailhost/mda"
	"mailhost/mta"
	"mailhost/store"
	"mailhost/testdb"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

// env is a throwaway database, Maildir root and SMTP server on loopback.
type env struct {
	t    *testing.T
	st   *store.Store
	root string
	srv  *mta.Server
	addr string
	cfg  mta.Config
	stop func() // ends Serve as SIGTERM does and waits for it
	logs *syncBuffer
}

// syncBuffer collects the server's JSON log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// all is every log line so far.
func (s *syncBuffer) all() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lines returns the log records whose msg is msg.
func (s *syncBuffer) lines(msg string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(s.b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func defaultConfig() mta.Config {
	return mta.Config{
		Hostname:           "mx.test",
		Mynetworks:         []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")},
		MaxMessageBytes:    10240000,
		RecipientDelimiter: "+",
		MaxRecipients:      1000,
		Timeout:            30 * time.Second,
		MaxErrors:          20,
		MaxConnsPerClient:  50,
		MaxLineLength:      16384,
		MaxReceived:        50,
		DNSBLAction:        "reject",
	}
}

func newEnv(t *testing.T, tune ...func(*mta.Config)) *env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return newEnvOn(t, ln, tune...)
}

// newEnvOn is newEnv with the server on ln.
func newEnvOn(t *testing.T, ln net.Listener, tune ...func(*mta.Config)) *env {
	t.Helper()
	cfg := defaultConfig()
	for _, f := range tune {
		f(&cfg)
	}
	st := testdb.Open(t)
	root := t.TempDir()
	names, err := maildir.NewGenerator("mx.test")
	if err != nil {
		t.Fatal(err)
	}
	agent := &mda.Agent{Root: root, Names: names, Index: &mda.GroupIndex{Store: st}}
	logs := &syncBuffer{}
	var w io.Writer = logs
	if testing.Verbose() {
		w = io.MultiWriter(logs, os.Stderr)
	}
	log := slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := mta.NewWithListener(ln, cfg, st, agent, log, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	e := &env{t: t, st: st, root: root, srv: srv, addr: ln.Addr().String(), cfg: cfg, stop: stop, logs: logs}
	return e
}

func (e *env) exec(sql string, args ...any) {
	e.t.Helper()
	if _, err := e.st.Pool().Exec(context.Background(), sql, args...); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

func (e *env) scalar(dst any, sql string, args ...any) {
	e.t.Helper()
	if err := e.st.Pool().QueryRow(context.Background(), sql, args...).Scan(dst); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

func (e *env) domain(name string) {
	e.exec(`INSERT INTO domains (name) VALUES ($1)`, name)
}

func (e *env) relayDomain(name, to string) {
	e.exec(`INSERT INTO domains (name, kind, relay_to) VALUES ($1, 'relay', $2)`, name, to)
}

func (e *env) mailbox(addr string, quota int64) int64 {
	e.t.Helper()
	local, domain, _ := strings.Cut(addr, "@")
	var id int64
	e.scalar(&id, `INSERT INTO mailboxes (domain_id, local_part, address, password, quota_bytes, maildir)
		SELECT id, $1, $2, '{PLAIN}x', $3, $4 FROM domains WHERE name = $5 RETURNING id`,
		local, addr, quota, domain+"/"+local+"/", domain)
	return id
}

func (e *env) alias(addr string, dests ...string) {
	_, domain, _ := strings.Cut(addr, "@")
	e.exec(`INSERT INTO aliases (domain_id, address, destinations) SELECT id, $1, $2 FROM domains WHERE name = $3`,
		addr, dests, domain)
}

// folder creates a folder row and its Maildir++ directory.
func (e *env) folder(addr, name string) {
	e.t.Helper()
	local, domain, _ := strings.Cut(addr, "@")
	path, err := maildir.Create(e.root, domain, local, maildir.Owner{})
	if err != nil {
		e.t.Fatal(err)
	}
	mb := maildir.Mailbox{Path: path}
	if _, err := mb.Folder(name); err != nil {
		if err := mb.CreateFolder(name); err != nil {
			e.t.Fatal(err)
		}
	}
	e.exec(`INSERT INTO folders (mailbox_id, name) SELECT id, $2 FROM mailboxes WHERE address = $1
		ON CONFLICT DO NOTHING`, addr, name)
}

// files lists the message files in a folder's new/ of a mailbox.
func (e *env) files(addr, folder string) []string {
	e.t.Helper()
	local, domain, _ := strings.Cut(addr, "@")
	dir := filepath.Join(e.root, domain, local)
	if folder != "INBOX" {
		d, err := maildir.DirName(folder, '/')
		if err != nil {
			e.t.Fatal(err)
		}
		dir = filepath.Join(dir, d)
	}
	ents, err := os.ReadDir(filepath.Join(dir, "new"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, en := range ents {
		out = append(out, filepath.Join(dir, "new", en.Name()))
	}
	return out
}

func (e *env) read(path string) string {
	e.t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

// indexed counts the message rows of a mailbox's folder.
func (e *env) indexed(addr, folder string) int {
	var n int
	e.scalar(&n, `SELECT count(*) FROM messages m JOIN folders f ON f.id = m.folder_id
		JOIN mailboxes b ON b.id = f.mailbox_id WHERE b.address = $1 AND f.name = $2`, addr, folder)
	return n
}

func (e *env) usage(addr string) (bytes, msgs int64) {
	e.t.Helper()
	if err := e.st.Pool().QueryRow(context.Background(),
		`SELECT used_bytes, used_messages FROM mailboxes WHERE address = $1`, addr).Scan(&bytes, &msgs); err != nil {
		e.t.Fatal(err)
	}
	return
}

type queued struct {
	origin, sender, recipient, nextHop string
	body                               string
}

func (e *env) queue() []queued {
	e.t.Helper()
	rows, err := e.st.Pool().Query(context.Background(), `SELECT q.origin, q.sender, r.recipient, r.next_hop, convert_from(q.body, 'UTF8')
		FROM queue q JOIN queue_recipients r ON r.queue_id = q.id ORDER BY q.id, r.id`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []queued
	for rows.Next() {
		var q queued
		if err := rows.Scan(&q.origin, &q.sender, &q.recipient, &q.nextHop, &q.body); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, q)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// dial connects a go-smtp client, from localAddr when given.
func (e *env) dial(localAddr string) *smtp.Client {
	e.t.Helper()
	return e.dialHelo(localAddr, "client.example")
}

// dialHelo is dial with the given HELO name.
func (e *env) dialHelo(localAddr, helo string) *smtp.Client {
	e.t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if localAddr != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(localAddr)}
	}
	conn, err := d.Dial("tcp", e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	c := smtp.NewClient(conn)
	e.t.Cleanup(func() { c.Close() })
	if err := c.Hello(helo); err != nil {
		e.t.Fatal(err)
	}
	return c
}

const testMsg = "From: Bob <bob@remote.example>\r\nTo: alice@example.test\r\nSubject: hello\r\nMessage-ID: <m1@remote.example>\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\n\r\nHi Alice.\r\n"

// send runs one transaction and returns the error of the first refused
// step (nil when the message got 250).
func send(c *smtp.Client, from string, to []string, msg string) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, msg); err != nil {
		return err
	}
	return w.Close()
}

func code(err error) (int, smtp.EnhancedCode, string) {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code, se.EnhancedCode, se.Message
	}
	if err == nil {
		return 250, smtp.EnhancedCode{2, 0, 0}, ""
	}
	return -1, smtp.EnhancedCode{}, err.Error()
}

func wantCode(t *testing.T, err error, c int, ec smtp.EnhancedCode) {
	t.Helper()
	gc, gec, msg := code(err)
	if gc != c || gec != ec {
		t.Fatalf("got %d %v %q, want %d %v", gc, gec, msg, c, ec)
	}
}
