package managesieve_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailhost/auth"
	"mailhost/managesieve"
	"mailhost/store"
	"mailhost/testdb"
	"mailhost/tlscert"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

var cheapHasher = auth.Hasher{Scheme: auth.SchemeArgon2ID, Argon2Time: 1, Argon2MemoryKiB: 64, Argon2Threads: 1}

// env is a database and a ManageSieve server on loopback.
type env struct {
	st       *store.Store
	addr     string
	certFile string
}

type options struct {
	noLoopbackPlaintext bool
	maxScripts          int
}

func newEnv(t *testing.T, o options) *env {
	t.Helper()
	e := &env{st: testdb.Open(t)}
	dir := t.TempDir()
	e.certFile = filepath.Join(dir, "cert.pem")
	cert, err := tlscert.Load(e.certFile, filepath.Join(dir, "key.pem"), "localhost", true, tlscert.Owner{UID: -1, GID: -1})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	a, err := auth.NewAuthenticator(e.st, auth.Options{Hasher: cheapHasher,
		Throttle: auth.ThrottleConfig{MaxFailures: 1000, Block: time.Minute}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := managesieve.New(managesieve.Config{
		Hostname: "sieve.example.test", TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		AllowPlaintextLoopback: !o.noLoopbackPlaintext, MaxScriptSize: 4096, MaxScripts: o.maxScripts, MaxRedirects: 4, Log: log,
	}, a, e.st)
	addr, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = addr.String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return e
}

// addMailbox creates a mailbox with password pw and returns its id.
func (e *env) addMailbox(t *testing.T, addr, pw string) int64 {
	t.Helper()
	local, domain, _ := strings.Cut(addr, "@")
	hash, err := cheapHasher.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := e.st.Pool().Exec(ctx, `INSERT INTO domains (name) VALUES ($1) ON CONFLICT DO NOTHING`, domain); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := e.st.Pool().QueryRow(ctx, `INSERT INTO mailboxes (domain_id, local_part, address, password, maildir)
		SELECT id, $2, $3, $4, $1 || '/' || $2 || '/' FROM domains WHERE name = $1 RETURNING id`,
		domain, local, addr, hash).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// client is a raw ManageSieve client: it sends lines and reads responses.
type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func (e *env) dial(t *testing.T) (*client, string) {
	t.Helper()
	conn, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &client{t: t, conn: conn, r: bufio.NewReader(conn)}
	return c, c.response()
}

// send writes raw protocol text and returns the response up to and
// including its OK, NO or BYE line.
func (c *client) send(raw string) string {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, raw); err != nil {
		c.t.Fatal(err)
	}
	return c.response()
}

func (c *client) response() string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read: %v (so far %q)", err, b.String())
		}
		b.WriteString(line)
		if n, ok := literalLength(line); ok { // a literal: its bytes, then the rest of the line
			buf := make([]byte, n)
			if _, err := io.ReadFull(c.r, buf); err != nil {
				c.t.Fatal(err)
			}
			b.Write(buf)
			continue
		}
		for _, k := range []string{"OK", "NO", "BYE"} {
			if line == k+"\r\n" || strings.HasPrefix(line, k+" ") {
				return b.String()
			}
		}
	}
}

func literalLength(line string) (int, bool) {
	line = strings.TrimSuffix(line, "\r\n")
	if !strings.HasSuffix(line, "}") {
		return 0, false
	}
	i := strings.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	var n int
	_, err := fmt.Sscanf(line[i:], "{%d}", &n)
	return n, err == nil
}

// starttls upgrades the connection and returns the capabilities sent after.
func (c *client) starttls(certFile string) string {
	c.t.Helper()
	if r := c.send("STARTTLS\r\n"); !strings.HasPrefix(r, "OK") {
		c.t.Fatalf("STARTTLS: %q", r)
	}
	tc := tls.Client(c.conn, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // a test's self-signed certificate
	if err := tc.Handshake(); err != nil {
		c.t.Fatal(err)
	}
	c.conn, c.r = tc, bufio.NewReader(tc)
	return c.response()
}

func plain(user, pw string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pw))
}

func literal(s string) string { return fmt.Sprintf("{%d+}\r\n%s", len(s), s) }
