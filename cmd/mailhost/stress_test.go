package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"
)

// TestStressOneMailbox (issue 10): 8 SMTP delivery loops, 8 IMAP sessions
// doing random APPEND, STORE, COPY, MOVE and EXPUNGE on INBOX and Archive,
// and a POP3 session (RETR, DELE, QUIT) all work on one mailbox of a real
// `mailhost serve`. No error may reach a client (every SMTP reply 250, every
// IMAP command OK, every POP3 command +OK), `mailhost check` finds no
// difference afterwards, and every acknowledged message that no client
// removed is in the index (and on disk) exactly once.
//
// It runs 5 seconds in the normal suite; MAILHOST_STRESS_SECONDS=30 gives
// the 30 seconds of the acceptance run.
func TestStressOneMailbox(t *testing.T) {
	secs := 5
	if v := os.Getenv("MAILHOST_STRESS_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("MAILHOST_STRESS_SECONDS=%q: want a number of seconds", v)
		}
		secs = n
	}
	const addr = "stress@stress.test"
	e := newMailEnv(t, addr)
	e.start(t)
	l := newStressLog()
	l.indexed = func(folder string, uid uint32) bool {
		var n int
		if err := e.st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM messages m
			JOIN folders f ON f.id = m.folder_id JOIN mailboxes b ON b.id = f.mailbox_id
			WHERE b.address = $1 AND f.name = $2 AND m.uid = $3`, addr, folder, uid).Scan(&n); err != nil {
			l.fail("index lookup: %v", err)
		}
		return n > 0
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() { l.smtpLoop(e.smtp, addr, g, stop) })
		wg.Go(func() { l.imapLoop(e.imap, addr, g, stop) })
	}
	wg.Go(func() { l.pop3Loop(e.pop3, addr, stop) })
	time.AfterFunc(time.Duration(secs)*time.Second, func() { close(stop) })
	wg.Wait()
	e.stop(t)
	t.Logf("%d s: %v; legitimate refusals: %v", secs, l.ops, l.refused)
	for _, s := range l.errs {
		t.Error(s)
	}
	if n := len(l.errs); n > 0 {
		t.Errorf("%d errors reached the clients", n)
	}
	// The server hid nothing from the clients in its log either.
	for _, line := range strings.Split(e.srv.log.String(), "\n") {
		if strings.Contains(line, "level=ERROR") || strings.Contains(line, "rename message file") {
			t.Errorf("serve logged: %s", line)
		}
	}
	e.check(t)
	l.verify(t, e.index(t, addr))
	if t.Failed() {
		for _, line := range strings.Split(e.srv.log.String(), "\n") {
			if strings.Contains(line, "reconcile") || strings.Contains(line, "level=WARN") {
				t.Log(line)
			}
		}
	}
}

// stressLog is what the clients did and saw: every error, the refusals the
// protocols allow in a race with another client, and each message's
// history as far as the clients know it.
type stressLog struct {
	mu      sync.Mutex
	errs    []string
	refused map[string]int
	ops     map[string]int
	sent    map[string]bool   // Message-IDs sent (SMTP DATA or APPEND begun)
	acked   map[string]string // Message-ID -> the folder it was acknowledged into
	// Message-IDs that a client flagged \Deleted, DELEd (POP3), moved or
	// copied: recorded before the command, so their fate is open.
	deleted, moved, copied map[string]bool
	// history: what the clients did to each message, for the report of
	// a failure.
	history map[string][]string
	start   time.Time
	// indexed reports whether a folder of the mailbox has a message with
	// that UID.
	indexed func(folder string, uid uint32) bool
}

func newStressLog() *stressLog {
	return &stressLog{refused: map[string]int{}, ops: map[string]int{}, sent: map[string]bool{},
		acked: map[string]string{}, deleted: map[string]bool{}, moved: map[string]bool{}, copied: map[string]bool{},
		history: map[string][]string{}, start: time.Now()}
}

func (l *stressLog) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) < 50 {
		l.errs = append(l.errs, fmt.Sprintf(format, args...))
	} else if len(l.errs) == 50 {
		l.errs = append(l.errs, "(more errors left out)")
	}
}

func (l *stressLog) op(name string) {
	l.mu.Lock()
	l.ops[name]++
	l.mu.Unlock()
}

func (l *stressLog) refuse(what string) {
	l.mu.Lock()
	l.refused[what]++
	l.mu.Unlock()
}

// mark records ids in one of the history sets.
func (l *stressLog) mark(set map[string]bool, ids ...string) {
	l.mu.Lock()
	for _, id := range ids {
		set[id] = true
	}
	l.mu.Unlock()
}

// event adds a line to the history of messages ids.
func (l *stressLog) event(ids []string, format string, args ...any) {
	line := fmt.Sprintf("%7.3fs ", time.Since(l.start).Seconds()) + fmt.Sprintf(format, args...)
	l.mu.Lock()
	for _, id := range ids {
		l.history[id] = append(l.history[id], line)
	}
	l.mu.Unlock()
}

func (l *stressLog) ack(id, folder string) {
	l.mu.Lock()
	l.acked[id] = folder
	l.mu.Unlock()
}

func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// smtpLoop delivers one message after the other over one SMTP session.
func (l *stressLog) smtpLoop(smtpAddr, rcpt string, g int, stop <-chan struct{}) {
	c, err := smtp.Dial(smtpAddr)
	if err != nil {
		l.fail("smtp %d: dial: %v", g, err)
		return
	}
	defer c.Close()
	if err := c.Hello("stress.example"); err != nil {
		l.fail("smtp %d: EHLO: %v", g, err)
		return
	}
	for i := 0; !stopped(stop); i++ {
		id := fmt.Sprintf("smtp-%d-%d@stress", g, i)
		l.mark(l.sent, id)
		err := c.Mail("sender@remote.example", nil)
		if err == nil {
			err = c.Rcpt(rcpt, nil)
		}
		var w interface {
			Write([]byte) (int, error)
			Close() error
		}
		if err == nil {
			w, err = c.Data()
		}
		if err == nil {
			fmt.Fprintf(w, "Message-ID: <%s>\r\nSubject: %s\r\n\r\n%s\r\n", id, id, strings.Repeat("stress ", 50))
			err = w.Close()
		}
		if err != nil {
			l.fail("smtp %d: message %d: %v", g, i, err)
			return
		}
		l.ack(id, "INBOX")
		l.event([]string{id}, "smtp %d: 250", g)
		l.op("smtp")
	}
	if err := c.Quit(); err != nil {
		l.fail("smtp %d: QUIT: %v", g, err)
	}
}

var headerIDRE = regexp.MustCompile(`(?i)Message-ID:\s*<([^>]+)>`)

// imapSession is one IMAP client of the stress test and what it knows of
// its selected folder: UID -> Message-ID.
type imapSession struct {
	l      *stressLog
	c      *imapclient.Client
	g      int
	rng    *rand.Rand
	folder string
	known  map[imap.UID]string
	last   imap.UID
}

var stressFolders = []string{"INBOX", "Archive"}

// imapLoop runs random commands on INBOX and Archive until stop.
func (l *stressLog) imapLoop(imapAddr, user string, g int, stop <-chan struct{}) {
	c, err := imapclient.DialInsecure(imapAddr, nil)
	if err != nil {
		l.fail("imap %d: dial: %v", g, err)
		return
	}
	defer c.Close()
	if err := c.Login(user, mailPassword).Wait(); err != nil {
		l.fail("imap %d: LOGIN: %v", g, err)
		return
	}
	s := &imapSession{l: l, c: c, g: g, rng: rand.New(rand.NewPCG(uint64(g), uint64(time.Now().UnixNano())))}
	if !s.selectFolder(stressFolders[g%2]) {
		return
	}
	for i := 0; !stopped(stop); i++ {
		if !s.learn() || !s.step(i) {
			return
		}
	}
	if err := c.Logout().Wait(); err != nil {
		l.fail("imap %d: LOGOUT: %v", g, err)
	}
}

func (s *imapSession) failed(what string, err error) bool {
	s.l.fail("imap %d: %s in %s: %v", s.g, what, s.folder, err)
	return false
}

func (s *imapSession) other() string {
	if s.folder == stressFolders[0] {
		return stressFolders[1]
	}
	return stressFolders[0]
}

func (s *imapSession) selectFolder(name string) bool {
	if _, err := s.c.Select(name, nil).Wait(); err != nil {
		return s.failed("SELECT "+name, err)
	}
	s.folder, s.known, s.last = name, map[imap.UID]string{}, 0
	return true
}

// learn fetches the Message-IDs of the messages that arrived since the
// last look.
func (s *imapSession) learn() bool {
	section := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Message-ID"}, Peek: true}
	msgs, err := s.c.Fetch(imap.UIDSet{{Start: s.last + 1}}, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		return s.failed("UID FETCH", err)
	}
	for _, m := range msgs {
		if id := headerIDRE.FindSubmatch(m.FindBodySection(section)); id != nil && m.UID != 0 {
			s.known[m.UID] = string(id[1])
			s.last = max(s.last, m.UID)
		}
	}
	return true
}

// pick returns up to n random UIDs the session knows, as a set and one by
// one, and their Message-IDs.
func (s *imapSession) pick(n int) (imap.UIDSet, []imap.UID, []string) {
	uids := make([]imap.UID, 0, len(s.known))
	for u := range s.known {
		uids = append(uids, u)
	}
	slices.Sort(uids)
	var set imap.UIDSet
	var picked []imap.UID
	var ids []string
	for range min(n, len(uids)) {
		u := uids[s.rng.IntN(len(uids))]
		set.AddNum(u)
		picked = append(picked, u)
		ids = append(ids, s.known[u])
	}
	return set, picked, ids
}

// step runs one random command; false ends the session (after an error).
func (s *imapSession) step(i int) bool {
	c, l := s.c, s.l
	p := s.rng.IntN(100)
	set, picked, ids := s.pick(1 + s.rng.IntN(4))
	if len(ids) == 0 && p >= 5 && p < 95 {
		p = 10 // nothing known here yet: APPEND
	}
	switch {
	case p < 5:
		l.op("select")
		return s.selectFolder(s.other())
	case p < 20:
		folder := stressFolders[s.rng.IntN(2)]
		id := fmt.Sprintf("append-%d-%d@stress", s.g, i)
		l.mark(l.sent, id)
		msg := fmt.Sprintf("Message-ID: <%s>\r\nSubject: %s\r\n\r\nappended\r\n", id, id)
		cmd := c.Append(folder, int64(len(msg)), nil)
		if _, err := cmd.Write([]byte(msg)); err != nil {
			return s.failed("APPEND", err)
		}
		if err := cmd.Close(); err != nil {
			return s.failed("APPEND", err)
		}
		if _, err := cmd.Wait(); err != nil {
			return s.failed("APPEND to "+folder, err)
		}
		l.ack(id, folder)
		l.event([]string{id}, "imap %d: APPEND to %s OK", s.g, folder)
		l.op("append")
	case p < 45:
		flag := []imap.Flag{imap.FlagSeen, imap.FlagFlagged, imap.FlagAnswered, "$Stress"}[s.rng.IntN(4)]
		op := []imap.StoreFlagsOp{imap.StoreFlagsAdd, imap.StoreFlagsDel}[s.rng.IntN(2)]
		sf := &imap.StoreFlags{Op: op, Silent: s.rng.IntN(2) == 0, Flags: []imap.Flag{flag}}
		if err := c.Store(set, sf, nil).Close(); err != nil {
			return s.failed("UID STORE", err)
		}
		l.op("store")
	case p < 55:
		l.mark(l.deleted, ids...)
		l.event(ids, "imap %d: UID STORE %v +FLAGS \\Deleted in %s", s.g, set, s.folder)
		sf := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}
		if err := c.Store(set, sf, nil).Close(); err != nil {
			return s.failed("UID STORE +FLAGS \\Deleted", err)
		}
		l.op("delete")
	case p < 65:
		if err := c.Expunge().Close(); err != nil {
			return s.failed("EXPUNGE", err)
		}
		l.op("expunge")
	case p < 80:
		l.mark(l.copied, ids...)
		data, err := c.Copy(set, s.other()).Wait()
		l.event(ids, "imap %d: UID COPY %v from %s: %v %v", s.g, set, s.folder, data, err)
		if err != nil {
			return s.raced("UID COPY", set, picked, err)
		}
		l.op("copy")
	case p < 95:
		l.mark(l.moved, ids...)
		data, err := c.Move(set, s.other()).Wait()
		l.event(ids, "imap %d: UID MOVE %v from %s: %v %v", s.g, set, s.folder, data, err)
		if err != nil {
			return s.raced("UID MOVE", set, picked, err)
		}
		for _, u := range picked {
			delete(s.known, u)
		}
		l.op("move")
	default: // forget what was expunged meanwhile
		res, err := c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
		if err != nil {
			return s.failed("UID SEARCH ALL", err)
		}
		now := res.AllUIDs()
		for u := range s.known {
			if _, ok := slices.BinarySearch(now, u); !ok {
				delete(s.known, u)
			}
		}
		l.op("search")
	}
	return true
}

// raced accepts NO [EXPUNGEISSUED] for a COPY or MOVE of messages that
// another session expunged (or moved away) between this session's last
// look and the command (RFC 5530 3, RFC 2180 4.4: the server may refuse
// the whole command); anything else is an error. The refusal must be true:
// some message of the set is gone.
func (s *imapSession) raced(what string, set imap.UIDSet, picked []imap.UID, err error) bool {
	if !isIMAPCode(err, "EXPUNGEISSUED") {
		return s.failed(what, err)
	}
	res, serr := s.c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{set}}, nil).Wait()
	if serr != nil {
		return s.failed("UID SEARCH UID "+set.String(), serr)
	}
	if len(res.AllUIDs()) == len(slices.Compact(slices.Sorted(slices.Values(picked)))) {
		return s.failed(what+" "+set.String()+" (every message still there)", err)
	}
	s.l.refuse(what + " NO [EXPUNGEISSUED]")
	return true
}

// pop3Loop logs in, retrieves and deletes a few messages and QUITs, again
// and again until stop.
func (l *stressLog) pop3Loop(pop3Addr, user string, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(99, uint64(time.Now().UnixNano())))
	for !stopped(stop) {
		if !l.pop3Session(pop3Addr, user, rng) {
			return
		}
		l.op("pop3 session")
	}
}

func (l *stressLog) pop3Session(pop3Addr, user string, rng *rand.Rand) bool {
	p, err := dialPOP3(pop3Addr, user, mailPassword)
	if err != nil {
		l.fail("pop3: login: %v", err)
		return false
	}
	defer p.conn.Close()
	st, err := p.cmd("STAT")
	var n int
	if err == nil {
		_, err = fmt.Sscanf(st, "+OK %d", &n)
	}
	if err != nil {
		l.fail("pop3: STAT: %q %v", st, err)
		return false
	}
	for _, i := range rng.Perm(n)[:min(n, 1+rng.IntN(5))] {
		num := i + 1
		line, err := p.cmd("RETR " + strconv.Itoa(num))
		if err != nil && strings.Contains(line, "no longer exists") {
			// Expunged or moved away over IMAP since this session
			// began: POP3 sessions see the maildrop as it was at login
			// (RFC 1939 5), and the bytes are gone. True only if its
			// row is gone too.
			u, err := p.cmd("UIDL " + strconv.Itoa(num))
			var uv, uid uint32
			if err == nil {
				_, err = fmt.Sscanf(u, "+OK %d %d.%d", new(int), &uv, &uid)
			}
			if err != nil {
				l.fail("pop3: UIDL %d: %q %v", num, u, err)
				return false
			}
			if l.indexed("INBOX", uid) {
				l.fail("pop3: RETR %d: %q, yet INBOX UID %d is indexed", num, line, uid)
				return false
			}
			l.refuse("pop3 RETR of a message expunged over IMAP")
			continue
		}
		if err != nil {
			l.fail("pop3: RETR %d: %v", num, err)
			return false
		}
		body, err := p.multi()
		if err != nil {
			l.fail("pop3: RETR %d: %v", num, err)
			return false
		}
		id := headerIDRE.FindStringSubmatch(strings.Join(body, "\n"))
		if id == nil {
			l.fail("pop3: RETR %d: no Message-ID in %q", num, body)
			return false
		}
		l.mark(l.deleted, id[1])
		l.event(id[1:], "pop3: DELE %d", num)
		if _, err := p.cmd("DELE " + strconv.Itoa(num)); err != nil {
			l.fail("pop3: DELE %d: %v", num, err)
			return false
		}
		l.op("pop3 dele")
	}
	if _, err := p.cmd("QUIT"); err != nil {
		l.fail("pop3: QUIT: %v", err)
		return false
	}
	return true
}

// verify checks the index (and the files behind it) against the clients'
// history: an acknowledged message that no client flagged \Deleted, DELEd,
// moved or copied is exactly once in the folder it went into; one only
// moved is exactly once somewhere; one never copied is never there twice;
// nothing is there that was never sent.
func (l *stressLog) verify(t *testing.T, got map[string][]place) {
	t.Helper()
	bad := 0
	var shown []string
	report := func(id, format string, args ...any) {
		if bad++; bad <= 20 {
			t.Errorf(id+" "+format, args...)
			shown = append(shown, id)
		}
	}
	for _, id := range sortedKeys(l.acked) {
		ps, folder := got[id], l.acked[id]
		switch {
		case !l.copied[id] && len(ps) > 1:
			report(id, "(never copied) is there %d times: %v", len(ps), ps)
		case l.deleted[id]:
		case l.copied[id]:
			if len(ps) == 0 {
				report(id, "(copied, never deleted) is gone")
			}
		case l.moved[id]:
			if len(ps) != 1 {
				report(id, "(moved, never deleted) is there %d times: %v", len(ps), ps)
			}
		case len(ps) != 1 || ps[0].Folder != folder:
			report(id, "(acknowledged into %s, untouched) is at %v", folder, ps)
		}
	}
	for _, id := range sortedKeys(got) {
		if !l.sent[id] {
			report(id, "is there but was never sent")
		}
	}
	if bad > 20 {
		t.Errorf("... %d differences in all", bad)
	}
	for _, id := range shown {
		t.Logf("history of %s:\n\t%s", id, strings.Join(l.history[id], "\n\t"))
	}
	t.Logf("%d messages acknowledged, %d in the index; %d flagged \\Deleted or DELEd, %d moved, %d copied",
		len(l.acked), len(got), len(l.deleted), len(l.moved), len(l.copied))
}
