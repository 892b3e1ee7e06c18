package imapd_test

import (
	"context"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailhost/imapd"
	"mailhost/store"
)

// gatedMoves holds the first IMAPMove (after its links are made, before
// its transaction) until release is closed; later moves go through.
type gatedMoves struct {
	*store.Store
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (g *gatedMoves) IMAPMove(ctx context.Context, mailboxID, src, dst int64, uids []uint32,
	msgs []store.NewIMAPMessage) ([]uint32, uint32, []store.Expunged, error) {
	first := false
	g.once.Do(func() { first = true })
	if first {
		close(g.entered)
		<-g.release
	}
	return g.Store.IMAPMove(ctx, mailboxID, src, dst, uids, msgs)
}

// Two sessions MOVE the same message at once: it is moved once. The MOVE
// that finds its message gone by the time it commits moves nothing (its
// links are removed) and sends no COPYUID, which would have empty UID sets.
func TestConcurrentMovesOfOneMessage(t *testing.T) {
	e := newEnv(t)
	g := &gatedMoves{Store: e.db, entered: make(chan struct{}), release: make(chan struct{})}
	n := e.startNodeWith(t, func(o *imapd.Options) { o.Backend = g })
	e.addMailbox(t, "bob@example.test", "pw", 0)
	a := e.dial(t, n, "bob@example.test", "pw", nil)
	b := e.dial(t, n, "bob@example.test", "pw", nil)
	c := e.dial(t, n, "bob@example.test", "pw", nil)
	appendMsg(t, a, "INBOX", testMsg)
	for _, cl := range []*imapclient.Client{a, b, c} {
		if _, err := cl.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	first := a.Move(imap.UIDSetNum(1), "Archive")
	<-g.entered // a's link is made; its transaction waits
	data, err := b.Move(imap.UIDSetNum(1), "Archive").Wait()
	if err != nil {
		t.Fatalf("b: UID MOVE: %v", err)
	}
	if data.DestUIDs == nil || data.DestUIDs.String() != "1" {
		t.Fatalf("b: COPYUID %v, want the message at UID 1 of Archive", data.DestUIDs)
	}
	close(g.release)
	data, err = first.Wait()
	if err != nil {
		t.Fatalf("a: UID MOVE: %v", err)
	}
	if data.DestUIDs != nil && data.DestUIDs.String() != "" {
		t.Errorf("a: COPYUID %v for a message b had moved already", data.DestUIDs)
	}
	if err := a.Noop().Wait(); err != nil { // the connection still parses
		t.Fatal(err)
	}
	st, err := a.Status("Archive", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if *st.NumMessages != 1 {
		t.Errorf("Archive holds %d messages after two MOVEs of one message, want 1", *st.NumMessages)
	}
	if files := e.files(t, "bob@example.test", ".Archive"); len(files) != 1 {
		t.Errorf("Archive's files: %v, want one", files)
	}
	if files := e.files(t, "bob@example.test", ""); len(files) != 0 {
		t.Errorf("INBOX's files: %v, want none", files)
	}

	// c still knows UID 1 of INBOX: its COPY and MOVE find nothing left
	// and answer OK, without a COPYUID.
	if data, err := c.Copy(imap.UIDSetNum(1), "Archive").Wait(); err != nil || data.DestUIDs != nil && data.DestUIDs.String() != "" {
		t.Errorf("c: UID COPY of a moved message: %v, %v", data, err)
	}
	if data, err := c.Move(imap.UIDSetNum(1), "Archive").Wait(); err != nil || data.DestUIDs != nil && data.DestUIDs.String() != "" {
		t.Errorf("c: UID MOVE of a moved message: %v, %v", data, err)
	}
	if err := c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Status("Archive", &imap.StatusOptions{NumMessages: true}).Wait(); err != nil || *st.NumMessages != 1 {
		t.Errorf("Archive after c's COPY and MOVE: %v, %v; want 1 message", st, err)
	}
}
