package store_test

import (
	"context"
	"slices"
	"testing"

	"mailhost/store"
	"mailhost/testdb"
)

// TestMigration0007KeepsState: on a database with mail, 0007 keeps the
// subscriptions (folders.subscribed becomes subscriptions rows), marks the
// expunges of the past as unknown (floor = HIGHESTMODSEQ), keeps the
// messages still in new/ \Recent, and starts the UIDVALIDITY counter at
// the mailbox's largest value.
func TestMigration0007KeepsState(t *testing.T) {
	ctx := context.Background()
	s, m7 := beforeMigration(t, 7)
	mustExec(t, s, `INSERT INTO domains (name) VALUES ('example.test');
		INSERT INTO mailboxes (domain_id, local_part, address, password, maildir)
			SELECT id, 'a', 'a@example.test', 'x', 'example.test/a/' FROM domains;
		INSERT INTO folders (mailbox_id, name, uidvalidity, uidnext, highestmodseq, subscribed)
			SELECT id, 'INBOX', 4000000000, 4, 9, true FROM mailboxes;
		INSERT INTO folders (mailbox_id, name, uidvalidity, subscribed) SELECT id, 'Quiet', 1700000000, false FROM mailboxes;
		INSERT INTO messages (folder_id, uid, modseq, key, subdir, filename, size, internal_date)
			SELECT f.id, v.uid, 2, 'k' || v.uid, v.sub, 'k' || v.uid, 1, now() FROM folders f,
				(VALUES (1, 'cur'), (2, 'new'), (3, 'new')) v(uid, sub) WHERE f.name = 'INBOX'`)
	mustExec(t, s, m7)

	var floor, recent, last int64
	var subs []string
	if err := s.Pool().QueryRow(ctx, `SELECT f.vanished_floor, f.recent_uid, m.last_uidvalidity,
			(SELECT array_agg(name ORDER BY name) FROM subscriptions)
		FROM folders f JOIN mailboxes m ON m.id = f.mailbox_id WHERE f.name = 'INBOX'`).Scan(&floor, &recent, &last, &subs); err != nil {
		t.Fatal(err)
	}
	if floor != 9 || recent != 1 || last != 4000000000 || !slices.Equal(subs, []string{"INBOX"}) {
		t.Errorf("after 0007: floor %d recent_uid %d last uidvalidity %d subscriptions %v", floor, recent, last, subs)
	}
	var uv int64
	if err := s.Pool().QueryRow(ctx, `INSERT INTO folders (mailbox_id, name) SELECT id, 'New' FROM mailboxes
		RETURNING uidvalidity`).Scan(&uv); err != nil || uv != 4000000001 {
		t.Errorf("new folder's UIDVALIDITY %d (%v), want 4000000001", uv, err)
	}
}

// beforeMigration opens a new database with the migrations before version
// applied and returns it with that migration's SQL, for a test to write
// the rows of the past and then run it.
func beforeMigration(t *testing.T, version int) (*store.Store, string) {
	t.Helper()
	s, err := store.Open(context.Background(), testdb.New(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	all, err := store.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, s, `DROP SCHEMA public CASCADE; CREATE SCHEMA public`)
	for _, m := range all {
		if m.Version == version {
			return s, m.SQL
		}
		mustExec(t, s, m.SQL)
	}
	t.Fatalf("no migration %d", version)
	return nil, ""
}
