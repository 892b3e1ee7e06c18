package web_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"mailhost/store"
)

// enqueue puts a message from sender to rcpts into the queue and returns
// its row and queue id.
func (e *env) enqueue(sender string, rcpts ...string) (int64, string) {
	e.t.Helper()
	m := store.QueuedMessage{QueueID: store.NewQueueID(), Sender: sender, Origin: "submission", AuthUser: sender,
		Body: []byte("From: <" + sender + ">\r\nTo: someone\r\nSubject: Quarterly report\r\n\r\nThe secret body text.\r\n")}
	for _, r := range rcpts {
		_, dom, _ := strings.Cut(r, "@")
		m.Recipients = append(m.Recipients, store.QueuedRecipient{Address: r, Domain: dom})
	}
	ids, err := e.st.Enqueue(context.Background(), m)
	if err != nil {
		e.t.Fatal(err)
	}
	return ids[0], m.QueueID
}

// exec runs SQL for a test's setup.
func (e *env) exec(sql string, args ...any) {
	e.t.Helper()
	if _, err := e.st.Pool().Exec(context.Background(), sql, args...); err != nil {
		e.t.Fatal(err)
	}
}

func TestQueuePages(t *testing.T) {
	e := newEnv(t)
	e.admin("root", true)
	c := e.client()
	c.login("root", pw, "/")

	c.get("/queue").must(t, 200).has(t, "<h1>Mail queue</h1>", "The mail queue is empty.", `href="/queue" aria-current="page">Queue</a>`)

	a, as := e.enqueue("alice@example.com", "bob@remote.example", "carol@other.example")
	b, bs := e.enqueue("", "dave@remote.example")
	// bob was tried and deferred with an error, carol got her copy.
	e.exec(`UPDATE queue_recipients SET state = 'deferred', attempts = 2, last_attempt_at = now(),
		next_attempt_at = now() + interval '1 hour', last_error = '451 4.7.1 <bob@remote.example>: greylisted'
		WHERE recipient = 'bob@remote.example'`)
	e.exec(`UPDATE queue_recipients SET state = 'delivered', attempts = 1 WHERE recipient = 'carol@other.example'`)
	e.exec(`UPDATE queue_recipients SET next_attempt_at = now() + interval '1 hour' WHERE recipient = 'dave@remote.example'`)

	// The list: like mailq, with every recipient's state and last error.
	c.get("/queue").must(t, 200).has(t, `<a href="/queue/`+as+`">`+as+`</a>`, "alice@example.com", "MAILER-DAEMON",
		"bob@remote.example", `<span class="badge st-deferred">deferred</span>`, "451 4.7.1 &lt;bob@remote.example&gt;: greylisted",
		"carol@other.example", `<span class="badge st-delivered">delivered</span>`, "dave@remote.example",
		"2 recipients waiting: 1 queued, 1 deferred, 0 on hold.")
	c.get("/queue?state=deferred").must(t, 200).has(t, "bob@remote.example").lacks(t, "dave@remote.example")
	c.get("/queue?domain=Other.Example").must(t, 200).has(t, "carol@other.example").lacks(t, "dave@remote.example")
	c.get("/queue?domain=nowhere.example").must(t, 200).has(t, "No queued message matches.")
	c.get("/queue?state=bogus").must(t, 422).fieldError(t, "state", "queued, deferred or hold")

	// The dashboard shows the queue's size.
	c.get("/").must(t, 200).has(t, "<h2 id=\"queue\">Mail queue</h2>", "Recipients waiting", `<a href="/queue?state=deferred">1</a>`)

	// Show: envelope, recipients, header; the body only on demand.
	c.get("/queue/"+as).must(t, 200).has(t, "<h1>Queued message "+as+"</h1>", "&lt;alice@example.com&gt;", "submission",
		"Subject: Quarterly report", "greylisted", "<td data-label=\"Attempts\">2</td>", `href="/queue/`+as+`?body=1"`).
		lacks(t, "The secret body text.")
	c.get("/queue/"+as+"?body=1").must(t, 200).has(t, "The secret body text.", "Subject: Quarterly report")
	// The row number of before migration 0019 still names the message.
	c.get("/queue/"+strconv.FormatInt(a, 10)).must(t, 200).has(t, "<h1>Queued message "+as+"</h1>")
	// The message's mail log lines are a link away.
	c.get("/queue/"+as).has(t, `href="/maillog?q=`+as+`"`)
	c.get("/queue/999999").must(t, 404)
	c.get("/queue/nonsense").must(t, 404)

	due := func(rcpt string) bool {
		return e.count(`SELECT count(*) FROM queue_recipients WHERE recipient = $1 AND next_attempt_at <= now()`, rcpt) == 1
	}
	hold := func(id int64) bool { return e.count(`SELECT count(*) FROM queue WHERE id = $1 AND hold`, id) == 1 }

	// Flush one message: its waiting recipients are due now, the others not.
	c.post("/queue/"+as+"/flush").redirects(t, "/queue/"+as+"?done=flushed")
	if !due("bob@remote.example") || due("dave@remote.example") {
		t.Fatal("flush of one message: wrong recipients due")
	}
	// Flush a domain, and everything.
	e.exec(`UPDATE queue_recipients SET next_attempt_at = now() + interval '1 hour' WHERE state IN ('queued', 'deferred')`)
	c.post("/queue/flush", "domain", "", "back", "/queue").must(t, 422)
	c.post("/queue/flush", "domain", "Remote.Example", "back", "/queue?state=deferred").redirects(t, "/queue?done=flushed&state=deferred")
	if !due("bob@remote.example") || !due("dave@remote.example") {
		t.Fatal("flush of remote.example left recipients waiting")
	}
	e.exec(`UPDATE queue_recipients SET next_attempt_at = now() + interval '1 hour' WHERE state IN ('queued', 'deferred')`)
	c.post("/queue/flush", "back", "//evil.example").redirects(t, "/queue?done=flushed")
	if !due("bob@remote.example") || !due("dave@remote.example") {
		t.Fatal("flush all left recipients waiting")
	}
	c.get("/queue?done=flushed").has(t, "Waiting recipients will be tried now.")

	// Hold and release.
	e.exec(`UPDATE queue_recipients SET next_attempt_at = now() + interval '1 hour' WHERE state IN ('queued', 'deferred')`)
	c.post("/queue/"+bs+"/hold", "back", "/queue").redirects(t, "/queue?done=held")
	if !hold(b) {
		t.Fatal("message not on hold")
	}
	c.get("/queue").has(t, `<span class="badge hold">on hold</span>`, `action="/queue/`+bs+`/release"`)
	c.get("/queue/"+bs).has(t, "on hold", `action="/queue/`+bs+`/release"`)
	c.post("/queue/"+bs+"/release").redirects(t, "/queue/"+bs+"?done=released")
	if hold(b) || !due("dave@remote.example") {
		t.Fatal("release: still held or not due now")
	}
	c.post("/queue/999999/hold").must(t, 404)

	// Delete: a confirmation that says what happens, then the rows are gone.
	c.get("/queue/"+as+"/delete").must(t, 200).has(t, "Delete queued message "+as+"?",
		"Message "+as+" from &lt;alice@example.com&gt; will be removed from the queue",
		"never be delivered to the recipients still waiting: bob@remote.example.",
		"No bounce or other notice is sent to the sender", "cannot be undone", `action="/queue/`+as+`/delete"`).
		lacks(t, "waiting: bob@remote.example, carol")
	c.post("/queue/"+as+"/delete").redirects(t, "/queue?done=deleted")
	if n := e.count(`SELECT count(*) FROM queue WHERE id = $1`, a) + e.count(`SELECT count(*) FROM queue_recipients WHERE queue_id = $1`, a); n != 0 {
		t.Fatalf("%d rows of the deleted message left", n)
	}
	c.get("/queue/"+as).must(t, 404)
	c.post("/queue/"+as+"/delete").must(t, 404)
	if n := e.count(`SELECT count(*) FROM queue WHERE id = $1`, b); n != 1 {
		t.Fatal("the other message went too")
	}
}

