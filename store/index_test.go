package store_test

import (
	"context"
	"testing"
	"time"

	"mailhost/store"
	"mailhost/testdb"
)

// TestCommitDeliveries: a group of deliveries in one transaction keeps
// each delivery's results apart (statements run in mailbox order), and a
// bounce for an over-quota copy is queued in the same transaction.
func TestCommitDeliveries(t *testing.T) {
	s := testdb.Open(t)
	mustExec(t, s, `INSERT INTO domains (name) VALUES ('example.test');
		INSERT INTO mailboxes (domain_id, local_part, address, password, maildir, quota_bytes)
		SELECT id, l, l || '@example.test', 'x', 'example.test/' || l || '/', q FROM domains,
			(VALUES ('a', 0), ('b', 0), ('full', 10)) v(l, q)`)
	ids := map[string]int64{}
	rows, _ := s.Pool().Query(context.Background(), `SELECT local_part, id FROM mailboxes`)
	for rows.Next() {
		var l string
		var id int64
		if err := rows.Scan(&l, &id); err != nil {
			t.Fatal(err)
		}
		ids[l] = id
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	entry := func(box, key string) store.IndexEntry {
		return store.IndexEntry{MailboxID: ids[box], Folder: "INBOX", Key: key, Size: 100, InternalDate: time.Now()}
	}
	var refusedSeen []int
	res, err := s.CommitDeliveries(context.Background(), []store.Delivery{
		{Entries: []store.IndexEntry{entry("b", "k1"), entry("a", "k2")}},
		{Entries: []store.IndexEntry{entry("a", "k3"), entry("full", "k4")},
			OnOverQuota: func(refused []int) []store.QueuedMessage {
				refusedSeen = refused
				return []store.QueuedMessage{{Origin: "bounce", Body: []byte("dsn"),
					Recipients: []store.QueuedRecipient{{Address: "s@remote.example", Domain: "remote.example"}}}}
			}},
		{Entries: []store.IndexEntry{entry("b", "k5")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Entries[0].UID != 1 || res[0].Entries[1].UID != 1 || res[1].Entries[0].UID != 2 ||
		!res[1].Entries[1].OverQuota || res[2].Entries[0].UID != 2 {
		t.Errorf("results %+v", res)
	}
	if len(refusedSeen) != 1 || refusedSeen[0] != 1 || len(res[1].QueueIDs) != 1 || res[1].QueueIDs[0] == 0 {
		t.Errorf("refused %v queue ids %v", refusedSeen, res[1].QueueIDs)
	}
	var n int
	if err := s.Pool().QueryRow(context.Background(), `SELECT count(*) FROM queue WHERE origin = 'bounce'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d bounces queued", n)
	}
}
