package pop3d

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mailhost/auth"
	"mailhost/maildir"
	"mailhost/store"
)

// In-memory fakes, so the connection loop can be fuzzed without a database.

type fakeAuth struct{}

func (fakeAuth) Login(_ context.Context, r auth.LoginRequest) (auth.Account, error) {
	if r.Username == "alice@example.com" && r.Password == "pw" {
		return auth.Account{MailboxID: 1, Address: "alice@example.com", Maildir: "example.com/alice/"}, nil
	}
	return auth.Account{}, auth.ErrInvalidCredentials
}

type fakeStore struct {
	mu       sync.Mutex
	inbox    store.POP3Maildrop
	expunged [][]int64
}

func (s *fakeStore) POP3Inbox(context.Context, int64) (store.POP3Maildrop, error) {
	return s.inbox, nil
}

// fakeFiles adopts nothing and removes files as the reconciler does.
type fakeFiles struct{}

func (fakeFiles) Adopt(context.Context, int64, int64, maildir.Folder) (int, error) { return 0, nil }

func (fakeFiles) Remove(_ context.Context, _ int64, dir maildir.Folder, names []string) error {
	for _, n := range names {
		dir.Remove(n)
	}
	return nil
}

func (s *fakeStore) POP3Expunge(_ context.Context, _, _ int64, ids []int64) (store.POP3Expunged, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expunged = append(s.expunged, ids)
	return store.POP3Expunged{}, nil // the files stay, for the next input
}

type fakeLocks struct {
	mu   sync.Mutex
	held map[int64]bool
}

func (l *fakeLocks) TryLock(_ context.Context, id int64) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[id] {
		return false, nil
	}
	l.held[id] = true
	return true, nil
}

func (l *fakeLocks) Unlock(_ context.Context, id int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.held, id)
	return nil
}

// fuzzServer is a server over a Maildir with two messages.
func fuzzServer(f *testing.F) (*Server, *fakeStore, *fakeLocks) {
	root := f.TempDir()
	dir := filepath.Join(root, "example.com", "alice")
	var msgs []store.POP3Message
	for i, body := range []string{"Subject: one\n\nline\n.dot\n", "Subject: two\r\n\r\nx"} {
		for _, sub := range []string{"cur", "new", "tmp"} {
			os.MkdirAll(filepath.Join(dir, sub), 0o700)
		}
		key := []string{"1700000000.M1P1Q1.host,S=25", "1700000000.M1P1Q2.host"}[i]
		os.WriteFile(filepath.Join(dir, "new", key), []byte(body), 0o600)
		msgs = append(msgs, store.POP3Message{ID: int64(i + 10), UID: int64(i + 1), Key: key, Filename: key, Size: int64(len(body))})
	}
	st := &fakeStore{inbox: store.POP3Maildrop{FolderID: 7, UIDValidity: 1700000000, Messages: msgs}}
	locks := &fakeLocks{held: map[int64]bool{}}
	srv, err := New(Config{MaildirRoot: root, IdleTimeout: 2 * time.Second, AllowPlaintextLoopback: true,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, fakeAuth{}, st, fakeFiles{}, locks)
	if err != nil {
		f.Fatal(err)
	}
	return srv, st, locks
}

// FuzzSession feeds arbitrary client input to a session: it never panics
// or hangs, every reply line ends in CRLF, nothing is deleted without QUIT,
// and the mailbox lock is always released.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"USER alice@example.com\r\nPASS pw\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 1\r\nTOP 2 0\r\nDELE 1\r\nRSET\r\nDELE 2\r\nQUIT\r\n",
		"CAPA\r\nAUTH\r\nAUTH PLAIN\r\nAGFsaWNlQGV4YW1wbGUuY29tAHB3\r\nLIST 1\r\nDELE 1\r\nNOOP\r\n",
		"AUTH PLAIN AGFsaWNlQGV4YW1wbGUuY29tAHB3\r\nRETR 3\r\nRETR 0\r\nTOP 1 x\r\nQUIT\r\n",
		"STLS\r\nAPOP x y\r\nuser alice@example.com\nPASS wrong\nPASS pw\n",
		strings.Repeat("X", 400) + "\r\nQUIT\r\n",
		"AUTH PLAIN\r\n*\r\nQUIT",
	} {
		f.Add([]byte(s))
	}
	srv, st, locks := fuzzServer(f)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	defer ln.Close()
	f.Fuzz(func(t *testing.T, input []byte) {
		st.mu.Lock()
		st.expunged = nil
		st.mu.Unlock()
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		server, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.serveConn(context.Background(), server, false)
		}()
		go func() {
			client.Write(input)
			client.(*net.TCPConn).CloseWrite() // the server reads everything, then EOF
		}()
		var out bytes.Buffer
		client.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(&out, client); err != nil {
			t.Fatalf("session did not end: %v; input %q", err, input)
		}
		<-done

		text := out.String()
		if !strings.HasPrefix(text, "+OK ") {
			t.Fatalf("no greeting: %q", text)
		}
		for _, l := range strings.SplitAfter(text, "\n") {
			if l != "" && !strings.HasSuffix(l, "\r\n") && !strings.HasSuffix(text, l) {
				t.Fatalf("reply line %q does not end in CRLF", l)
			}
		}
		st.mu.Lock()
		expunged := len(st.expunged)
		st.mu.Unlock()
		if expunged > 0 && !bytes.Contains(bytes.ToUpper(input), []byte("QUIT")) {
			t.Fatalf("deleted without QUIT: input %q", input)
		}
		locks.mu.Lock()
		held := len(locks.held)
		locks.mu.Unlock()
		if held != 0 {
			t.Fatalf("mailbox lock still held after the session; input %q", input)
		}
	})
}