// A cross-origin POST to any queue action is refused and changes nothing.
func TestQueueCrossOrigin(t *testing.T) {
	e := newEnv(t)
	e.admin("root", true)
	c := e.client()
	c.login("root", pw, "/")
	id, ids := e.enqueue("alice@example.com", "bob@remote.example")
	e.exec(`UPDATE queue_recipients SET next_attempt_at = now() + interval '1 hour'`)
	c.hdr.Set("Origin", "http://evil.example")
	c.hdr.Set("Sec-Fetch-Site", "cross-site")
	for _, p := range []string{"/queue/flush", "/queue/" + ids + "/flush", "/queue/" + ids + "/hold", "/queue/" + ids + "/release", "/queue/" + ids + "/delete"} {
		c.post(p).must(t, 403).has(t, "sent from another site")
	}
	if n := e.count(`SELECT count(*) FROM queue q JOIN queue_recipients r ON r.queue_id = q.id
		WHERE q.id = $1 AND NOT q.hold AND r.next_attempt_at > now()`, id); n != 1 {
		t.Fatal("a cross-origin post changed the queue")
	}
}

// Domain admins and mailbox owners: 404 for every queue URL, nothing
// changes, and no Queue in their navigation or dashboard.
func TestQueueHiddenFromOthers(t *testing.T) {
	e := newEnv(t)
	e.domain("example.com")
	e.admin("dom", false, "example.com")
	e.mailbox("alice@example.com")
	id, ids := e.enqueue("alice@example.com", "bob@remote.example")
	e.exec(`UPDATE queue_recipients SET next_attempt_at = now() + interval '1 hour'`)
	dom, owner := e.client(), e.client()
	dom.login("dom", pw, "/")
	owner.login("alice@example.com", pw, "/me")
	dom.get("/").must(t, 200).lacks(t, `href="/queue"`, "Mail queue")
	owner.get("/me").must(t, 200).lacks(t, `href="/queue"`)
	for _, c := range []*client{dom, owner} {
		for _, p := range []string{"/queue", "/queue?state=deferred", "/queue/" + ids, "/queue/" + ids + "?body=1", "/queue/" + ids + "/delete", "/queue/999999"} {
			c.get(p).must(t, 404).lacks(t, "bob@remote.example")
		}
		for _, p := range []string{"/queue/flush", "/queue/" + ids + "/flush", "/queue/" + ids + "/hold", "/queue/" + ids + "/release", "/queue/" + ids + "/delete"} {
			c.post(p).must(t, 404)
		}
		c.post("/queue/flush", "domain", "remote.example").must(t, 404)
	}
	if n := e.count(`SELECT count(*) FROM queue q JOIN queue_recipients r ON r.queue_id = q.id
		WHERE q.id = $1 AND NOT q.hold AND r.next_attempt_at > now()`, id); n != 1 {
		t.Fatal("a domain admin or owner changed the queue")
	}
	// Anonymous: the login page, as everywhere.
	anon := e.client()
	res := anon.get("/queue")
	if res.code != 303 {
		t.Fatalf("anonymous /queue: %d", res.code)
	}
}

