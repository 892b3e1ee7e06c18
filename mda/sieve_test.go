package mda_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailhost/maildir"
	"mailhost/mda"
	"mailhost/store"
	"mailhost/testdb"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

// sieveEnv is a database with alice@example.test (and her domain), an
// agent with the Sieve filter, and alice's target as the resolver gives it.
type sieveEnv struct {
	t      *testing.T
	st     *store.Store
	agent  *mda.Agent
	root   string
	alice  store.LocalTarget
	domain int64
}

func newSieveEnv(t *testing.T) *sieveEnv {
	t.Helper()
	st := testdb.Open(t)
	ctx := context.Background()
	if _, err := st.Pool().Exec(ctx, `
		INSERT INTO domains (name) VALUES ('example.test');
		INSERT INTO mailboxes (domain_id, local_part, address, password, maildir)
		SELECT id, 'alice', 'alice@example.test', 'x', 'example.test/alice/' FROM domains;`); err != nil {
		t.Fatal(err)
	}
	e := &sieveEnv{t: t, st: st, root: t.TempDir()}
	if err := st.Pool().QueryRow(ctx, `SELECT id, domain_id FROM mailboxes`).Scan(&e.alice.MailboxID, &e.domain); err != nil {
		t.Fatal(err)
	}
	e.alice.Address, e.alice.Domain, e.alice.Maildir, e.alice.Folder = "alice@example.test", "example.test", "example.test/alice/", "INBOX"
	e.alice.Sieve = true // as the resolver says once a script is active
	if _, err := maildir.Create(e.root, "example.test", "alice", maildir.Owner{}); err != nil {
		t.Fatal(err)
	}
	names, err := maildir.NewGenerator("mda.test")
	if err != nil {
		t.Fatal(err)
	}
	e.agent = &mda.Agent{Root: e.root, Names: names, Index: st,
		Filter: &mda.Filter{Store: st, Hostname: "mx.test", RedirectsPerDay: 2}}
	return e
}

func (e *sieveEnv) script(name, src string) {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.st.Read().PutSieveScript(ctx, e.alice.MailboxID, name, src, 0); err != nil {
		e.t.Fatal(err)
	}
	if err := e.st.Read().ActivateSieveScript(ctx, e.alice.MailboxID, name); err != nil {
		e.t.Fatal(err)
	}
}

func (e *sieveEnv) deliver(from, body string) mda.Result {
	e.t.Helper()
	return e.deliverID(from, body, "")
}

