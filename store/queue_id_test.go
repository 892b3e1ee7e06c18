package store_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"mailhost/store"
	"mailhost/testdb"
)

var queueIDFormat = regexp.MustCompile(`^[0-9A-F]{20}$`)

// TestNewQueueID: twenty upper-case hex digits, all different, in the
// order they were made to the microsecond.
func TestNewQueueID(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for i := 0; i < 10000; i++ {
		id := store.NewQueueID()
		if !queueIDFormat.MatchString(id) {
			t.Fatalf("id %q is not 20 upper-case hex digits", id)
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
		if prev != "" && id[:13] < prev[:13] {
			t.Fatalf("id %q made after %q sorts before it", id, prev)
		}
		prev = id
	}
	if got := store.QueueIDOfRow(42); got != "0000000000000000002A" {
		t.Errorf("QueueIDOfRow(42) = %q", got)
	}
}

// queueCopy is a queued message for rcpt with the queue id qid.
func queueCopy(qid, sender, rcpt string) store.QueuedMessage {
	return store.QueuedMessage{QueueID: qid, Sender: sender, Origin: "smtp", Body: []byte("Subject: x\r\n\r\nx\r\n"),
		Recipients: []store.QueuedRecipient{{Address: rcpt, Domain: "remote.example"}}}
}

// TestQueueIDNamesAllCopies: the queue id given to Enqueue is stored on
// the row, a claimed job and the queue tools' entries carry it, and the
// tools take it (in any case, or a row number of the message) and act on
// every copy of the message, not on other messages.
func TestQueueIDNamesAllCopies(t *testing.T) {
	ctx := context.Background()
	s := testdb.Open(t)
	qid, other := store.NewQueueID(), store.NewQueueID()
	rows, err := s.Enqueue(ctx, queueCopy(qid, "a@example.test", "x@remote.example"),
		queueCopy(qid, "srs0=a@example.test", "y@remote.example"), queueCopy(other, "b@example.test", "z@remote.example"))
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := s.Enqueue(ctx, queueCopy("", "c@example.test", "w@remote.example"))
	if err != nil {
		t.Fatal(err)
	}

	list, err := s.QueueList(ctx, store.QueueFilter{})
	if err != nil || len(list) != 4 {
		t.Fatalf("list: %d entries, %v", len(list), err)
	}
	if list[0].ID != qid || list[1].ID != qid || list[2].ID != other || list[1].Row != rows[1] {
		t.Errorf("list: %+v", list)
	}
	if !queueIDFormat.MatchString(list[3].ID) || list[3].Row != fresh[0] {
		t.Errorf("a message queued without an id got %q (row %d)", list[3].ID, list[3].Row)
	}

	for _, ref := range []string{qid, "  " + qid + " ", strconv.FormatInt(rows[1], 10)} {
		copies, body, err := s.QueueMessage(ctx, ref)
		if err != nil || len(copies) != 2 || copies[0].Row != rows[0] || copies[1].Row != rows[1] ||
			copies[1].Sender != "srs0=a@example.test" || string(body) != "Subject: x\r\n\r\nx\r\n" {
			t.Errorf("show %q: %+v %v", ref, copies, err)
		}
	}
	lower := []byte(qid)
	for i, c := range lower {
		if c >= 'A' && c <= 'F' {
			lower[i] = c + 'a' - 'A'
		}
	}
	if copies, _, err := s.QueueMessage(ctx, string(lower)); err != nil || len(copies) != 2 {
		t.Errorf("show in lower case: %+v %v", copies, err)
	}
	if _, _, err := s.QueueMessage(ctx, store.NewQueueID()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("show of an unknown id: %v", err)
	}

	if err := s.QueueHold(ctx, qid, true); err != nil {
		t.Fatal(err)
	}
	held, _ := s.QueueList(ctx, store.QueueFilter{State: "hold"})
	if len(held) != 2 || held[0].ID != qid || held[1].ID != qid {
		t.Errorf("held: %+v", held)
	}
	jobs, err := s.ClaimQueue(ctx, "node", store.QueueClaim{Lease: time.Minute, Messages: 8, PerMessage: 8})
	if err != nil {
		t.Fatal(err)
	}
	var claimed []string
	for _, j := range jobs {
		claimed = append(claimed, j.QueueID)
	}
	if !slices.Equal(claimed, []string{other, list[3].ID}) {
		t.Errorf("claimed jobs' queue ids %q, want the two messages not held", claimed)
	}
	if err := s.QueueHold(ctx, strconv.FormatInt(rows[0], 10), false); err != nil {
		t.Fatal(err)
	}
	if n, err := s.QueueFlush(ctx, qid, ""); err != nil || n != 2 {
		t.Errorf("flush of the message: %d recipients, %v; want both copies' 2", n, err)
	}

	if err := s.QueueDelete(ctx, qid); err != nil {
		t.Fatal(err)
	}
	if err := s.QueueDelete(ctx, qid); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	left, _ := s.QueueList(ctx, store.QueueFilter{})
	if len(left) != 2 || left[0].ID != other {
		t.Errorf("after delete: %+v", left)
	}
}

// TestMigration0019NamesOldRows: rows queued before 0019 get the id of
// their row number, and the tools find them by it and by the number.
func TestMigration0019NamesOldRows(t *testing.T) {
	ctx := context.Background()
	s, m19 := beforeMigration(t, 19)
	var row int64
	if err := s.Pool().QueryRow(ctx, `WITH q AS (INSERT INTO queue (origin, size, body, expires_at)
			VALUES ('smtp', 1, 'x', now() + interval '5 days') RETURNING id)
		INSERT INTO queue_recipients (queue_id, recipient, domain) SELECT id, 'x@remote.example', 'remote.example' FROM q
		RETURNING queue_id`).Scan(&row); err != nil {
		t.Fatal(err)
	}
	mustExec(t, s, m19)
	for _, ref := range []string{store.QueueIDOfRow(row), strconv.FormatInt(row, 10)} {
		copies, _, err := s.QueueMessage(ctx, ref)
		if err != nil || len(copies) != 1 || copies[0].ID != store.QueueIDOfRow(row) || copies[0].Row != row {
			t.Errorf("show %q after 0019: %+v %v", ref, copies, err)
		}
	}
}
