package mta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"mailhost/address"
	"mailhost/mailheader"
	"mailhost/mda"
	"mailhost/store"
)

// InjectStore is what local injection (sendmail) needs from the database.
type InjectStore interface {
	Recipients
	Enqueue(ctx context.Context, msgs ...store.QueuedMessage) ([]int64, error)
}

// Injection is a message submitted on the host itself (mailhost sendmail):
// no SMTP session, the local user is trusted as Postfix trusts its
// sendmail(1) callers.
type Injection struct {
	Hostname   string
	Sender     string // envelope sender, "" for <>
	FromName   string // full name for an added From: (-F)
	User       string // the local account that ran sendmail, for Received
	Delims     string // recipient delimiter
	Recipients []string
	Message    []byte // as read: LF or CRLF line ends
	Now        time.Time
	DKIM       Signer // signs the queued copies (dkim.go); nil: none
}

// InjectResult says what happened.
type InjectResult struct {
	ID        string  // the queue id: of the Received header, the log and the queue rows
	Delivered int     // local mailboxes that got a copy
	Queued    []int64 // queue rows of the remote recipients, then of a bounce
	// Bounce is the queue id of the bounce for copies refused for quota
	// ("" without one): a message of its own.
	Bounce string
	// Outcomes of the local copies: a copy refused for quota while others
	// were delivered is bounced to the sender; one whose folder vanished
	// went to INBOX; one with Err waits to be adopted (mda.Outcome).
	Outcomes []mda.Outcome
}

// ErrUnknownRecipient wraps a hosted address that has no mailbox or alias.
var ErrUnknownRecipient = errors.New("unknown recipient")

// Inject resolves every recipient, then delivers the hosted ones at once
// through agent and queues the others (origin "sendmail"), all in one
// transaction, so either all are done or none. An error means none; once
// that transaction committed, Inject reports success and the local copies'
// fates are in InjectResult.Outcomes.
func Inject(ctx context.Context, st InjectStore, agent *mda.Agent, in Injection) (InjectResult, error) {
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	res := InjectResult{ID: store.NewQueueID()}
	body := toCRLF(in.Message)
	if e := checkBody(body); e != nil {
		return res, fmt.Errorf("message refused: %s", e.Message)
	}
	h := mailheader.Parse(body)
	var locals []mda.Recipient
	seenBox, seenRemote := map[int64]bool{}, map[string]bool{}
	q := store.QueuedMessage{QueueID: res.ID, Sender: in.Sender, Origin: "sendmail", AuthUser: in.User}
	for _, r := range in.Recipients {
		addr, err := address.Normalize(r)
		if err != nil {
			return res, fmt.Errorf("%w: bad address %q", ErrUnknownRecipient, r)
		}
		rs, err := st.Resolve(ctx, addr, in.Delims)
		var moved *store.RelocatedError
		switch {
		case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrDisabled):
			return res, fmt.Errorf("%w: <%s>", ErrUnknownRecipient, addr)
		case errors.As(err, &moved):
			return res, fmt.Errorf("%w: <%s> has moved to <%s>", ErrUnknownRecipient, addr, moved.NewAddress)
		case err != nil:
			return res, err
		}
		for _, t := range rs.Local {
			if !seenBox[t.MailboxID] {
				seenBox[t.MailboxID] = true
				locals = append(locals, mda.Recipient{Target: t,
					Header: []byte("Return-Path: <" + in.Sender + ">\r\nDelivered-To: " + t.Address + "\r\n")})
			}
		}
		for _, t := range rs.Remote {
			if !seenRemote[t.Address] {
				seenRemote[t.Address] = true
				q.Recipients = append(q.Recipients, store.QueuedRecipient{Address: t.Address, Domain: t.Domain, NextHop: t.NextHop})
			}
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "Received: by %s (mailhost sendmail, from userid %s)\r\n\tid %s; %s\r\n",
		in.Hostname, sanitize(in.User), res.ID, in.Now.Format(time.RFC1123Z))
	if !h.Has("Message-Id") {
		fmt.Fprintf(&b, "Message-ID: <%s.%s@%s>\r\n", in.Now.UTC().Format("20060102150405"), res.ID, in.Hostname)
	}
	if !h.Has("Date") {
		fmt.Fprintf(&b, "Date: %s\r\n", in.Now.Format(time.RFC1123Z))
	}
	if !h.Has("From") {
		from := in.Sender
		if from == "" {
			from = "MAILER-DAEMON@" + in.Hostname
		}
		if in.FromName != "" {
			fmt.Fprintf(&b, "From: %s <%s>\r\n", sanitize(in.FromName), from)
		} else {
			fmt.Fprintf(&b, "From: <%s>\r\n", from)
		}
	}
	header := b.Bytes()
	var queue []store.QueuedMessage
	if len(q.Recipients) > 0 {
		q.Body = append(append([]byte{}, header...), body...)
		queue = append(queue, q)
	}
	signQueued(ctx, in.DKIM, slog.Default(), queue)
	if len(locals) == 0 && len(queue) == 0 {
		return res, errors.New("no recipients")
	}
	if len(locals) == 0 {
		ids, err := st.Enqueue(ctx, queue...)
		res.Queued = ids
		return res, err
	}
	full := append(append([]byte{}, header...), body...)
	r, err := agent.Deliver(ctx, mda.Message{Header: header, Body: body, QueueID: res.ID}, locals, queue,
		func(refused []mda.Outcome) []store.QueuedMessage {
			b := quotaBounce(DSN{ReportingMTA: in.Hostname, Sender: in.Sender, QueueID: res.ID, Original: full}, refused)
			signQueued(ctx, in.DKIM, slog.Default(), b)
			if len(b) > 0 {
				res.Bounce = b[0].QueueID
			}
			return b
		})
	if err != nil {
		return res, err
	}
	// Committed: whatever the outcomes say, the message is accepted.
	for _, o := range r.Outcomes {
		if !o.OverQuota {
			res.Delivered++
		}
	}
	res.Outcomes = r.Outcomes
	res.Queued = r.QueueIDs
	return res, nil
}

// toCRLF turns bare LF line ends into CRLF (sendmail input is a Unix
// text file) and makes the message end with a line end.
func toCRLF(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/40+2)
	for i := 0; i < len(b); i++ {
		if b[i] == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, b[i])
	}
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, '\r', '\n')
	}
	return out
}
