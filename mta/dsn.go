package mta

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// DSN describes a delivery status notification (RFC 3464) for the
// recipients of one message that failed.
type DSN struct {
	ReportingMTA string // our host name
	Sender       string // the original envelope sender: the DSN's recipient
	QueueID      string
	Arrival      time.Time
	Recipients   []DSNRecipient
	Original     []byte // the original message, as stored
	HeadersOnly  bool   // RET=HDRS
	Now          time.Time
	// Delayed makes it a delay warning (RFC 3464 Action: delayed) that
	// promises further attempts, instead of a bounce.
	Delayed  bool
	Lifetime time.Duration // the queue's lifetime, said in a delay warning
	// Boundary and MessageID are generated when empty (tests fix them).
	Boundary, MessageID string
}

// DSNRecipient is one failed recipient.
type DSNRecipient struct {
	Address    string
	Status     string // enhanced status code: 5.2.2
	Diagnostic string // "smtp; 552 5.2.2 Mailbox full"
	Action     string // "" is failed; "delayed" for a delay warning
	RemoteMTA  string // "dns; mx.example.com" when a remote server answered
	OrigRcpt   string // DSN ORCPT ("rfc822;addr"), when given
}

// BuildDSN returns a bounce message: multipart/report with a human-readable
// part, a message/delivery-status part and the original message (or its
// header with RET=HDRS), as Postfix sends them.
func BuildDSN(d DSN) []byte {
	if d.Boundary == "" {
		d.Boundary = d.QueueID + "." + randHex(8) + "/" + d.ReportingMTA
	}
	if d.MessageID == "" {
		d.MessageID = fmt.Sprintf("<%s.%s@%s>", d.Now.UTC().Format("20060102150405"), randHex(6), d.ReportingMTA)
	}
	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\r\n", a...) }
	w("From: MAILER-DAEMON@%s (Mail Delivery System)", d.ReportingMTA)
	w("To: <%s>", d.Sender)
	if d.Delayed {
		w("Subject: Delayed Mail (still being retried)")
	} else {
		w("Subject: Undelivered Mail Returned to Sender")
	}
	w("Date: %s", d.Now.Format(time.RFC1123Z))
	w("Message-ID: %s", d.MessageID)
	w("Auto-Submitted: auto-replied")
	w("MIME-Version: 1.0")
	w("Content-Type: multipart/report; report-type=delivery-status;")
	w("\tboundary=\"%s\"", d.Boundary)
	w("")
	w("This is a MIME-encapsulated message.")
	w("")
	w("--%s", d.Boundary)
	w("Content-Description: Notification")
	w("Content-Type: text/plain; charset=us-ascii")
	w("")
	w("This is the mail system at host %s.", d.ReportingMTA)
	w("")
	if d.Delayed {
		w("####################################################################")
		w("# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #")
		w("####################################################################")
		w("")
		w("Your message could not be delivered for %s.", d.Now.Sub(d.Arrival).Round(time.Minute))
		w("It will be retried until it is %s old.", d.Lifetime)
	} else {
		w("I'm sorry to have to inform you that your message could not")
		w("be delivered to one or more recipients. It's attached below.")
	}
	w("")
	for _, r := range d.Recipients {
		w("<%s>: %s", r.Address, strings.TrimPrefix(r.Diagnostic, "smtp; "))
	}
	w("")
	w("--%s", d.Boundary)
	w("Content-Description: Delivery report")
	w("Content-Type: message/delivery-status")
	w("")
	w("Reporting-MTA: dns; %s", d.ReportingMTA)
	w("X-Mailhost-Queue-ID: %s", d.QueueID)
	w("Arrival-Date: %s", d.Arrival.Format(time.RFC1123Z))
	for _, r := range d.Recipients {
		w("")
		if r.OrigRcpt != "" {
			w("Original-Recipient: %s", r.OrigRcpt)
		}
		w("Final-Recipient: rfc822; %s", r.Address)
		action := r.Action
		if action == "" {
			action = "failed"
		}
		w("Action: %s", action)
		w("Status: %s", r.Status)
		if r.RemoteMTA != "" {
			w("Remote-MTA: %s", r.RemoteMTA)
		}
		w("Diagnostic-Code: %s", r.Diagnostic)
	}
	w("")
	w("--%s", d.Boundary)
	orig := d.Original
	if d.HeadersOnly {
		w("Content-Description: Undelivered Message Headers")
		w("Content-Type: text/rfc822-headers")
		if i := bytes.Index(orig, []byte("\r\n\r\n")); i >= 0 {
			orig = orig[:i+2]
		}
	} else {
		w("Content-Description: Undelivered Message")
		w("Content-Type: message/rfc822")
	}
	w("")
	b.Write(orig)
	if !bytes.HasSuffix(orig, []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	w("")
	w("--%s--", d.Boundary)
	return b.Bytes()
}

func randHex(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	return strings.ToUpper(hex.EncodeToString(buf))
}