// The copies of one message (rows sharing its queue id) are one message
// on the panel: its page shows the others, and hold takes them all.
func TestQueueCopiesShownTogether(t *testing.T) {
	e := newEnv(t)
	e.admin("root", true)
	c := e.client()
	c.login("root", pw, "/")
	_, qid := e.enqueue("alice@example.com", "bob@remote.example")
	if _, err := e.st.Enqueue(context.Background(), store.QueuedMessage{QueueID: qid, Sender: "srs0=x@example.com",
		Origin: "forward", Body: []byte("Subject: x\r\n\r\nx\r\n"),
		Recipients: []store.QueuedRecipient{{Address: "cy@other.example", Domain: "other.example"}}}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(c.get("/queue").must(t, 200).body, `<a href="/queue/`+qid+`">`); n != 2 {
		t.Errorf("the list links %d rows to the message, want its 2 copies", n)
	}
	c.get("/queue/"+qid).must(t, 200).has(t, "<h2 id=\"copies\">Other copies</h2>", "&lt;srs0=x@example.com&gt;",
		"cy@other.example", "bob@remote.example")
	c.get("/queue/"+qid+"/delete").must(t, 200).has(t, "with its 2 copies of the mail",
		"never be delivered to the recipients still waiting: bob@remote.example, cy@other.example.")
	c.post("/queue/"+qid+"/hold").redirects(t, "/queue/"+qid+"?done=held")
	if n := e.count(`SELECT count(*) FROM queue WHERE queue_id = $1 AND hold`, qid); n != 2 {
		t.Fatalf("%d of the 2 copies on hold", n)
	}
}
