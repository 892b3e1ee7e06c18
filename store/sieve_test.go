package store_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"mailhost/store"
	"mailhost/testdb"
)

// sieveFixture makes example.test with alice and bob and returns alice's
// mailbox id and the domain's id.
func sieveFixture(t *testing.T, s *store.Store) (mailboxID, domainID int64) {
	t.Helper()
	mustExec(t, s, `
		INSERT INTO domains (name) VALUES ('example.test');
		INSERT INTO mailboxes (domain_id, local_part, address, password, maildir)
		SELECT d.id, l, l || '@example.test', 'x', 'example.test/' || l || '/' FROM domains d,
			unnest(ARRAY['alice', 'bob']) l WHERE d.name = 'example.test';`)
	ctx := context.Background()
	if err := s.Pool().QueryRow(ctx, `SELECT id, domain_id FROM mailboxes WHERE address = 'alice@example.test'`).Scan(&mailboxID, &domainID); err != nil {
		t.Fatal(err)
	}
	return mailboxID, domainID
}

func TestSieveScripts(t *testing.T) {
	s := testdb.Open(t)
	ctx := context.Background()
	alice, domain := sieveFixture(t, s)
	tx := s.Read()
	a, err := tx.PutSieveScript(ctx, alice, "main", "keep;", 0)
	if err != nil || a.Version != 1 || a.Active {
		t.Fatalf("put: %+v %v", a, err)
	}
	if a, err = tx.PutSieveScript(ctx, alice, "main", "discard;", 0); err != nil || a.Version != 2 {
		t.Fatalf("replace: %+v %v", a, err)
	}
	if _, err := tx.PutSieveScript(ctx, alice, "other", "stop;", 2); err != nil {
		t.Fatal(err)
	}
	if err := tx.ActivateSieveScript(ctx, alice, "main"); err != nil {
		t.Fatal(err)
	}
	if err := tx.ActivateSieveScript(ctx, alice, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("activate missing: %v", err)
	}
	if err := tx.DeleteSieveScript(ctx, alice, "main"); !errors.Is(err, store.ErrActiveScript) {
		t.Fatalf("delete active: %v", err)
	}
	if err := tx.RenameSieveScript(ctx, alice, "other", "main"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("rename onto existing: %v", err)
	}
	if err := tx.ActivateSieveScript(ctx, alice, "other"); err != nil {
		t.Fatal(err)
	}
	list, err := tx.SieveScripts(ctx, alice)
	if err != nil || len(list) != 2 || list[0].Name != "main" || list[0].Active || !list[1].Active {
		t.Fatalf("list: %+v %v", list, err)
	}
	if err := tx.DeleteSieveScript(ctx, alice, "main"); err != nil {
		t.Fatalf("delete inactive: %v", err)
	}
	if err := tx.DeleteSieveScript(ctx, alice, "main"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete again: %v", err)
	}
	if err := tx.ActivateSieveScript(ctx, alice, ""); err != nil {
		t.Fatal(err)
	}
	if chain, err := s.SieveChain(ctx, alice); err != nil || len(chain) != 0 {
		t.Fatalf("chain with nothing active: %+v %v", chain, err)
	}

	// The chain: domain before, the owner's active script, domain after.
	for _, d := range []struct{ name, pos string }{{"b2", "before"}, {"b1", "before"}, {"z", "after"}, {"lib", "global"}} {
		if _, err := tx.PutDomainSieveScript(ctx, domain, d.name, d.pos, "keep;", true); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.PutDomainSieveScript(ctx, domain, "off", "before", "keep;", false); err != nil {
		t.Fatal(err)
	}
	if err := tx.ActivateSieveScript(ctx, alice, "other"); err != nil {
		t.Fatal(err)
	}
	chain, err := s.SieveChain(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range chain {
		names = append(names, r.Name)
	}
	if got := names; len(got) != 4 || got[0] != "b1" || got[1] != "b2" || got[2] != "other" || got[3] != "z" {
		t.Fatalf("chain: %v", got)
	}
	// The resolution reads the same chain, so a delivery needs no query
	// of its own.
	res, err := s.Resolve(ctx, "alice@example.test", "")
	if err != nil || len(res.Local) != 1 || !res.Local[0].Sieve || !slices.Equal(res.Local[0].SieveChain, chain) {
		t.Fatalf("resolve: %+v %v, want the chain %+v", res.Local, err, chain)
	}
	ref, err := s.SieveInclude(ctx, alice, true, "lib")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := s.SieveContent(ctx, ref); err != nil || c != "keep;" {
		t.Fatalf("content: %q %v", c, err)
	}
	ref.Version++
	if _, err := s.SieveContent(ctx, ref); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("content of a changed version: %v", err)
	}
	if _, err := s.SieveInclude(ctx, alice, false, "lib"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("personal include of a domain script: %v", err)
	}
}

// Concurrent deliveries never take more redirects than the daily limit.
func TestSieveRedirectAllowanceParallel(t *testing.T) {
	s := testdb.Open(t)
	alice, _ := sieveFixture(t, s)
	var mu sync.Mutex
	total := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				n, err := s.SieveRedirectAllowance(context.Background(), alice, 2, 15)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				total += n
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if total != 15 {
		t.Fatalf("took %d redirects, want the limit 15", total)
	}
}

func TestSieveVacationOncePerPeriod(t *testing.T) {
	s := testdb.Open(t)
	ctx := context.Background()
	alice, _ := sieveFixture(t, s)
	reply := store.QueuedMessage{Origin: "vacation", Body: []byte("Subject: x\r\n\r\nx\r\n"),
		Recipients: []store.QueuedRecipient{{Address: "bob@remote.example", Domain: "remote.example"}}}
	for i, want := range []bool{true, false} {
		sent, err := s.SieveVacationReply(ctx, alice, "h1", "bob@remote.example", time.Hour, reply)
		if err != nil || sent != want {
			t.Fatalf("reply %d: %v %v, want %v", i, sent, err, want)
		}
	}
	if sent, err := s.SieveVacationReply(ctx, alice, "h2", "bob@remote.example", time.Hour, reply); err != nil || !sent {
		t.Fatalf("another handle: %v %v", sent, err)
	}
	if err := s.RecordSieveError(ctx, alice, "boom"); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordSieveError(ctx, alice, "boom again"); err != nil {
		t.Fatal(err)
	}
	e, err := s.Read().LastSieveError(ctx, alice)
	if err != nil || e.Message != "boom again" || e.Failures != 2 {
		t.Fatalf("last error: %+v %v", e, err)
	}
}