// deliverID is deliver of the message with queue id qid.
func (e *sieveEnv) deliverID(from, body, qid string) mda.Result {
	e.t.Helper()
	r := mda.Recipient{Target: e.alice, From: from, To: "alice+list@example.test",
		Header: []byte("Return-Path: <" + from + ">\r\nDelivered-To: alice@example.test\r\n")}
	res, err := e.agent.Deliver(context.Background(), mda.Message{Body: []byte(body), QueueID: qid}, []mda.Recipient{r}, nil, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

// rows lists "folder subdir flags keywords" of alice's messages.
func (e *sieveEnv) rows() []string {
	e.t.Helper()
	rows, err := e.st.Pool().Query(context.Background(), `
		SELECT f.name || ' ' || m.subdir || ' ' || array_to_string(m.flags, ',') || ' ' || array_to_string(m.keywords, ',')
		FROM messages m JOIN folders f ON f.id = m.folder_id ORDER BY m.id`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, strings.TrimSpace(s))
	}
	return out
}

func (e *sieveEnv) queued() []string {
	e.t.Helper()
	rows, err := e.st.Pool().Query(context.Background(), `
		SELECT q.origin || ' ' || q.sender || ' -> ' || r.recipient FROM queue q JOIN queue_recipients r ON r.queue_id = q.id ORDER BY r.id`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

const listMail = "From: news@lists.example\r\nTo: alice@example.test\r\nList-Id: <news.lists.example>\r\nSubject: weekly\r\n\r\nhello\r\n"

func TestSieveFileintoFlagsAndCopy(t *testing.T) {
	e := newSieveEnv(t)
	e.script("main", `require ["fileinto", "imap4flags", "mailbox", "copy", "envelope", "subaddress"];
		if header :contains "list-id" "news" {
			addflag ["\\Seen", "$List"];
			fileinto :create "Lists/News";
		}
		if envelope :detail "to" "list" { fileinto :copy :flags "\\Flagged" "Nowhere"; }`)
	res := e.deliver("news@lists.example", listMail)
	if len(res.Outcomes) != 2 {
		t.Fatalf("outcomes: %+v", res.Outcomes)
	}
	// Nowhere does not exist and has no :create: the copy goes to INBOX.
	want := []string{`Lists/News cur \Seen $List`, `INBOX cur \Flagged`}
	if got := e.rows(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("rows: %q, want %q", got, want)
	}
	files, _ := filepath.Glob(filepath.Join(e.root, "example.test/alice/.Lists.News/cur/*:2,S"))
	if len(files) != 1 {
		t.Fatalf("file in .Lists.News/cur with S: %v", files)
	}
}

// keep and fileinto "INBOX" (in either case) store one copy, as do two
// fileinto of one folder.
func TestSieveOneCopyPerFolder(t *testing.T) {
	e := newSieveEnv(t)
	e.script("main", `require ["fileinto", "copy", "mailbox"]; keep; fileinto "inbox"; fileinto :copy :create "Work"; fileinto :create "Work";`)
	e.deliver("news@lists.example", listMail)
	want := []string{"INBOX new", "Work new"}
	if got := e.rows(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("rows: %q, want %q", got, want)
	}
}

func TestSieveDiscardRejectRedirect(t *testing.T) {
	e := newSieveEnv(t)
	e.script("main", `require ["reject"]; if header :is "subject" "spam" { discard; stop; }
		if header :is "subject" "no" { reject "not wanted"; stop; }
		redirect "out1@far.example"; redirect "out2@far.example"; redirect "out3@far.example";`)
	if res := e.deliver("a@far.example", "Subject: spam\r\n\r\nx\r\n"); len(res.Outcomes) != 0 {
		t.Fatalf("discard delivered: %+v", res.Outcomes)
	}
	e.deliver("b@far.example", "Subject: no\r\n\r\nx\r\n")
	e.deliver("", "Subject: no\r\n\r\nnull sender\r\n") // never answered
	// The daily limit is 2: the third redirect is refused, the message kept.
	e.deliver("c@far.example", "Subject: fwd\r\n\r\nx\r\n")
	want := []string{"bounce  -> b@far.example", "forward c@far.example -> out1@far.example", "forward c@far.example -> out2@far.example"}
	if got := e.queued(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("queued: %q\nwant %q", got, want)
	}
	if got := e.rows(); len(got) != 1 || got[0] != "INBOX new" {
		t.Fatalf("rows: %q", got)
	}
	se, err := e.st.Read().LastSieveError(context.Background(), e.alice.MailboxID)
	if err != nil || !strings.Contains(se.Message, "redirects today") {
		t.Fatalf("recorded error: %+v %v", se, err)
	}
	var body string
	if err := e.st.Pool().QueryRow(context.Background(), `SELECT convert_from(body, 'UTF8') FROM queue WHERE origin = 'bounce'`).Scan(&body); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"not wanted", "Status: 5.7.1", "Final-Recipient: rfc822; alice@example.test"} {
		if !strings.Contains(body, s) {
			t.Errorf("reject notice lacks %q:\n%s", s, body)
		}
	}
}

// A redirected message that comes back is kept, not sent round again.
func TestSieveRedirectLoop(t *testing.T) {
	e := newSieveEnv(t)
	e.script("main", `redirect "alice@example.test";`)
	e.deliver("x@far.example", "Delivered-To: alice@example.test\r\nSubject: again\r\n\r\nx\r\n")
	if q := e.queued(); len(q) != 0 {
		t.Fatalf("queued: %q", q)
	}
	if got := e.rows(); len(got) != 1 {
		t.Fatalf("rows: %q", got)
	}
}

func TestSieveRuntimeFailureDeliversToInbox(t *testing.T) {
	e := newSieveEnv(t)
	e.script("main", `require ["include", "fileinto"]; fileinto "Elsewhere"; include "missing";`)
	e.deliver("x@far.example", "Subject: hi\r\n\r\nx\r\n")
	if got := e.rows(); len(got) != 1 || got[0] != "INBOX new" {
		t.Fatalf("rows: %q", got)
	}
	se, err := e.st.Read().LastSieveError(context.Background(), e.alice.MailboxID)
	if err != nil || !strings.Contains(se.Message, `no script "missing"`) {
		t.Fatalf("recorded error: %+v %v", se, err)
	}
}

func TestSieveVacationOncePerSender(t *testing.T) {
	e := newSieveEnv(t)
	e.script("main", `require "vacation"; vacation :days 3 :subject "Away" "I am away.";`)
	mail := "From: bob@far.example\r\nTo: alice@example.test\r\nSubject: hi\r\nMessage-ID: <1@far>\r\n\r\nx\r\n"
	e.deliver("bob@far.example", mail)
	e.deliver("bob@far.example", mail)
	e.deliver("list@far.example", listMail)                                             // a list: no reply
	e.deliver("carol@far.example", strings.Replace(mail, "alice@", "someone-else@", 1)) // not addressed to her
	if got := e.queued(); len(got) != 1 || got[0] != "vacation  -> bob@far.example" {
		t.Fatalf("queued: %q", got)
	}
	if got := e.rows(); len(got) != 4 {
		t.Fatalf("rows: %q (vacation keeps)", got)
	}
}

// The vacation setting runs as a generated script after the domain's
// before scripts and before the owner's; the after scripts come last.
func TestSieveSettingsAndDomainScripts(t *testing.T) {
	e := newSieveEnv(t)
	ctx := context.Background()
	if _, err := e.st.Pool().Exec(ctx, `INSERT INTO vacations (mailbox_id, subject, body) VALUES ($1, 'Out', 'Back Monday')`, e.alice.MailboxID); err != nil {
		t.Fatal(err)
	}
	e.alice.Vacation = true
	tx := e.st.Read()
	if _, err := tx.PutDomainSieveScript(ctx, e.domain, "spam", store.SieveBefore,
		`require ["fileinto", "spamtest", "relational", "comparator-i;ascii-numeric"];
		 if spamtest :value "ge" :comparator "i;ascii-numeric" "6" { fileinto "Junk"; stop; }`, true); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.PutDomainSieveScript(ctx, e.domain, "archive", store.SieveAfter,
		`require ["fileinto", "copy"]; fileinto :copy "Archive";`, true); err != nil {
		t.Fatal(err)
	}
	e.script("main", `require ["fileinto", "mailbox"]; if header :contains "subject" "report" { fileinto :create "Reports"; }`)
	mail := "From: bob@far.example\r\nTo: alice@example.test\r\nSubject: report\r\n\r\nx\r\n"
	e.deliver("bob@far.example", mail)
	e.deliver("spammer@far.example", "From: spammer@far.example\r\nTo: alice@example.test\r\nSubject: report\r\nX-Spam-Status: Yes, score=9.0 required=5.0\r\n\r\nx\r\n")
	want := []string{"Reports new", "Archive new", "Junk new"}
	if got := e.rows(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("rows: %q, want %q", got, want)
	}
	// The vacation setting answered bob, not the spammer: the domain's
	// before script stopped before it.
	if got := e.queued(); len(got) != 1 || got[0] != "vacation  -> bob@far.example" {
		t.Fatalf("queued: %q", got)
	}
}

// A redirect is a copy of the message: it keeps the message's queue id.
// A reject's notice is a message of its own with a fresh id.
func TestSieveQueueIDs(t *testing.T) {
	e := newSieveEnv(t)
	e.script("main", `require ["reject"]; if header :is "subject" "no" { reject "not wanted"; stop; }
		redirect "out1@far.example";`)
	redirected, rejected := store.NewQueueID(), store.NewQueueID()
	e.deliverID("c@far.example", "Subject: fwd\r\n\r\nx\r\n", redirected)
	e.deliverID("b@far.example", "Subject: no\r\n\r\nx\r\n", rejected)
	ids := map[string]string{}
	rows, err := e.st.Pool().Query(context.Background(), `SELECT origin, queue_id FROM queue`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var origin, qid string
		rows.Scan(&origin, &qid)
		ids[origin] = qid
	}
	if rows.Err() != nil || len(ids) != 2 || ids["forward"] != redirected || ids["bounce"] == rejected || len(ids["bounce"]) != store.QueueIDLen {
		t.Fatalf("queue ids by origin %v: the redirect's must be %s, the notice's its own", ids, redirected)
	}
}
