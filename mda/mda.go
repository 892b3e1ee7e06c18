// Package mda is the mail delivery agent: it stores a message in the
// Maildirs of local recipients and indexes it, in the order of the delivery
// contract ("Order of a delivery" in ARCHITECTURE.md): file in tmp/,
// fsync, publish into new/, fsync the directory, then one transaction for
// every index row, quota charge and queued remote copy, then the folder
// notices (sent by PostgreSQL on commit). Only when Deliver returns nil may the caller acknowledge the
// message; once the commit succeeded it always does (see Deliver).
package mda

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"mailhost/maildir"
	"mailhost/store"
)

// Index is what the agent needs from the database: one transaction that
// indexes the files, charges the quotas and queues the remote copies.
// *store.Store satisfies it; tests may fake it.
type Index interface {
	CommitDelivery(ctx context.Context, d store.Delivery) (store.DeliveryResult, error)
}

var _ Index = (*store.Store)(nil)

// Agent delivers into the Maildir tree under Root.
type Agent struct {
	Root  string             // the Maildir root
	Owner maildir.Owner      // vmail, applied when running as root
	Names *maildir.Generator // unique file names, one per process
	Index Index
	// Parallel bounds the files written at once for one message (fsyncs
	// overlap); 0 means 8.
	Parallel int
	// Filter, when set, runs the recipients' Sieve scripts before the
	// copies are written (sieve.go).
	Filter *Filter
	// QuotaWarnings, when set, warns owners whose mailbox a delivery took
	// over a threshold (quota_warning.go).
	QuotaWarnings *QuotaWarnings
}

// Recipient is one local mailbox to deliver to.
type Recipient struct {
	Target store.LocalTarget
	// Header is prepended for this recipient only (Return-Path,
	// Delivered-To), before Message.Header.
	Header []byte
	// Junk files the copy in the Junk folder (the content filter found
	// it spam; junk.go).
	Junk bool
	// From and To are the SMTP envelope of this copy (MAIL FROM, the RCPT
	// TO that led here), for the Sieve scripts; when empty they are read
	// from the Return-Path in Header and the mailbox address.
	From, To string
	// Flags are the IMAP flags the copy is stored with (a Sieve script's
	// imap4flags): system flags name the file in cur/, keywords go to
	// the index.
	Flags []string
}

// Message is what every recipient gets: Header (added by the server:
// Received, a missing Message-ID or Date) then Body (the message as
// received).
type Message struct {
	Header []byte
	Body   []byte
	// QueueID is the message's queue id (store.NewQueueID): Sieve
	// redirects, copies of the message, keep it; replies and notices get
	// their own, and the log line that reports them names both.
	QueueID string
}

// Outcome is what happened for one recipient.
type Outcome struct {
	Recipient Recipient
	Key       string // the Maildir key of the stored file
	Path      string
	Size      int64
	UID       int64
	// OverQuota: the message did not fit the mailbox's quota; nothing was
	// stored for this recipient.
	OverQuota bool
	// WantedFolder is set when the folder the recipient named (alice+news
	// files into "news") was deleted while the message was being
	// delivered: the copy went to INBOX instead (Recipient.Target.Folder
	// says "INBOX"), as a Sieve fileinto to a missing folder does. A mail
	// admin expects the message where the user will see it, not a
	// refusal: the other copies were already committed.
	WantedFolder string
	// Err, when set, is a problem met after the commit that did not lose
	// the copy: its file is durable in the mailbox's INBOX new/ but not
	// indexed yet; the next poll of the folder (IMAP SELECT, POP3 login)
	// or a reindex adopts it. Callers log it; the delivery stands.
	Err error
}

// Result is the outcome of a delivery.
type Result struct {
	Outcomes []Outcome
	QueueIDs []int64
}

// ErrOverQuota is returned when every recipient was refused for quota and
// nothing was stored or queued.
var ErrOverQuota = errors.New("mda: mailbox over quota")

