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

// sortBenchMailbox makes a mailbox of n messages of about 4 KB in threads
// of five (a topic and four replies with References and In-Reply-To),
// Date fields in no particular order, and returns a function that logs
// in a new client with INBOX selected (the first one adopts the files).
func sortBenchMailbox(b *testing.B, n int) func() *imapclient.Client {
	e := newEnv(b)
	e.addMailbox(b, "bench@example.test", "secret", 0)
	dir := filepath.Join(e.maildirPath("bench@example.test"), "new")
	line := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 2)[:72] + "\n"
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		var sb strings.Builder
		topic, k := i/5, i%5
		subject := fmt.Sprintf("topic %d", topic)
		if k > 0 {
			subject = "Re: " + subject
		}
		date := base.Add(time.Duration(i*7919%n) * time.Minute).Format(time.RFC1123Z)
		fmt.Fprintf(&sb, "From: Sender %d <sender%d@remote.test>\nTo: bench@example.test\nSubject: %s\n"+
			"Message-ID: <%d@remote.test>\nDate: %s\n", i%97, i%97, subject, i, date)
		if k > 0 {
			fmt.Fprintf(&sb, "In-Reply-To: <%d@remote.test>\nReferences:", i-1)
			for j := topic * 5; j < i; j++ {
				fmt.Fprintf(&sb, " <%d@remote.test>", j)
			}
			sb.WriteString("\n")
		}
		sb.WriteString("\n")
		for sb.Len() < 4096 {
			sb.WriteString(line)
		}
		name := fmt.Sprintf("%d.M%dP1.bench,S=%d,W=%d", 1700000000+i, i, sb.Len(), sb.Len()+strings.Count(sb.String(), "\n"))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(sb.String()), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return func() *imapclient.Client {
		c := e.dial(b, e.nodes[0], "bench@example.test", "secret", nil)
		if sel, err := c.Select("INBOX", nil).Wait(); err != nil || sel.NumMessages != uint32(n) {
			b.Fatalf("SELECT: %v %+v", err, sel)
		}
		return c
	}
}

// BenchmarkIMAP10kSortThread times SORT and THREAD REFERENCES over 10,000
// messages: "cold" in a new session each time (every header read),
// "warm" repeated in one session (the session's summaries).
func BenchmarkIMAP10kSortThread(b *testing.B) {
	const n = 10000
	login := sortBenchMailbox(b, n)
	all := &imap.SearchCriteria{}
	undeleted := &imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagDeleted}}
	type sortCase struct {
		name     string
		key      imapclient.SortKey
		criteria *imap.SearchCriteria
	}
	cases := []sortCase{
		{"sort-arrival", imapclient.SortKeyArrival, all},
		{"sort-date", imapclient.SortKeyDate, all},
		{"sort-subject", imapclient.SortKeySubject, all},
		// As webmail hiding deleted messages asks: the index's flags are read each time.
		{"sort-date-undeleted", imapclient.SortKeyDate, undeleted},
		{"thread-references", "", all},
	}
	run := func(b *testing.B, c *imapclient.Client, key imapclient.SortKey, criteria *imap.SearchCriteria) {
		if key == "" {
			threads, err := c.Thread(&imapclient.ThreadOptions{Algorithm: imap.ThreadReferences, SearchCriteria: criteria}).Wait()
			if err != nil || len(threads) != n/5 {
				b.Fatalf("THREAD: %v, %d threads", err, len(threads))
			}
			return
		}
		nums, err := c.Sort(&imapclient.SortOptions{SearchCriteria: criteria,
			SortCriteria: []imapclient.SortCriterion{{Key: key}}}).Wait()
		if err != nil || len(nums) != n {
			b.Fatalf("SORT %s: %v, %d numbers", key, err, len(nums))
		}
	}
	for _, tc := range cases {
		b.Run(tc.name+"/cold", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				c := login()
				b.StartTimer()
				run(b, c, tc.key, tc.criteria)
				b.StopTimer()
				c.Close()
				b.StartTimer()
			}
		})
		b.Run(tc.name+"/warm", func(b *testing.B) {
			c := login()
			run(b, c, tc.key, tc.criteria)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				run(b, c, tc.key, tc.criteria)
			}
		})
	}
}
