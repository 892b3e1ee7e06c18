package imapd_test

import (
	"context"
	"crypto/tls"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailhost/auth"
	"mailhost/imapd"
	"mailhost/maildir"
	"mailhost/reconcile"
	"mailhost/store"
	"mailhost/testdb"
	"mailhost/tlscert"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

// env is a database, a Maildir root and IMAP servers ("nodes") on loopback.
type env struct {
	t         testing.TB
	db        *store.Store
	root      string
	tls       *tls.Config
	certFile  string
	pollEvery time.Duration
	authn     *auth.Authenticator
	nodes     []*node
}

type node struct {
	srv     *imapd.Server
	notices *store.FolderListener
	addr    string // IMAP with STARTTLS
	tlsAddr string // IMAPS
	stop    func() // ends Serve as a shutdown does and waits for it
}

var testHasher = auth.Hasher{Scheme: auth.SchemeSHA512Crypt, SHA512CryptRounds: 1000}

func newEnv(t testing.TB) *env { return newEnvPolling(t, 5*time.Second) }

// newEnvPolling makes an env whose nodes wake idle sessions every pollEvery
// even without a notice.
func newEnvPolling(t testing.TB, pollEvery time.Duration) *env {
	t.Helper()
	dir := t.TempDir()
	cert, err := tlscert.Load(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), "localhost", true,
		tlscert.Owner{UID: os.Getuid(), GID: os.Getgid()})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: testdb.Open(t), pollEvery: pollEvery, root: filepath.Join(dir, "vmail"), certFile: filepath.Join(dir, "cert.pem"),
		tls: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	if err := os.MkdirAll(e.root, 0o700); err != nil {
		t.Fatal(err)
	}
	e.authn, err = auth.NewAuthenticator(e.db, auth.Options{Hasher: testHasher,
		Throttle: auth.ThrottleConfig{MaxFailures: 1000, Block: time.Second, Delay: time.Millisecond},
		Log:      slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e.startNode(t)
	return e
}

// startNode starts one more IMAP server on the same database and root.
func (e *env) startNode(t testing.TB) *node {
	t.Helper()
	return e.startNodeWith(t, nil)
}

// startNodeWith starts a node whose options edit may change.
func (e *env) startNodeWith(t testing.TB, edit func(*imapd.Options)) *node {
	t.Helper()
	names, err := maildir.NewGenerator("node" + string(rune('a'+len(e.nodes))))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n := &node{notices: e.db.NewFolderListener(log)}
	n.notices.PollEvery = e.pollEvery
	opts := imapd.Options{
		Backend: e.db, Files: &reconcile.Reconciler{Index: e.db, Log: log}, Auth: e.authn, Notices: n.notices, MaildirRoot: e.root,
		Owner: maildir.Owner{UID: os.Getuid(), GID: os.Getgid()}, Names: names, TLS: e.tls,
		AllowPlaintextLoopback: true, AppendLimit: 1 << 20, Log: log,
	}
	if edit != nil {
		edit(&opts)
	}
	n.srv = imapd.New(opts)
	if err := n.srv.Listen("127.0.0.1:0", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	n.addr, n.tlsAddr = n.srv.Addr(false).String(), n.srv.Addr(true).String()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); n.notices.Run(ctx) }()
	go func() { defer wg.Done(); n.srv.Serve(ctx) }()
	var once sync.Once
	n.stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(n.stop)
	e.nodes = append(e.nodes, n)
	return n
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// addMailbox creates a mailbox row with the standard folders and its
// Maildir, as provisioning does, and returns its id.
func (e *env) addMailbox(t testing.TB, addr, password string, quota int64) int64 {
	t.Helper()
	ctx := context.Background()
	local, domain, _ := strings.Cut(addr, "@")
	var domainID int64
	if err := e.db.Pool().QueryRow(ctx, `INSERT INTO domains (name) VALUES ($1)
		ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id`, domain).Scan(&domainID); err != nil {
		t.Fatal(err)
	}
	hash, err := testHasher.Hash(password)
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := e.db.Pool().QueryRow(ctx, `INSERT INTO mailboxes (domain_id, local_part, address, password, quota_bytes, maildir)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, domainID, local, addr, hash, quota, domain+"/"+local+"/").Scan(&id); err != nil {
		t.Fatal(err)
	}
	for _, f := range maildir.StandardFolders() {
		var su *string
		if f.SpecialUse != "" {
			su = &f.SpecialUse
		}
		if _, err := e.db.Pool().Exec(ctx, `WITH f AS (INSERT INTO folders (mailbox_id, name, special_use) VALUES ($1, $2, $3))
			INSERT INTO subscriptions (mailbox_id, name) VALUES ($1, $2)`, id, f.Name, su); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := maildir.Create(e.root, domain, local, maildir.Owner{UID: os.Getuid(), GID: os.Getgid()}); err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *env) maildirPath(addr string) string {
	local, domain, _ := strings.Cut(addr, "@")
	return filepath.Join(e.root, domain, local)
}

// files lists the message files of a folder directory ("" is INBOX).
func (e *env) files(t testing.TB, addr, dir string) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(e.maildirPath(addr), dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range entries {
			out = append(out, sub+"/"+en.Name())
		}
	}
	return out
}

// dial logs in with the go-imap client over plain IMAP on loopback.
func (e *env) dial(t testing.TB, n *node, user, password string, h *imapclient.UnilateralDataHandler) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(n.addr, &imapclient.Options{UnilateralDataHandler: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, password).Wait(); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return c
}

func appendMsg(t testing.TB, c *imapclient.Client, folder, msg string, flags ...imap.Flag) *imap.AppendData {
	t.Helper()
	cmd := c.Append(folder, int64(len(msg)), &imap.AppendOptions{Flags: flags})
	if _, err := cmd.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := cmd.Wait()
	if err != nil {
		t.Fatalf("APPEND to %s: %v", folder, err)
	}
	return data
}

func usage(t testing.TB, e *env, id int64) (bytes, msgs int64) {
	t.Helper()
	if err := e.db.Pool().QueryRow(context.Background(), `SELECT used_bytes, used_messages FROM mailboxes WHERE id = $1`,
		id).Scan(&bytes, &msgs); err != nil {
		t.Fatal(err)
	}
	return
}

const testMsg = "From: Alice <alice@example.test>\r\n" +
	"To: Bob <bob@example.test>\r\n" +
	"Subject: Hello there\r\n" +
	"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\n" +
	"Message-ID: <1@example.test>\r\n" +
	"\r\n" +
	"Hi Bob,\r\nthe quick brown fox.\r\n"

// dialNoLogin connects with the go-imap client without logging in.
func (e *env) dialNoLogin(t testing.TB, n *node) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(n.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
