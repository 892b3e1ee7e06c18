package imapd_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// benchMailbox makes a mailbox of n messages of about 4 KB (files dropped
// into new/ and adopted by the first SELECT, which is timed too) and
// returns a client with INBOX selected.
func benchMailbox(b *testing.B, n int) *imapclient.Client {
	e := newEnv(b)
	e.addMailbox(b, "bench@example.test", "secret", 0)
	dir := filepath.Join(e.maildirPath("bench@example.test"), "new")
	line := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 2)[:72] + "\n"
	for i := 0; i < n; i++ {
		var sb strings.Builder
		fmt.Fprintf(&sb, "From: Sender %d <sender%d@remote.test>\nTo: bench@example.test\nSubject: message %d\n"+
			"Message-ID: <%d@remote.test>\nDate: Mon, 2 Jan 2026 15:04:05 +0000\n\n", i, i, i, i)
		for sb.Len() < 4096 {
			sb.WriteString(line)
		}
		if i%1000 == 7 {
			sb.WriteString("a needle in the haystack\n")
		}
		// Named as Dovecot and mailhost name them: ",S=" on disk, ",W=" with CRLF.
		name := fmt.Sprintf("%d.M%dP1.bench,S=%d,W=%d", 1700000000+i, i, sb.Len(), sb.Len()+strings.Count(sb.String(), "\n"))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(sb.String()), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	c := e.dial(b, e.nodes[0], "bench@example.test", "secret", nil)
	start := time.Now()
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil || sel.NumMessages != uint32(n) {
		b.Fatalf("SELECT: %v %+v", err, sel)
	}
	b.Logf("first SELECT (adopts %d files, moves them to cur/): %v", n, time.Since(start))
	return c
}

func BenchmarkIMAP10kFetchHeaders(b *testing.B) {
	c := benchMailbox(b, 10000)
	opts := &imap.FetchOptions{UID: true, Flags: true, RFC822Size: true, InternalDate: true, Envelope: true,
		BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader, Peek: true,
			HeaderFields: []string{"From", "To", "Subject", "Date", "Message-ID"}}}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, opts).Collect()
		if err != nil || len(msgs) != 10000 {
			b.Fatalf("FETCH: %v, %d messages", err, len(msgs))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/10000, "µs/msg")
}

func BenchmarkIMAP10kSearch(b *testing.B) {
	c := benchMailbox(b, 10000)
	for _, tc := range []struct {
		name string
		c    imap.SearchCriteria
		want int
	}{
		{"flag", imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagDeleted}}, 10000},
		{"subject", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "message 999"}}}, 11},
		{"body", imap.SearchCriteria{Body: []string{"needle"}}, 10},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				data, err := c.UIDSearch(&tc.c, nil).Wait()
				if err != nil || len(data.AllUIDs()) != tc.want {
					b.Fatalf("SEARCH %s: %v, %d results, want %d", tc.name, err, len(data.AllUIDs()), tc.want)
				}
			}
		})
	}
}

// BenchmarkIMAPCommands runs 20 clients in parallel on one mailbox of 50
// messages, each in a loop of the commands a mail client sends most
// (FETCH of flags, of a header, STORE, NOOP, STATUS); it reports
// commands per second.
func BenchmarkIMAPCommands(b *testing.B) {
	benchCommands(b, "f1 FETCH 1:* (FLAGS)\r\nf2 UID FETCH 1:10 (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])\r\n"+
		"f3 STORE 5 +FLAGS (\\Seen)\r\nf4 NOOP\r\nf5 STATUS Sent (MESSAGES UNSEEN)\r\n", 5)
}

// BenchmarkIMAPFetchStructure is BenchmarkIMAPCommands with the FETCHes
// of a message list: envelopes and body structures of a range, as
// bench/imap-stress.sh's mix sends them.
func BenchmarkIMAPFetchStructure(b *testing.B) {
	benchCommands(b, "f1 FETCH 1:30 (UID RFC822.SIZE FLAGS INTERNALDATE ENVELOPE)\r\n"+
		"f2 FETCH 11:30 (UID BODYSTRUCTURE)\r\nf5 NOOP\r\n", 3)
}

// benchCommands runs script (its last command tagged f5) in a loop on 20
// clients in parallel and reports commands per second.
func benchCommands(b *testing.B, script string, perScript int) {
	e := newEnv(b)
	e.addMailbox(b, "bench@example.test", "secret", 0)
	c := e.dial(b, e.nodes[0], "bench@example.test", "secret", nil)
	for i := 0; i < 50; i++ {
		appendMsg(b, c, "INBOX", testMsg)
	}
	const clients = 20
	conns := make([]*raw, clients)
	for i := range conns {
		conns[i] = dialRaw(b, e.nodes[0].addr)
		conns[i].send("l LOGIN bench@example.test secret\r\ns SELECT INBOX\r\n")
		conns[i].expect("s OK")
	}
	b.ResetTimer()
	start := time.Now()
	done := make(chan struct{}, clients)
	for _, r := range conns {
		go func() {
			for i := 0; i < b.N; i++ {
				r.send(script)
				r.expect("f5 ")
			}
			done <- struct{}{}
		}()
	}
	for range conns {
		<-done
	}
	b.ReportMetric(float64(b.N*clients*perScript)/time.Since(start).Seconds(), "cmds/s")
}
