package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// The two mailboxes every user has: INBOX with -prefill messages and
// archive with a tenth of that (at least 10). The prefilled messages are
// never expunged, so sequence numbers 1..base address them in every
// session; a client expunges only what it appended or copied itself.
const archive = "Archive"

// ownLimit bounds the messages a client has appended or copied into one
// mailbox and not yet expunged: past it, APPEND and COPY turn into the
// expunge of those, so mailboxes stay near their prefilled size.
const ownLimit = 8

// op is one kind of client action and its weight in the mix.
type op struct {
	name   string
	weight int
	run    func(*client) error
}

// mix resembles a desktop or phone client on a busy account: mostly
// reading (flag resyncs, header lists, one message at a time), flag
// changes, now and then a folder switch, a search, a saved draft, a move
// to the archive, and IDLE. Weights are per 1000.
var mix = []op{
	{"NOOP", 80, (*client).noop},
	{"SELECT", 55, (*client).selectOp},
	{"EXAMINE", 15, (*client).examineOp},
	{"FETCH FLAGS", 100, (*client).fetchFlags},
	{"FETCH ENVELOPE", 80, (*client).fetchEnvelope},
	{"FETCH BODYSTRUCTURE", 50, (*client).fetchBodystructure},
	{"FETCH BODY[]", 150, (*client).fetchBody},
	{"FETCH HEADER.FIELDS", 90, (*client).fetchHeaders},
	{"UID STORE", 130, (*client).store},
	{"SEARCH UNSEEN", 40, (*client).searchUnseen},
	{"SEARCH FROM", 25, (*client).searchFrom},
	{"SEARCH SUBJECT", 20, (*client).searchSubject},
	{"SEARCH TEXT", 5, (*client).searchText},
	{"APPEND", 40, (*client).appendOp},
	{"UID COPY", 30, (*client).copyOp},
	{"UID EXPUNGE", 40, (*client).expungeOp},
	{"IDLE", 50, (*client).idleOp},
}

// errSkip says an operation does not apply in the client's state (nothing
// of its own to expunge); another one is drawn.
var errSkip = errors.New("skip")

// errIncomplete is a command answered OK with fewer results than the
// mailbox holds (FETCH of a range of prefilled messages).
var errIncomplete = errors.New("incomplete response")

// statusError is a tagged NO or BAD.
type statusError struct{ status, text string }

func (e *statusError) Error() string { return e.status + " " + e.text }

// client is one simulated IMAP connection of one user.
type client struct {
	cfg      *config
	user     string
	pass     string
	addr     string
	r        *rand.Rand
	c        *conn
	stats    *stats
	mailbox  string              // selected
	readOnly bool                // selected with EXAMINE
	uids     map[string][]uint32 // UIDs of the prefilled messages, by sequence number - 1
	own      map[string][]uint32 // UIDs this client appended or copied, not yet expunged
	seq      int                 // messages appended by this client (for their content)
}

func newClient(cfg *config, user string, id uint64, st *stats) *client {
	return &client{cfg: cfg, user: user, pass: cfg.pass, addr: cfg.addr,
		r:     rand.New(rand.NewPCG(cfg.seed, id)),
		stats: st, uids: map[string][]uint32{}, own: map[string][]uint32{}}
}

// base is the number of prefilled messages of a mailbox.
func (cl *client) base(mailbox string) int {
	if mailbox == archive {
		return archiveSize(cl.cfg.prefill)
	}
	return cl.cfg.prefill
}

func archiveSize(prefill int) int { return max(10, prefill/10) }

// connect dials, logs in and selects INBOX (each timed and counted).
func (cl *client) connect() error {
	if cl.c != nil {
		cl.c.close()
		cl.c = nil
	}
	c, err := dial(cl.addr, cl.cfg.timeout)
	if err != nil {
		cl.stats.fail("LOGIN", "disconnect", err)
		return err
	}
	cl.c = c
	if err := cl.timed("LOGIN", func() (reply, error) {
		return c.command("LOGIN " + quote(cl.user) + " " + quote(cl.pass))
	}); err != nil {
		return err
	}
	return cl.open("INBOX", false)
}

// timed runs one command, records its latency under name when the server
// answered, and classifies what went wrong.
func (cl *client) timed(name string, f func() (reply, error)) error {
	start := time.Now()
	rep, err := f()
	el := time.Since(start)
	return cl.record(name, el, rep, err)
}

func (cl *client) record(name string, el time.Duration, rep reply, err error) error {
	switch {
	case errors.Is(err, errBye):
		cl.stats.fail(name, "BYE", err)
		return err
	case err != nil && isTimeout(err):
		cl.stats.fail(name, "timeout", err)
		return err
	case err != nil:
		cl.stats.fail(name, "disconnect", err)
		return err
	case rep.status == "OK":
		cl.stats.ok(name, el)
		return nil
	default:
		cl.stats.ok(name, el) // answered: its latency counts, and it is an error
		e := &statusError{rep.status, rep.text}
		cl.stats.fail(name, rep.status, e)
		return e
	}
}

