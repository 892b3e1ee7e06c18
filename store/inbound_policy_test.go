package store_test

import (
	"context"
	"testing"

	"mailhost/store"
	"mailhost/testdb"
)

func TestInboundPolicies(t *testing.T) {
	s := testdb.Open(t)
	ctx := context.Background()
	mustExec(t, s, `
		INSERT INTO domains (name) VALUES ('example.test'), ('strict.test');
		INSERT INTO domains (name, kind, relay_to) VALUES ('backup.test', 'relay', 'mx.inside.test');
		INSERT INTO alias_domains (alias_domain, target_domain_id) SELECT 'example.net', id FROM domains WHERE name = 'strict.test';
		INSERT INTO inbound_policies (domain_id, dmarc, spf_fail, reject_spoofed)
		SELECT id, 'mark', 'reject', false FROM domains WHERE name = 'strict.test';`)
	got, err := s.InboundPolicies(ctx, []string{"example.test", "example.net", "backup.test", "remote.example"})
	if err != nil {
		t.Fatal(err)
	}
	def := store.DefaultInboundPolicy()
	if p := got["example.test"]; p.Kind != "local" || p.InboundPolicy != def {
		t.Errorf("example.test: %+v, want the defaults", p)
	}
	if p := got["example.net"]; p.Kind != "local" || p.DMARC != "mark" || p.SPFFail != "reject" || p.RejectSpoofed || p.UpdatedAt == nil {
		t.Errorf("alias domain of strict.test: %+v, want its target's policy", p)
	}
	if p := got["backup.test"]; p.Kind != "relay" {
		t.Errorf("backup.test: %+v", p)
	}
	if _, ok := got["remote.example"]; ok || len(got) != 3 {
		t.Errorf("got %v, want three hosted names", got)
	}
	// Set and read back through a transaction; the row goes with its domain.
	err = s.Tx(ctx, func(tx *store.Tx) error {
		d, err := tx.DomainByName(ctx, "example.test", true)
		if err != nil {
			return err
		}
		if p, err := tx.InboundPolicy(ctx, d.ID); err != nil || p != def {
			t.Errorf("before: %+v %v", p, err)
		}
		if _, err := tx.SetInboundPolicy(ctx, d.ID, store.InboundPolicy{DMARC: "mark", SPFFail: "reject"}); err != nil {
			return err
		}
		p, err := tx.InboundPolicy(ctx, d.ID)
		if err != nil || p.DMARC != "mark" || p.SPFFail != "reject" || p.RejectSpoofed {
			t.Errorf("after: %+v %v", p, err)
		}
		if _, err := tx.SetInboundPolicy(ctx, d.ID, store.InboundPolicy{DMARC: "never", SPFFail: "mark"}); err == nil {
			t.Error("a dmarc value outside the CHECK was written")
		}
		return nil
	})
	if err == nil {
		t.Fatal("the transaction with a refused write committed")
	}
	mustExec(t, s, `DELETE FROM alias_domains; DELETE FROM domains WHERE name = 'strict.test'`)
	if n := count(t, s, `SELECT count(*) FROM inbound_policies`); n != 0 {
		t.Fatalf("%d policies left after the domain was deleted", n)
	}
}

func TestResolveJunkFolder(t *testing.T) {
	s := testdb.Open(t)
	mustExec(t, s, `
		INSERT INTO domains (name) VALUES ('example.test');
		INSERT INTO mailboxes (domain_id, local_part, address, password, maildir)
		SELECT d.id, l, l || '@example.test', 'x', 'example.test/' || l || '/' FROM domains d,
			unnest(ARRAY['alice', 'bob']) l;
		INSERT INTO folders (mailbox_id, name) SELECT id, 'INBOX' FROM mailboxes;
		INSERT INTO folders (mailbox_id, name, special_use) SELECT id, 'Spam', '\Junk' FROM mailboxes WHERE local_part = 'alice';`)
	for addr, want := range map[string]string{"alice@example.test": "Spam", "bob@example.test": "INBOX"} {
		res, err := s.Resolve(context.Background(), addr, "+")
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Local[0].InJunk(); got.Folder != want || (want == "Spam") != (got.FolderID != 0 && got.FolderID != res.Local[0].FolderID) {
			t.Errorf("%s in Junk: folder %q id %d, want %q", addr, got.Folder, got.FolderID, want)
		}
	}
}

func count(t *testing.T, s *store.Store, sql string) int {
	t.Helper()
	var n int
	if err := s.Pool().QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
