package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"mailhost/store"
	"mailhost/testdb"
)

func mustExec(t *testing.T, s *store.Store, sql string, args ...any) {
	t.Helper()
	if _, err := s.Pool().Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestResolve(t *testing.T) {
	s := testdb.Open(t)
	mustExec(t, s, `
		INSERT INTO domains (name) VALUES ('example.test'), ('off.test');
		UPDATE domains SET active = false WHERE name = 'off.test';
		INSERT INTO domains (name, kind, relay_to) VALUES ('backup.test', 'relay', 'mx.inside.test:2525');
		INSERT INTO alias_domains (alias_domain, target_domain_id) SELECT 'example.net', id FROM domains WHERE name = 'example.test';
		INSERT INTO mailboxes (domain_id, local_part, address, password, maildir)
		SELECT d.id, l, l || '@example.test', 'x', 'example.test/' || l || '/' FROM domains d,
			unnest(ARRAY['alice', 'bob', 'carol', 'dave', 'postmaster', 'frozen']) l WHERE d.name = 'example.test';
		UPDATE mailboxes SET active = false WHERE address = 'frozen@example.test';
		INSERT INTO folders (mailbox_id, name) SELECT id, 'INBOX' FROM mailboxes WHERE address = 'alice@example.test';
		INSERT INTO folders (mailbox_id, name) SELECT id, 'News' FROM mailboxes WHERE address = 'alice@example.test';
		INSERT INTO aliases (domain_id, address, destinations) SELECT id, a, d FROM domains,
			(VALUES ('team@example.test', ARRAY['alice@example.test', 'bob@example.test', 'x@remote.example']),
			        ('all@example.test', ARRAY['team@example.test', 'ALICE@example.test', 'ring1@example.test']),
			        ('ring1@example.test', ARRAY['ring2@example.test']),
			        ('ring2@example.test', ARRAY['ring1@example.test', 'carol@example.test']),
			        ('dead@example.test', ARRAY['nobody@example.test', 'frozen@example.test']),
			        ('alice+special@example.test', ARRAY['dave@example.test']),
			        ('@example.test', ARRAY['postmaster@example.test'])) v(a, d)
		WHERE name = 'example.test';
		INSERT INTO forwardings (mailbox_id, destinations, keep_copy)
		SELECT id, ARRAY['bob@far.example'], false FROM mailboxes WHERE address = 'bob@example.test';
		INSERT INTO forwardings (mailbox_id, destinations, keep_copy)
		SELECT id, ARRAY['carol@example.test', 'carol@far.example'], false FROM mailboxes WHERE address = 'carol@example.test';
		INSERT INTO relocated (address, new_address) VALUES ('old@example.test', 'new@else.example');
		INSERT INTO domains (name) VALUES ('moved.test');
		INSERT INTO relocated (address, new_address) VALUES ('@moved.test', 'contact@else.example');`)

	type want struct {
		local   []string // mailbox[:folder]
		remote  []string
		foreign bool
		err     error
	}
	for _, tc := range []struct {
		addr string
		want want
	}{
		{"alice@example.test", want{local: []string{"alice@example.test:INBOX"}}},
		{"alice@example.net", want{local: []string{"alice@example.test:INBOX"}}},
		{"alice+news@example.test", want{local: []string{"alice@example.test:News"}}},
		{"alice+other@example.test", want{local: []string{"alice@example.test:INBOX"}}},
		{"alice+special@example.test", want{local: []string{"dave@example.test:INBOX"}}},
		{"team@example.test", want{local: []string{"alice@example.test:INBOX"}, remote: []string{"bob@far.example", "x@remote.example"}}},
		{"all@example.test", want{local: []string{"alice@example.test:INBOX", "carol@example.test:INBOX"},
			remote: []string{"bob@far.example", "carol@far.example", "x@remote.example"}}},
		{"carol@example.test", want{local: []string{"carol@example.test:INBOX"}, remote: []string{"carol@far.example"}}},
		{"zed@example.test", want{local: []string{"postmaster@example.test:INBOX"}}},
		{"zed+x@example.net", want{local: []string{"postmaster@example.test:INBOX"}}},
		{"frozen@example.test", want{err: store.ErrDisabled}},
		{"x@off.test", want{err: store.ErrDisabled}},
		{"dead@example.test", want{local: []string{"postmaster@example.test:INBOX"}}}, // nobody@ hits the catch-all
		{"nobody@example.net", want{local: []string{"postmaster@example.test:INBOX"}}},
		{"x@unknown-but-hosted.test", want{remote: []string{"x@unknown-but-hosted.test"}, foreign: true}},
		{"someone@backup.test", want{remote: []string{"someone@backup.test"}}},
		{"someone@remote.example", want{remote: []string{"someone@remote.example"}, foreign: true}},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			res, err := s.Resolve(context.Background(), tc.addr, "+")
			if tc.want.err != nil {
				if !errors.Is(err, tc.want.err) {
					t.Fatalf("err %v, want %v", err, tc.want.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var local, remote []string
			for _, l := range res.Local {
				local = append(local, l.Address+":"+l.Folder)
			}
			for _, r := range res.Remote {
				remote = append(remote, r.Address)
			}
			slices.Sort(local)
			slices.Sort(remote)
			if !slices.Equal(local, tc.want.local) || !slices.Equal(remote, tc.want.remote) || res.Foreign != tc.want.foreign {
				t.Errorf("got local %v remote %v foreign %v, want %+v", local, remote, res.Foreign, tc.want)
			}
		})
	}
	res, _ := s.Resolve(context.Background(), "someone@backup.test", "+")
	if res.Remote[0].NextHop != "mx.inside.test:2525" || !res.Remote[0].Relay {
		t.Errorf("relay domain target %+v", res.Remote[0])
	}
	var moved *store.RelocatedError
	if _, err := s.Resolve(context.Background(), "any+x@moved.test", "+"); !errors.As(err, &moved) || moved.NewAddress != "contact@else.example" {
		t.Errorf("relocated domain: %v", err)
	}
	if _, err := s.Resolve(context.Background(), "old@example.test", "+"); !errors.As(err, &moved) || moved.NewAddress != "new@else.example" {
		t.Errorf("relocated: %v", err)
	}
}

// TestCommitDeliveryQuotaRace: concurrent deliveries into a small quota
// never overfill it, and UIDs stay unique and dense.
func TestCommitDeliveryQuotaRace(t *testing.T) {
	s := testdb.Open(t)
	mustExec(t, s, `INSERT INTO domains (name) VALUES ('example.test');
		INSERT INTO mailboxes (domain_id, local_part, address, password, maildir, quota_bytes)
		SELECT id, 'q', 'q@example.test', 'x', 'example.test/q/', 1000 FROM domains`)
	var id int64
	if err := s.Pool().QueryRow(context.Background(), `SELECT id FROM mailboxes`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := s.CommitDelivery(context.Background(), store.Delivery{Entries: []store.IndexEntry{{
				MailboxID: id, Folder: "INBOX", Key: fmt.Sprintf("k%d,S=100", i), Size: 100, InternalDate: time.Now()}}})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if res.Entries[0].OverQuota {
				refused++
			} else {
				ok++
			}
		}()
	}
	wg.Wait()
	var used, msgs, rows, maxUID int64
	if err := s.Pool().QueryRow(context.Background(), `SELECT used_bytes, used_messages,
		(SELECT count(*) FROM messages), (SELECT max(uid) FROM messages) FROM mailboxes`).Scan(&used, &msgs, &rows, &maxUID); err != nil {
		t.Fatal(err)
	}
	if ok != 10 || refused != 20 || used != 1000 || msgs != 10 || rows != 10 || maxUID != 10 {
		t.Errorf("ok %d refused %d used %d msgs %d rows %d max uid %d", ok, refused, used, msgs, rows, maxUID)
	}
	// The same key again (a poll adopted it): no second row, no charge.
	var key string
	if err := s.Pool().QueryRow(context.Background(), `SELECT key FROM messages LIMIT 1`).Scan(&key); err != nil {
		t.Fatal(err)
	}
	res, err := s.CommitDelivery(context.Background(), store.Delivery{Entries: []store.IndexEntry{{
		MailboxID: id, Folder: "INBOX", FolderID: 1, Key: key, Size: 0, InternalDate: time.Now()}}})
	if err != nil || res.Entries[0].UID != 0 {
		t.Errorf("duplicate key: %+v %v", res, err)
	}
}