// open selects (or examines) a mailbox and resynchronises its flags, as
// a client does on opening a folder: UID FETCH 1:* (FLAGS).
func (cl *client) open(mailbox string, readOnly bool) error {
	name, verb := "SELECT", "SELECT "
	if readOnly {
		name, verb = "EXAMINE", "EXAMINE "
	}
	var rep reply
	if err := cl.timed(name, func() (r reply, err error) {
		rep, err = cl.c.command(verb + quote(mailbox))
		return rep, err
	}); err != nil {
		cl.mailbox = "" // a failed SELECT leaves none selected (RFC 3501 6.3.1): start over
		return err
	}
	cl.mailbox, cl.readOnly = mailbox, readOnly
	if n, ok := untaggedNumber(rep.untagged, "EXISTS"); ok && n < cl.base(mailbox) {
		cl.stats.fail(name, "incomplete", fmt.Errorf("%s %s: %d messages, expected at least %d", verb, mailbox, n, cl.base(mailbox)))
	}
	return cl.fetchFlags()
}

func (cl *client) fetchFlags() error {
	var rep reply
	err := cl.timed("FETCH FLAGS", func() (r reply, err error) {
		rep, err = cl.c.command("UID FETCH 1:* (UID FLAGS)")
		return rep, err
	})
	if err != nil {
		return err
	}
	base := cl.base(cl.mailbox)
	m := fetchUIDs(rep.untagged)
	uids := make([]uint32, 0, base)
	for s := 1; s <= base; s++ {
		u, ok := m[s]
		if !ok {
			cl.stats.fail("FETCH FLAGS", "incomplete", fmt.Errorf("%s: no UID for message %d", cl.mailbox, s))
			break
		}
		uids = append(uids, u)
	}
	if len(uids) > 0 {
		cl.uids[cl.mailbox] = uids
	}
	return nil
}

// span picks a range of up to n prefilled messages as "a:b".
func (cl *client) span(n int) (string, int) {
	base := cl.base(cl.mailbox)
	n = min(n, base)
	a := 1 + cl.r.IntN(base-n+1)
	return strconv.Itoa(a) + ":" + strconv.Itoa(a+n-1), n
}

// fetchRange runs a FETCH of a range and checks every message answered.
func (cl *client) fetchRange(name string, size int, items string) error {
	set, n := cl.span(size)
	var rep reply
	if err := cl.timed(name, func() (r reply, err error) {
		rep, err = cl.c.command("FETCH " + set + " " + items)
		return rep, err
	}); err != nil {
		return err
	}
	if got := countFetch(rep.untagged); got < n {
		cl.stats.fail(name, "incomplete", fmt.Errorf("%w: FETCH %s: %d of %d", errIncomplete, set, got, n))
	}
	return nil
}

func (cl *client) noop() error {
	return cl.timed("NOOP", func() (reply, error) { return cl.c.command("NOOP") })
}

func (cl *client) pickMailbox() string {
	if cl.r.IntN(4) == 0 {
		return archive
	}
	return "INBOX"
}

func (cl *client) selectOp() error  { return cl.open(cl.pickMailbox(), false) }
func (cl *client) examineOp() error { return cl.open(cl.pickMailbox(), true) }

func (cl *client) fetchEnvelope() error {
	return cl.fetchRange("FETCH ENVELOPE", 20+cl.r.IntN(31), "(UID RFC822.SIZE FLAGS INTERNALDATE ENVELOPE)")
}

func (cl *client) fetchBodystructure() error {
	return cl.fetchRange("FETCH BODYSTRUCTURE", 10+cl.r.IntN(21), "(UID BODYSTRUCTURE)")
}

func (cl *client) fetchHeaders() error {
	return cl.fetchRange("FETCH HEADER.FIELDS", 20+cl.r.IntN(31),
		"(UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Subject Date Message-ID References In-Reply-To Content-Type)])")
}

func (cl *client) fetchBody() error {
	set, _ := cl.span(1)
	var rep reply
	if err := cl.timed("FETCH BODY[]", func() (r reply, err error) {
		rep, err = cl.c.command("FETCH " + set + " (UID BODY.PEEK[])")
		return rep, err
	}); err != nil {
		return err
	}
	for _, r := range rep.untagged {
		if len(r.lits) > 0 && r.lits[0] > 0 {
			return nil
		}
	}
	cl.stats.fail("FETCH BODY[]", "incomplete", fmt.Errorf("%w: FETCH %s BODY[]: no literal", errIncomplete, set))
	return nil
}

