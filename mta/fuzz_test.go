package mta_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"mailhost/maildir"
	"mailhost/mda"
	"mailhost/mta"
	"mailhost/store"
)

// fakeStore is an in-memory mta.Store: one hosted domain example.test with
// the mailbox alice, a relay domain backup.test, everything else foreign.
type fakeStore struct {
	mu      sync.Mutex
	queued  []store.QueuedMessage
	indexed []store.IndexEntry
}

func (f *fakeStore) Resolve(ctx context.Context, addr, delims string) (store.Resolution, error) {
	local, domain, _ := strings.Cut(addr, "@")
	if i := strings.IndexAny(local, delims); i > 0 {
		local = local[:i]
	}
	switch domain {
	case "example.test":
		if local != "alice" {
			return store.Resolution{}, store.ErrNotFound
		}
		return store.Resolution{Address: addr, Local: []store.LocalTarget{{MailboxID: 1, Address: "alice@example.test",
			Domain: "example.test", Maildir: "example.test/alice/", Folder: "INBOX", FolderID: 1}}}, nil
	case "backup.test":
		return store.Resolution{Address: addr, Remote: []store.RemoteTarget{{Address: addr, Domain: domain, Relay: true}}}, nil
	}
	return store.Resolution{Address: addr, Foreign: true,
		Remote: []store.RemoteTarget{{Address: addr, Domain: domain, Relay: true}}}, nil
}

func (f *fakeStore) InboundPolicies(context.Context, []string) (map[string]store.HostedPolicy, error) {
	return map[string]store.HostedPolicy{}, nil
}

func (f *fakeStore) AccessRuleKinds(context.Context) (map[string]bool, error) {
	return map[string]bool{}, nil
}

func (f *fakeStore) SessionRules(context.Context, netip.Addr, string, string) (store.SessionRules, error) {
	return store.SessionRules{}, nil
}

func (f *fakeStore) RecipientRule(context.Context, string) (store.AccessRule, error) {
	return store.AccessRule{}, store.ErrNotFound
}

func (f *fakeStore) ActiveVacation(context.Context, int64) (store.Vacation, error) {
	return store.Vacation{}, store.ErrNotFound
}

func (f *fakeStore) QueueVacationReply(context.Context, int64, string, time.Duration, store.QueuedMessage) (bool, error) {
	return false, nil
}

func (f *fakeStore) Enqueue(_ context.Context, msgs ...store.QueuedMessage) ([]int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queued = append(f.queued, msgs...)
	return make([]int64, len(msgs)), nil
}

func (f *fakeStore) CommitDelivery(_ context.Context, d store.Delivery) (store.DeliveryResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.indexed = append(f.indexed, d.Entries...)
	f.queued = append(f.queued, d.Queue...)
	res := store.DeliveryResult{Entries: make([]store.IndexResult, len(d.Entries)), QueueIDs: make([]int64, len(d.Queue))}
	for i := range res.Entries {
		res.Entries[i] = store.IndexResult{UID: int64(len(f.indexed)), FolderID: 1}
	}
	return res, nil
}

// fuzzServer is a server on a fake store, for fuzzing: one per fuzz run.
func fuzzServer(tb testing.TB, fs *fakeStore) (string, func()) {
	cfg := defaultConfig()
	cfg.MaxLineLength = 1000
	cfg.MaxMessageBytes = 4096
	cfg.Timeout = 2 * time.Second
	cfg.MaxConnsPerClient = 0
	names, _ := maildir.NewGenerator("fuzz.test")
	agent := &mda.Agent{Root: tb.TempDir(), Names: names, Index: fs}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := mta.NewWithListener(ln, cfg, fs, agent, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx); close(done) }()
	return ln.Addr().String(), func() { cancel(); <-done }
}

// converse writes script from a client outside mynetworks and returns
// everything the server said until it closed or went quiet.
func converse(tb testing.TB, addr string, script []byte) string {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 2 * time.Second}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	go func() {
		conn.Write(script)
		conn.(*net.TCPConn).CloseWrite()
	}()
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	var out bytes.Buffer
	io.Copy(&out, conn)
	return out.String()
}

