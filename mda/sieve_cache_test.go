package mda_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"mailhost/mda"
	"mailhost/store"
)

// countingStore counts the queries the Sieve stage makes.
type countingStore struct {
	*store.Store
	chains, contents atomic.Int64
}

func (c *countingStore) SieveChain(ctx context.Context, mailboxID int64) ([]store.SieveRef, error) {
	c.chains.Add(1)
	return c.Store.SieveChain(ctx, mailboxID)
}

func (c *countingStore) SieveContent(ctx context.Context, ref store.SieveRef) (string, error) {
	c.contents.Add(1)
	return c.Store.SieveContent(ctx, ref)
}

// A script is read and compiled once per change, and a delivery asks the
// database nothing about scripts beyond the resolution. A message runs the
// scripts as its resolution (RCPT) found them; when that version is gone
// from the database and from the cache (another node, a restart), the
// message runs the new version, without an error for the owner.
func TestSieveCompiledOncePerChange(t *testing.T) {
	e := newSieveEnv(t)
	cs := &countingStore{Store: e.st}
	e.agent.Filter.Store = cs
	ctx := context.Background()
	resolve := func() store.LocalTarget {
		t.Helper()
		res, err := e.st.Resolve(ctx, "alice@example.test", "")
		if err != nil || len(res.Local) != 1 {
			t.Fatalf("resolve: %+v %v", res, err)
		}
		return res.Local[0]
	}
	deliver := func(target store.LocalTarget) {
		t.Helper()
		r := mda.Recipient{Target: target, From: "bob@far.example", To: "alice@example.test"}
		if _, err := e.agent.Deliver(ctx, mda.Message{Header: []byte("Received: by test\r\n"), Body: []byte(listMail)},
			[]mda.Recipient{r}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	counts := func(what string, chains, contents int64) {
		t.Helper()
		if n, c := cs.chains.Load(), cs.contents.Load(); n != chains || c != contents {
			t.Fatalf("%s: %d chain queries, %d content reads; want %d and %d", what, n, c, chains, contents)
		}
	}
	e.script("main", `require ["fileinto", "mailbox"]; if header :contains "list-id" "news" { fileinto :create "A"; }`)
	old := resolve()
	deliver(old)
	deliver(resolve())
	counts("two deliveries", 0, 1)
	e.script("main", `require ["fileinto", "mailbox"]; if header :contains "list-id" "news" { fileinto :create "B"; }`)
	deliver(resolve())
	deliver(resolve())
	counts("after the change", 0, 2)
	deliver(old) // resolved before the change: the version it found
	counts("a message resolved before", 0, 2)
	// Another node, which never compiled the old version, reads the chain again.
	e.agent.Filter = &mda.Filter{Store: cs, Hostname: "mx.test"}
	deliver(old)
	counts("on a node without the old version", 1, 4)
	want := []string{"A new", "A new", "B new", "B new", "A new", "B new"}
	if got := e.rows(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("rows: %q, want %q", got, want)
	}
	if se, err := e.st.Read().LastSieveError(ctx, e.alice.MailboxID); err == nil {
		t.Fatalf("an error was recorded: %+v", se)
	}
	if n := e.agent.Filter.Compiled(); n != 1 {
		t.Fatalf("%d compiled scripts kept on the new node, want 1", n)
	}
}

// The vacation setting's generated script is compiled once per change of
// the setting too.
func TestSieveVacationSettingCompiledOnce(t *testing.T) {
	e := newSieveEnv(t)
	ctx := context.Background()
	if _, err := e.st.Pool().Exec(ctx, `INSERT INTO vacations (mailbox_id, subject, body) VALUES ($1, 'Out', 'Back Monday')`, e.alice.MailboxID); err != nil {
		t.Fatal(err)
	}
	e.alice.Vacation, e.alice.Sieve = true, false
	for range 3 {
		e.deliver("bob@far.example", "From: bob@far.example\r\nTo: alice@example.test\r\nSubject: hi\r\n\r\nx\r\n")
	}
	if n := e.agent.Filter.Compiled(); n != 1 {
		t.Fatalf("%d compiled scripts kept after three deliveries, want 1", n)
	}
	if _, err := e.st.Pool().Exec(ctx, `UPDATE vacations SET body = 'Back Tuesday' WHERE mailbox_id = $1`, e.alice.MailboxID); err != nil {
		t.Fatal(err)
	}
	e.deliver("carol@far.example", "From: carol@far.example\r\nTo: alice@example.test\r\nSubject: hi\r\n\r\nx\r\n")
	if n := e.agent.Filter.Compiled(); n != 2 {
		t.Fatalf("%d compiled scripts kept after a change, want 2", n)
	}
}

// A mailbox with a vacation reply and no script runs the generated
// vacation script without a query for its chain: the resolution found
// none.
func TestSieveVacationOnlyNoChainQuery(t *testing.T) {
	e := newSieveEnv(t)
	cs := &countingStore{Store: e.st}
	e.agent.Filter.Store = cs
	ctx := context.Background()
	if _, err := e.st.Pool().Exec(ctx, `INSERT INTO vacations (mailbox_id, subject, body) VALUES ($1, 'Out', 'Back Monday')`, e.alice.MailboxID); err != nil {
		t.Fatal(err)
	}
	res, err := e.st.Resolve(ctx, "alice@example.test", "")
	if err != nil || len(res.Local) != 1 || !res.Local[0].Vacation || res.Local[0].Sieve {
		t.Fatalf("resolve: %+v %v", res, err)
	}
	r := mda.Recipient{Target: res.Local[0], From: "bob@far.example", To: "alice@example.test"}
	if _, err := e.agent.Deliver(ctx, mda.Message{Header: []byte("Received: by test\r\n"), Body: []byte(listMail)},
		[]mda.Recipient{r}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if n := cs.chains.Load(); n != 0 {
		t.Errorf("%d chain queries for a mailbox the resolution found without scripts, want 0", n)
	}
	if n := e.agent.Filter.Compiled(); n != 1 {
		t.Errorf("%d compiled scripts, want the vacation script", n)
	}
}
