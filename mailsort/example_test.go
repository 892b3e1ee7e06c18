package mailsort_test

import (
	"fmt"
	"strings"
	"time"

	"mailhost/mailheader"
	"mailhost/mailsort"
)

// What imapd does for "UID SORT (REVERSE DATE SUBJECT) UTF-8 ALL" and
// "UID THREAD REFERENCES UTF-8 ALL": a Message per searched message, in
// mailbox order, then the order or the threads printed with UIDs.
func Example() {
	headers := []string{
		"Subject: Lunch?\r\nMessage-ID: <1@example.test>\r\nDate: Tue, 1 Dec 2026 09:00:00 +0000\r\n\r\n",
		"Subject: Re: Lunch?\r\nMessage-ID: <2@example.test>\r\nReferences: <1@example.test>\r\nDate: Tue, 1 Dec 2026 09:30:00 +0000\r\n\r\n",
		"Subject: [ops] Disk full\r\nMessage-ID: <3@example.test>\r\nDate: Mon, 30 Nov 2026 22:00:00 +0000\r\n\r\n",
		"Subject: Re: Lunch?\r\nMessage-ID: <4@example.test>\r\nIn-Reply-To: <1@example.test>\r\n\r\n",
	}
	var msgs []mailsort.Message
	for i, raw := range headers {
		h := mailheader.Parse([]byte(raw))
		seq, uid := uint32(i+1), uint32(101+i)
		arrival := time.Date(2026, 12, 2, 0, 0, i, 0, time.UTC) // INTERNALDATE
		msgs = append(msgs, mailsort.Summarize(&h, seq, uid, arrival, int64(len(raw))))
	}

	crit := []mailsort.Criterion{{Key: mailsort.Date, Reverse: true}, {Key: mailsort.Subject}}
	var uids []string
	for _, i := range mailsort.Sort(msgs, crit, mailsort.UnicodeCasemap) {
		uids = append(uids, fmt.Sprint(msgs[i].UID))
	}
	fmt.Println("* SORT " + strings.Join(uids, " "))

	threads := mailsort.Thread(msgs, mailsort.References, mailsort.UnicodeCasemap)
	fmt.Println("* THREAD " + mailsort.FormatThreads(threads, func(i int) uint32 { return msgs[i].UID }))
	// Output:
	// * SORT 104 102 101 103
	// * THREAD (103)(101 (102)(104))
}