// commitTimeout bounds the transactions of a delivery. They do not end
// with the caller's context: once the files are durable, finishing the
// commit is what keeps a message from being delivered twice.
const commitTimeout = 60 * time.Second

// Deliver writes the message durably for every recipient, then commits the
// index rows, quota charges and the queue messages in one transaction.
// onOverQuota (optional) builds bounces for recipients refused for quota
// when others got the message; they are queued in the same transaction.
//
// An error means nothing of the delivery was committed: the files written
// are removed (or, when the commit's outcome is unknown, left for the next
// poll to adopt) and the caller refuses the message temporarily. Once the
// commit succeeded Deliver reports success, and whatever went wrong after
// it is in the recipients' Outcomes, never an error: a temporary failure
// there would make the client send the message again and every committed
// copy would be delivered twice. The one error after a commit is
// ErrOverQuota, when every recipient was refused for quota and nothing
// was queued, so that nothing was stored at all.
//
// ctx bounds the writing of the files; when it ends before the commit the
// delivery is abandoned. The commit itself runs to its end (commitTimeout).
func (a *Agent) Deliver(ctx context.Context, msg Message, rcpts []Recipient, queue []store.QueuedMessage,
	onOverQuota func(refused []Outcome) []store.QueuedMessage) (Result, error) {
	now := time.Now()
	var plan *sievePlan
	if a.Filter != nil {
		rcpts, queue, plan = a.Filter.apply(ctx, a, msg, rcpts, queue)
		if len(rcpts) == 0 && len(queue) == 0 {
			return Result{}, nil // every copy discarded
		}
	}
	res := Result{Outcomes: make([]Outcome, len(rcpts))}
	if err := a.writeAll(res.Outcomes, rcpts, msg); err != nil {
		a.removeAll(res.Outcomes)
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		// The client went away or the server is stopping: nothing is
		// committed yet, so nothing needs to be.
		a.removeAll(res.Outcomes)
		return Result{}, fmt.Errorf("mda: delivery abandoned before its commit: %w", err)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()

	d := store.Delivery{Queue: queue, Entries: make([]store.IndexEntry, len(rcpts))}
	for i, o := range res.Outcomes {
		d.Entries[i] = entry(o, now)
	}
	if onOverQuota != nil {
		d.OnOverQuota = func(refused []int) []store.QueuedMessage {
			out := make([]Outcome, len(refused))
			for i, j := range refused {
				out[i] = res.Outcomes[j]
				out[i].OverQuota = true
			}
			return onOverQuota(out)
		}
	}
	cr, err := a.Index.CommitDelivery(cctx, d)
	if err != nil {
		// Remove the files when the transaction certainly rolled back. If
		// the connection was lost while committing, it may have committed:
		// removing the files would then leave rows without files, which
		// the contract forbids; leaving them costs at worst a copy that
		// the next poll adopts.
		if store.RolledBack(err) {
			a.removeAll(res.Outcomes)
		}
		return Result{}, fmt.Errorf("mda: index: %w", err)
	}
	// Committed: from here on, nothing is an error.
	res.QueueIDs = cr.QueueIDs
	refused := 0
	var vanished []int
	for i, r := range cr.Entries {
		o := &res.Outcomes[i]
		o.UID = r.UID
		switch {
		case r.OverQuota:
			o.OverQuota = true
			refused++
			os.Remove(o.Path)
		case r.UID == 0 && r.FolderID == 0:
			// The folder row vanished under us (an IMAP DELETE between
			// the resolution and the commit): nothing was indexed or
			// charged for this copy.
			vanished = append(vanished, i)
		}
	}
	if len(vanished) > 0 {
		a.refile(cctx, msg, res.Outcomes, vanished, now)
	}
	if refused > 0 && refused == len(rcpts) && len(queue) == 0 {
		return res, ErrOverQuota
	}
	a.QuotaWarnings.check(cctx, res.Outcomes)
	if plan != nil {
		for _, n := range plan.rejects {
			a.Filter.log().Info("sender notified", "queue_id", msg.QueueID, "notice_id", n.noticeID, "mailbox", n.mailbox,
				"kind", "sieve reject")
		}
	}
	if plan != nil && len(plan.vacations) > 0 {
		raw := make([]byte, 0, len(msg.Header)+len(msg.Body))
		a.Filter.vacations(cctx, msg.QueueID, plan, res.Outcomes, append(append(raw, msg.Header...), msg.Body...))
	}
	return res, nil
}

// writeAll writes every recipient's copy, several at once.
func (a *Agent) writeAll(outs []Outcome, rcpts []Recipient, msg Message) error {
	errs := make([]error, len(rcpts))
	par := a.Parallel
	if par <= 0 {
		par = 8
	}
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i, r := range rcpts {
		junkTarget(&r)
		outs[i].Recipient = r
		if len(rcpts) == 1 {
			errs[i] = a.write(&outs[i], msg)
			break
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = a.write(&outs[i], msg)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func entry(o Outcome, now time.Time) store.IndexEntry {
	t := o.Recipient.Target
	e := store.IndexEntry{MailboxID: t.MailboxID, Folder: t.Folder, FolderID: t.FolderID,
		Key: o.Key, Size: o.Size, InternalDate: now}
	if system, keywords := splitFlags(o.Recipient.Flags); len(system) > 0 || len(keywords) > 0 {
		e.Flags, e.Keywords = system, keywords
		if len(system) > 0 {
			e.Filename = filepath.Base(o.Path)
		}
	}
	return e
}

// splitFlags separates system flags, which Maildir file names carry, from
// keywords (atoms); other names are dropped.
func splitFlags(flags []string) (system, keywords []string) {
	for _, f := range flags {
		switch c := maildir.FlagLetter(f); {
		case c != 0:
			system = append(system, maildir.IMAPFlag(c))
		case f != "" && !strings.HasPrefix(f, `\`) && !strings.ContainsAny(f, "(){%*\"\\] \x7f") && isASCII(f):
			keywords = append(keywords, f)
		}
	}
	return system, keywords
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// deliverOptions stores a copy with system flags in cur/ (RFC 5232 at
// delivery), else in new/.
func deliverOptions(flags []string) maildir.DeliverOptions {
	system, _ := splitFlags(flags)
	if len(system) == 0 {
		return maildir.DeliverOptions{}
	}
	var letters []byte
	for _, f := range system {
		letters = append(letters, maildir.FlagLetter(f))
	}
	slices.Sort(letters)
	return maildir.DeliverOptions{Cur: true, Flags: maildir.Flags(letters)}
}

// refile delivers to INBOX the copies of outs[idx] whose folder vanished
// after the main commit: a new copy in INBOX (the old file's directory may
// be gone, or going), then its own small commit. The message stands
// whatever happens here: a copy that cannot be indexed now stays durable
// in INBOX for the next poll to adopt, and its Outcome says so.
func (a *Agent) refile(ctx context.Context, msg Message, outs []Outcome, idx []int, now time.Time) {
	var d store.Delivery
	var moved []int
	for _, i := range idx {
		o := &outs[i]
		old := *o
		o.WantedFolder = o.Recipient.Target.Folder
		o.Recipient.Target.Folder, o.Recipient.Target.FolderID = "INBOX", 0
		if err := a.write(o, msg); err != nil {
			// Keep the copy where it is: a reindex finds it there.
			*o = old
			o.WantedFolder = old.Recipient.Target.Folder
			o.Err = fmt.Errorf("mda: folder %q of %s was deleted during delivery and the copy could not be moved to INBOX (it stays in %s): %w",
				o.WantedFolder, o.Recipient.Target.Address, o.Path, err)
			continue
		}
		os.Remove(old.Path)
		d.Entries = append(d.Entries, entry(*o, now))
		moved = append(moved, i)
	}
	if len(moved) == 0 {
		return
	}
	cr, err := a.Index.CommitDelivery(ctx, d)
	for k, i := range moved {
		o := &outs[i]
		switch {
		case err != nil:
			o.Err = fmt.Errorf("mda: index the copy refiled to INBOX (the file waits there to be adopted): %w", err)
		case cr.Entries[k].OverQuota:
			// The mailbox filled up between the two commits. The message
			// passed the quota check of the first; keep it for adoption
			// rather than lose or bounce an accepted message.
			o.Err = errors.New("mda: mailbox over quota when refiling the copy to INBOX (the file waits there to be adopted)")
		default:
			o.UID = cr.Entries[k].UID
		}
	}
}

// write stores one recipient's copy durably in its folder.
func (a *Agent) write(o *Outcome, msg Message) error {
	t := o.Recipient.Target
	f, folder, err := a.folder(t)
	if err != nil {
		return err
	}
	o.Recipient.Target.Folder = folder
	opts := deliverOptions(o.Recipient.Flags)
	d, err := f.Deliver(content(o.Recipient.Header, msg), opts)
	if errors.Is(err, fs.ErrNotExist) && folder == "INBOX" {
		// A mailbox created before its first message has no Maildir yet.
		if err := a.create(t); err != nil {
			return err
		}
		d, err = f.Deliver(content(o.Recipient.Header, msg), opts)
	}
	if err != nil {
		return err
	}
	o.Key, o.Path, o.Size = d.Key, d.Path, d.Size
	return nil
}

// folder returns the Maildir folder of t. A folder named by an extension
// whose directory is missing falls back to INBOX.
func (a *Agent) folder(t store.LocalTarget) (maildir.Folder, string, error) {
	rel := filepath.Clean(t.Maildir)
	if filepath.IsAbs(rel) || rel == "." || rel == ".." || len(rel) > 2 && rel[:3] == "../" {
		return maildir.Folder{}, "", fmt.Errorf("mda: mailbox %s: bad maildir path %q", t.Address, t.Maildir)
	}
	mb := maildir.Mailbox{Path: filepath.Join(a.Root, rel), Owner: a.Owner, Names: a.Names}
	name := t.Folder
	if name != "INBOX" {
		if f, err := mb.Folder(name); err == nil {
			return f, name, nil
		}
		name = "INBOX"
	}
	return maildir.Folder{Path: mb.Path, Owner: a.Owner, Names: a.Names}, name, nil
}

// content is what one recipient's file holds. A small message is written
// with one write(2); a large one is streamed from its parts.
func content(rcptHeader []byte, msg Message) io.Reader {
	n := len(rcptHeader) + len(msg.Header) + len(msg.Body)
	if n > 256<<10 {
		return io.MultiReader(bytes.NewReader(rcptHeader), bytes.NewReader(msg.Header), bytes.NewReader(msg.Body))
	}
	b := make([]byte, 0, n)
	b = append(append(append(b, rcptHeader...), msg.Header...), msg.Body...)
	return bytes.NewReader(b)
}

// create makes a missing Maildir: the standard layout when the path is the
// conventional <domain>/<local>/, else just cur/ new/ tmp/.
func (a *Agent) create(t store.LocalTarget) error {
	local := t.Address
	if i := len(t.Address) - len(t.Domain) - 1; i > 0 && t.Address[i] == '@' {
		local = t.Address[:i]
	}
	if filepath.Clean(t.Maildir) == filepath.Join(t.Domain, local) {
		if _, err := maildir.Create(a.Root, t.Domain, local, a.Owner); err == nil {
			return nil
		}
	}
	path := filepath.Join(a.Root, filepath.Clean(t.Maildir))
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(path, sub), maildir.DirMode); err != nil {
			return fmt.Errorf("mda: create maildir for %s: %w", t.Address, err)
		}
		if os.Geteuid() == 0 {
			_ = os.Chown(filepath.Join(path, sub), a.Owner.UID, a.Owner.GID)
		}
	}
	if os.Geteuid() == 0 {
		_ = os.Chown(path, a.Owner.UID, a.Owner.GID)
	}
	return nil
}

func (a *Agent) removeAll(outs []Outcome) {
	for _, o := range outs {
		if o.Path != "" {
			os.Remove(o.Path)
		}
	}
}