// FuzzSession feeds arbitrary client input (commands, addresses, data) to
// the server. Whatever comes, the server never panics, every reply line is
// well formed, no foreign recipient from this outside client is ever
// queued, and nothing is indexed unless the server said 250 after DATA.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n",
		"HELO x\r\nMAIL FROM:<>\r\nRCPT TO:<alice+tag@example.test>\r\nRCPT TO:<victim@remote.example>\r\nDATA\r\n\r\n.\r\n",
		"EHLO x\r\nMAIL FROM:<a@b> SIZE=99999999\r\n",
		"EHLO x\r\nMAIL FROM:<a@b> BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<josé@example.test>\r\n",
		"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<@example.test:victim@remote.example>\r\nRCPT TO:<\"v@r\"@example.test>\r\n",
		"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<alice@example.test>\r\nBDAT 5 LAST\r\nhello",
		"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nbare\nlf\r\n.\r\n",
		"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nnul\x00\r\n.\r\n",
		"EHLO x\r\nRSET\r\nNOOP\r\nVRFY alice\r\nEXPN all\r\nHELP\r\nSTARTTLS\r\nAUTH PLAIN AGFsaWNlAHB3\r\nQUIT\r\n",
		"\x00\xff\r\n\r\nMAIL\r\nRCPT TO:<a@b>\r\nDATA\r\n",
		"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nSubject: cut off",
	} {
		f.Add([]byte(s))
	}
	fs := &fakeStore{}
	addr, stop := fuzzServer(f, fs)
	defer stop()
	f.Fuzz(func(t *testing.T, script []byte) {
		fs.mu.Lock()
		before := len(fs.indexed)
		fs.queued = nil
		fs.mu.Unlock()
		out := converse(t, addr, script)
		for _, line := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n") {
			if line == "" {
				continue
			}
			if len(line) < 4 || line[0] < '2' || line[0] > '5' || (line[3] != ' ' && line[3] != '-') {
				t.Fatalf("malformed reply line %q in\n%s", line, out)
			}
		}
		fs.mu.Lock()
		defer fs.mu.Unlock()
		for _, q := range fs.queued {
			for _, r := range q.Recipients {
				if r.Domain != "backup.test" {
					t.Fatalf("open relay: queued %q for an outside client\nscript %q\nreplies\n%s", r.Address, script, out)
				}
			}
		}
		if len(fs.indexed) > before && !strings.Contains(out, "250 2.0.0 Ok: queued as ") {
			t.Fatalf("indexed without a 250 after DATA\nscript %q\nreplies\n%s", script, out)
		}
	})
}

// FuzzRcptAddress fuzzes the recipient address alone: from an outside
// client, an address is refused, or resolves to the hosted mailbox or the
// relay domain, never to anything else (no relay trick gets through).
func FuzzRcptAddress(f *testing.F) {
	for _, s := range []string{"alice@example.test", "alice+x@example.test", "victim@remote.example",
		"victim@remote.example@example.test", "victim%remote.example@example.test", "\"v@r\"@example.test",
		"@example.test:victim@remote.example", "victim@[192.0.2.1]", "ALICE@EXAMPLE.TEST", "a@backup.test",
		"victim@example.test.remote.example", "alice@example.test.", "alice@xn--exmple-cua.test"} {
		f.Add(s)
	}
	fs := &fakeStore{}
	addr, stop := fuzzServer(f, fs)
	defer stop()
	f.Fuzz(func(t *testing.T, rcpt string) {
		if strings.ContainsAny(rcpt, "\r\n") {
			return
		}
		fs.mu.Lock()
		fs.queued = nil
		fs.mu.Unlock()
		out := converse(t, addr, []byte("EHLO x\r\nMAIL FROM:<a@b.example> SMTPUTF8\r\nRCPT TO:<"+rcpt+
			">\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n"))
		fs.mu.Lock()
		defer fs.mu.Unlock()
		for _, q := range fs.queued {
			for _, r := range q.Recipients {
				if r.Domain != "backup.test" {
					t.Fatalf("open relay: RCPT TO:<%s> queued %q\n%s", rcpt, r.Address, out)
				}
			}
		}
	})
}