// store sets or clears \Seen or \Flagged on one to three prefilled
// messages by UID, as a client does when a message is read or starred.
func (cl *client) store() error {
	if cl.readOnly {
		return cl.open(cl.mailbox, false)
	}
	uids := cl.uids[cl.mailbox]
	if len(uids) == 0 {
		return cl.fetchFlags()
	}
	i := cl.r.IntN(len(uids))
	set := strconv.FormatUint(uint64(uids[i]), 10)
	if j := i + cl.r.IntN(3); j > i && j < len(uids) {
		set += ":" + strconv.FormatUint(uint64(uids[j]), 10)
	}
	sign := "+"
	if cl.r.IntN(2) == 0 {
		sign = "-"
	}
	flag := `\Seen`
	if cl.r.IntN(4) == 0 {
		flag = `\Flagged`
	}
	return cl.timed("UID STORE", func() (reply, error) {
		return cl.c.command("UID STORE " + set + " " + sign + "FLAGS (" + flag + ")")
	})
}

func (cl *client) search(name, criteria string) error {
	return cl.timed(name, func() (reply, error) { return cl.c.command("UID SEARCH " + criteria) })
}

func (cl *client) searchUnseen() error { return cl.search("SEARCH UNSEEN", "UNSEEN") }
func (cl *client) searchFrom() error {
	return cl.search("SEARCH FROM", "FROM "+quote(fmt.Sprintf("sender%d@", cl.r.IntN(senderPool))))
}
func (cl *client) searchSubject() error {
	return cl.search("SEARCH SUBJECT", "SUBJECT "+quote(fmt.Sprintf("message %d ", cl.r.IntN(cl.base(cl.mailbox)))))
}
func (cl *client) searchText() error { return cl.search("SEARCH TEXT", "TEXT "+quote(needle)) }

// appendOp saves a small message (a draft) into the selected mailbox.
func (cl *client) appendOp() error {
	if len(cl.own[cl.mailbox]) >= ownLimit {
		return cl.expungeOp()
	}
	cl.seq++
	msg := draft(cl.user, cl.seq)
	var rep reply
	if err := cl.timed("APPEND", func() (r reply, err error) {
		rep, err = cl.c.appendMessage(cl.mailbox, `\Seen \Draft`, msg)
		return rep, err
	}); err != nil {
		return err
	}
	if u, ok := lastUID(respCode(rep.text, "APPENDUID")); ok {
		cl.own[cl.mailbox] = append(cl.own[cl.mailbox], u)
	}
	return nil
}

// copyOp copies one prefilled message to the other mailbox.
func (cl *client) copyOp() error {
	dst := archive
	if cl.mailbox == archive {
		dst = "INBOX"
	}
	if len(cl.own[dst]) >= ownLimit {
		return cl.open(dst, false) // go and clean up there
	}
	uids := cl.uids[cl.mailbox]
	if len(uids) == 0 {
		return cl.fetchFlags()
	}
	var rep reply
	if err := cl.timed("UID COPY", func() (r reply, err error) {
		rep, err = cl.c.command("UID COPY " + strconv.FormatUint(uint64(uids[cl.r.IntN(len(uids))]), 10) + " " + quote(dst))
		return rep, err
	}); err != nil {
		return err
	}
	if u, ok := lastUID(respCode(rep.text, "COPYUID")); ok {
		cl.own[dst] = append(cl.own[dst], u)
	}
	return nil
}

// lastUID reads the destination UID of an APPENDUID or COPYUID code
// (RFC 4315) for one message: its last word, a single number.
func lastUID(code []string) (uint32, bool) {
	if len(code) < 2 {
		return 0, false
	}
	u, err := strconv.ParseUint(code[len(code)-1], 10, 32)
	return uint32(u), err == nil
}

// expungeOp removes what this client put into the selected mailbox:
// UID STORE +FLAGS.SILENT (\Deleted), then UID EXPUNGE of those UIDs only
// (RFC 4315), so other sessions' messages stay.
func (cl *client) expungeOp() error {
	own := cl.own[cl.mailbox]
	if len(own) == 0 {
		return errSkip
	}
	if cl.readOnly {
		return cl.open(cl.mailbox, false)
	}
	parts := make([]string, len(own))
	for i, u := range own {
		parts[i] = strconv.FormatUint(uint64(u), 10)
	}
	set := strings.Join(parts, ",")
	if err := cl.timed("UID STORE", func() (reply, error) {
		return cl.c.command(`UID STORE ` + set + ` +FLAGS.SILENT (\Deleted)`)
	}); err != nil {
		return err
	}
	if err := cl.timed("UID EXPUNGE", func() (reply, error) { return cl.c.command("UID EXPUNGE " + set) }); err != nil {
		return err
	}
	cl.own[cl.mailbox] = nil
	return nil
}

// idleOp idles for about cfg.idle (half to one and a half times): IDLE
// is timed to the server's continuation request, DONE to the tagged OK.
func (cl *client) idleOp() error {
	hold := cl.cfg.idle/2 + time.Duration(cl.r.Int64N(int64(cl.cfg.idle)+1))
	start := time.Now()
	tag, rep, err := cl.c.idleStart()
	el := time.Since(start)
	if err != nil || rep.status != "+" {
		return cl.record("IDLE", el, rep, err)
	}
	cl.stats.ok("IDLE", el)
	time.Sleep(hold)
	return cl.timed("IDLE DONE", func() (reply, error) { return cl.c.idleDone(tag) })
}
