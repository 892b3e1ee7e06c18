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
// recipients of one message: failed, delayed, or (Success) delivered,
// relayed or expanded.
type DSN struct {
	ReportingMTA string // our host name
	Sender       string // the original envelope sender: the DSN's recipient
	EnvID        string // the sender's ENVID (RFC 3461 4.4), "" when none
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
	// Success makes it a report of success (RFC 3461 NOTIFY=SUCCESS):
	// each recipient's Action says delivered, relayed or expanded. Only
	// the header is returned (RFC 3461 4.3: RET applies to failures).
	Success bool
	// Boundary and MessageID are generated when empty (tests fix them).
	Boundary, MessageID string
}

// DSNRecipient is one recipient reported on.
type DSNRecipient struct {
	Address    string
	Status     string // enhanced status code: 5.2.2
	Diagnostic string // "smtp; 552 5.2.2 Mailbox full"; "" for none
	// Action is "" (failed), "delayed" for a delay warning, "delivered",
	// "relayed" or "expanded" for a report of success.
	Action    string
	RemoteMTA string // "dns; mx.example.com" when a remote server answered
	OrigRcpt  string // DSN ORCPT ("rfc822;addr"), when given
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
	switch {
	case d.Success:
		w("Subject: Successful Mail Delivery Report")
	case d.Delayed:
		w("Subject: Delayed Mail (still being retried)")
	default:
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
	switch {
	case d.Success:
		w("Your message was delivered to the recipients listed below, as you")
		w("asked. Where it was relayed to a system that does not report")
		w("delivery, or expanded to further addresses, you may still hear")
		w("of failures from elsewhere.")
	case d.Delayed:
		w("####################################################################")
		w("# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #")
		w("####################################################################")
		w("")
		w("Your message could not be delivered for %s.", d.Now.Sub(d.Arrival).Round(time.Minute))
		w("It will be retried until it is %s old.", d.Lifetime)
	default:
		w("I'm sorry to have to inform you that your message could not")
		w("be delivered to one or more recipients. It's attached below.")
	}
	w("")
	for _, r := range d.Recipients {
		w("<%s>: %s", r.Address, humanOutcome(r))
	}
	w("")
	w("--%s", d.Boundary)
	w("Content-Description: Delivery report")
	w("Content-Type: message/delivery-status")
	w("")
	if d.EnvID != "" {
		w("Original-Envelope-Id: %s", d.EnvID) // RFC 3464 2.2.1
	}
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
		if r.Diagnostic != "" {
			w("Diagnostic-Code: %s", r.Diagnostic)
		}
	}
	w("")
	w("--%s", d.Boundary)
	orig := d.Original
	switch {
	case d.Success:
		w("Content-Description: Message Headers")
		w("Content-Type: text/rfc822-headers")
		orig = headerOf(orig)
	case d.HeadersOnly:
		w("Content-Description: Undelivered Message Headers")
		w("Content-Type: text/rfc822-headers")
		orig = headerOf(orig)
	default:
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

// headerOf is the header section of msg, without the empty line.
func headerOf(msg []byte) []byte {
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		return msg[:i+2]
	}
	return msg
}

// humanOutcome is a recipient's line in the report's readable part.
func humanOutcome(r DSNRecipient) string {
	switch r.Action {
	case "delivered":
		return "delivered to the mailbox"
	case "relayed":
		return "relayed to " + strings.TrimPrefix(r.RemoteMTA, "dns; ") + ", which does not report delivery"
	case "expanded":
		return "delivered and forwarded to further addresses"
	}
	return strings.TrimPrefix(r.Diagnostic, "smtp; ")
}

func randHex(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	return strings.ToUpper(hex.EncodeToString(buf))
}
