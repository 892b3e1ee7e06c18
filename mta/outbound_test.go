package mta_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailhost/dnstest"
	"mailhost/maildir"
	"mailhost/mda"
	"mailhost/mta"
	"mailhost/store"
)

const outMsg = "From: alice@example.test\r\nTo: x@remote.example\r\nSubject: out\r\nMessage-ID: <out1@example.test>\r\n\r\n.leading dot\r\nBody.\r\n"

// startOutbound runs queue workers of node id on e's database until the
// test ends; DNS answers come from z, MX hosts are contacted on port.
func (e *env) startOutbound(z *dnstest.Server, port int, id string, tune ...func(*mta.OutboundConfig)) *mta.Outbound {
	e.t.Helper()
	o, _ := e.runOutbound(z, port, id, tune...)
	return o
}

// runOutbound is startOutbound that also returns stop, which ends the
// workers and waits until their deliveries in progress have finished.
func (e *env) runOutbound(z *dnstest.Server, port int, id string, tune ...func(*mta.OutboundConfig)) (_ *mta.Outbound, stop func()) {
	e.t.Helper()
	cfg := mta.OutboundConfig{Hostname: "mx.test", NodeID: id, Retry: []time.Duration{time.Hour},
		Lease: time.Minute, Poll: 50 * time.Millisecond, DNS: resolverOf(e.t, z), Port: port,
		ConnectTimeout: 2 * time.Second, CommandTimeout: time.Second, DataTimeout: 2 * time.Second}
	for _, f := range tune {
		f(&cfg)
	}
	var w io.Writer = e.logs
	if testing.Verbose() {
		w = io.MultiWriter(e.logs, os.Stderr)
	}
	o, err := mta.NewOutbound(cfg, e.st, slog.New(slog.NewJSONHandler(w, nil)), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	names, _ := maildir.NewGenerator("mx.test")
	o.SetLocal(e.st, &mda.Agent{Root: e.root, Names: names, Index: &mda.GroupIndex{Store: e.st}}, "+")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { o.Serve(ctx); close(done) }()
	stop = func() { cancel(); <-done }
	e.t.Cleanup(stop)
	return o, stop
}

func (e *env) enqueue(sender string, rcpts ...string) int64 {
	e.t.Helper()
	m := store.QueuedMessage{Sender: sender, Origin: "submission", Body: []byte(outMsg)}
	for _, r := range rcpts {
		_, d, _ := strings.Cut(r, "@")
		m.Recipients = append(m.Recipients, store.QueuedRecipient{Address: r, Domain: d})
	}
	ids, err := e.st.Enqueue(context.Background(), m)
	if err != nil {
		e.t.Fatal(err)
	}
	return ids[0]
}

type rcptRow struct {
	state     string
	attempts  int
	lastError string
}

// rcpts returns the queue rows of message id (none once it is done).
func (e *env) rcpts(id int64) map[string]rcptRow {
	e.t.Helper()
	rows, err := e.st.Pool().Query(context.Background(),
		`SELECT recipient, state, attempts, last_error FROM queue_recipients WHERE queue_id = $1`, id)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]rcptRow{}
	for rows.Next() {
		var a string
		var r rcptRow
		rows.Scan(&a, &r.state, &r.attempts, &r.lastError)
		out[a] = r
	}
	return out
}

func (e *env) queueLen() int {
	var n int
	e.scalar(&n, `SELECT count(*) FROM queue`)
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// outEnv: a database with alice@example.test, a DNS zone where
// remote.example has its MX on 127.0.0.1, and a go-smtp sink there.
func outEnv(t *testing.T) (*env, *dnstest.Server, *sink) {
	e := newEnv(t)
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)
	z := dnstest.Start(t)
	z.Add(t, "remote.example. 60 IN MX 10 mx.remote.example.")
	z.Add(t, "mx.remote.example. 60 IN A 127.0.0.1")
	return e, z, newSink(t, testTLS(t))
}

func TestOutboundDeliversByMXOneConnection(t *testing.T) {
	e, z, s := outEnv(t)
	id := e.enqueue("alice@example.test", "x@remote.example", "y@remote.example")
	e.startOutbound(z, s.port, "node-a")
	waitFor(t, "the message to leave the queue", func() bool { return e.queueLen() == 0 })
	msgs := s.messages()
	if len(msgs) != 1 || len(msgs[0].to) != 2 || msgs[0].from != "alice@example.test" {
		t.Fatalf("sink got %+v, want one transaction with both recipients", msgs)
	}
	if !msgs[0].tls {
		t.Errorf("STARTTLS offered but not used")
	}
	if msgs[0].data != outMsg {
		t.Errorf("body changed in transit:\n%q\nwant\n%q", msgs[0].data, outMsg)
	}
	if n := len(e.logs.lines("delivered")); n != 2 {
		t.Errorf("%d delivered log lines, want 2", n)
	}
	_ = id
}

func TestOutboundPermanentAndTemporaryPerRecipient(t *testing.T) {
	e, z, s := outEnv(t)
	s.rcptReply = func(to string) error {
		switch {
		case strings.HasPrefix(to, "gone@"):
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		case strings.HasPrefix(to, "busy@"):
			return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"}
		}
		return nil
	}
	id := e.enqueue("alice@example.test", "ok@remote.example", "gone@remote.example", "busy@remote.example")
	e.startOutbound(z, s.port, "node-a")
	waitFor(t, "one recipient left", func() bool { r := e.rcpts(id); return r["busy@remote.example"].attempts == 1 })
	r := e.rcpts(id)
	if r["gone@remote.example"].state != "bounced" || r["ok@remote.example"].state != "delivered" ||
		r["busy@remote.example"].state != "deferred" {
		t.Fatalf("states %+v", r)
	}
	// The bounce reached alice (local) with the failed recipient only.
	waitFor(t, "the bounce", func() bool { return len(e.files("alice@example.test", "INBOX")) == 1 })
	b := e.read(e.files("alice@example.test", "INBOX")[0])
	for _, want := range []string{"Final-Recipient: rfc822; gone@remote.example", "Status: 5.1.1",
		"Diagnostic-Code: smtp; 550 5.1.1 no such user", "Content-Type: multipart/report; report-type=delivery-status",
		"Subject: out", "Return-Path: <>"} {
		if !strings.Contains(b, want) {
			t.Errorf("bounce lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(b, "busy@remote.example") {
		t.Errorf("bounce names the deferred recipient")
	}
}

func TestOutboundDNSOutcomes(t *testing.T) {
	e, z, s := outEnv(t)
	z.Add(t, "nullmx.example. 60 IN MX 0 .")
	z.FailName("broken.example.")
	z.Add(t, "nomx.example. 60 IN A 127.0.0.1") // implicit MX
	ids := map[string]int64{}
	for _, d := range []string{"nullmx.example", "nxdomain.example", "broken.example", "nomx.example"} {
		ids[d] = e.enqueue("alice@example.test", "u@"+d)
	}
	e.startOutbound(z, s.port, "node-a")
	waitFor(t, "every attempt", func() bool {
		return e.rcpts(ids["broken.example"])["u@broken.example"].attempts == 1 && e.queueLen() == 1
	})
	if r := e.rcpts(ids["broken.example"])["u@broken.example"]; r.state != "deferred" {
		t.Errorf("SERVFAIL: %+v, want deferred", r)
	}
	if len(s.messages()) != 1 {
		t.Errorf("implicit MX: sink got %d messages", len(s.messages()))
	}
	waitFor(t, "two bounces", func() bool { return len(e.files("alice@example.test", "INBOX")) == 2 })
	all := ""
	for _, f := range e.files("alice@example.test", "INBOX") {
		all += e.read(f)
	}
	for _, want := range []string{"Status: 5.1.10", "null MX", "Status: 5.1.2", "Host or domain name not found"} {
		if !strings.Contains(all, want) {
			t.Errorf("bounces lack %q", want)
		}
	}
}

func TestOutboundNeverBouncesNullSender(t *testing.T) {
	e, z, s := outEnv(t)
	s.rcptReply = func(string) error { return &smtp.SMTPError{Code: 550, Message: "no"} }
	e.enqueue("", "x@remote.example")
	e.startOutbound(z, s.port, "node-a")
	// The message leaves the queue in the transaction that would queue a
	// bounce: once it is gone, a bounce would be queued or delivered.
	waitFor(t, "the message to leave the queue", func() bool { return e.queueLen() == 0 })
	if n := e.queueLen(); n != 0 || len(e.files("alice@example.test", "INBOX")) != 0 {
		t.Fatalf("a bounce of a bounce exists")
	}
}

func TestOutboundExpiryBouncesAndDelayWarning(t *testing.T) {
	e, z, _ := outEnv(t)
	p := newScripted(t, map[string]string{"RCPT": "450 4.7.1 try later"})
	id := e.enqueue("alice@example.test", "x@remote.example")
	e.exec(`UPDATE queue SET arrival_at = now() - interval '5 hours', expires_at = now() + interval '1 day'`)
	port := 0
	fmt.Sscan(p.port, &port)
	e.startOutbound(z, port, "node-a", func(c *mta.OutboundConfig) { c.DelayWarning = 4 * time.Hour })
	waitFor(t, "the delay warning", func() bool { return len(e.files("alice@example.test", "INBOX")) == 1 })
	w := e.read(e.files("alice@example.test", "INBOX")[0])
	if !strings.Contains(w, "Action: delayed") || !strings.Contains(w, "Subject: Delayed Mail") {
		t.Fatalf("delay warning:\n%s", w)
	}
	// Older than the lifetime: the next attempt's failure bounces.
	e.exec(`UPDATE queue SET arrival_at = now() - interval '6 days'`)
	e.exec(`UPDATE queue_recipients SET next_attempt_at = now() WHERE queue_id = $1`, id)
	waitFor(t, "the expiry bounce", func() bool { return len(e.files("alice@example.test", "INBOX")) == 2 })
	// The bounce was queued in the transaction that removed the expired
	// message. The bounce's own queue entry goes only after its delivery
	// (the file seen above) is recorded: wait for that, do not expect it.
	if r := e.rcpts(id); len(r) != 0 {
		t.Fatalf("expired message still queued: %+v", r)
	}
	waitFor(t, "the bounce to leave the queue", func() bool { return e.queueLen() == 0 })
}

// Faults of the remote side: each ends deferred (retry later) or bounced,
// never lost, never a storm of deliveries.
func TestOutboundFaults(t *testing.T) {
	for _, tc := range []struct {
		name    string
		replies map[string]string
		tune    func(*scripted)
		policy  string
		want    string // deferred, bounced, delivered
	}{
		{"greeting 421", map[string]string{"GREETING": "421 busy"}, nil, "", "deferred"},
		{"greeting 554", map[string]string{"GREETING": "554 go away"}, nil, "", "deferred"}, // next MX; none: retry
		{"EHLO 421", map[string]string{"EHLO": "421 bye"}, nil, "", "deferred"},
		{"MAIL 451", map[string]string{"MAIL": "451 4.3.0 later"}, nil, "", "deferred"},
		{"MAIL 553", map[string]string{"MAIL": "553 5.7.1 sender refused"}, nil, "", "bounced"},
		{"RCPT 550", map[string]string{"RCPT": "550 5.1.1 unknown"}, nil, "", "bounced"},
		{"DATA 451", map[string]string{"DATA": "451 later"}, nil, "", "deferred"},
		{"DATA 554", map[string]string{"DATA": "554 no"}, nil, "", "bounced"},
		{"end of DATA 452", map[string]string{"DOT": "452 4.3.1 full"}, nil, "", "deferred"},
		{"end of DATA 552", map[string]string{"DOT": "552 5.3.4 too big"}, nil, "", "bounced"},
		{"tarpit greeting", map[string]string{"GREETING": "tarpit"}, nil, "", "deferred"},
		{"tarpit after DATA", map[string]string{"DOT": "tarpit"}, nil, "", "deferred"},
		{"drop at RCPT", map[string]string{"RCPT": "drop"}, nil, "", "deferred"},
		{"drop mid-DATA", nil, func(p *scripted) { p.dropInData = true }, "", "deferred"},
		{"broken TLS, may", nil, func(p *scripted) { p.brokenTLS = true }, "may", "delivered"},
		{"broken TLS, encrypt", nil, func(p *scripted) { p.brokenTLS = true }, "encrypt", "deferred"},
		{"no TLS, encrypt", nil, nil, "encrypt", "deferred"},
	} {
		for _, pipe := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, pipelining %v", tc.name, pipe), func(t *testing.T) {
				e, z, _ := outEnv(t)
				p := newScripted(t, tc.replies).offerPipelining(pipe)
				if tc.tune != nil {
					tc.tune(p)
				}
				id := e.enqueue("alice@example.test", "x@remote.example")
				port := 0
				fmt.Sscan(p.port, &port)
				e.startOutbound(z, port, "node-a", func(c *mta.OutboundConfig) { c.TLSPolicy = tc.policy })
				waitFor(t, "an attempt", func() bool {
					r, ok := e.rcpts(id)["x@remote.example"]
					return !ok || r.attempts == 1
				})
				r, ok := e.rcpts(id)["x@remote.example"]
				got := r.state
				if !ok {
					got = "delivered"
					if len(e.logs.lines("bounced")) > 0 {
						got = "bounced"
					}
				}
				if got != tc.want {
					t.Fatalf("got %s (%+v), want %s", got, r, tc.want)
				}
				_, dots := p.count()
				if tc.want == "delivered" && dots != 1 || tc.want != "delivered" && dots != 0 {
					t.Errorf("peer received %d messages", dots)
				}
				if tc.want == "bounced" {
					waitFor(t, "the bounce", func() bool { return len(e.files("alice@example.test", "INBOX")) == 1 })
				}
			})
		}
	}
}

// A worker that dies mid-delivery leaves its lease; after the lease
// runs out another worker delivers the message: at least once, never lost.
func TestOutboundDeadWorkersLeaseExpires(t *testing.T) {
	e, z, s := outEnv(t)
	id := e.enqueue("alice@example.test", "x@remote.example")
	jobs, err := e.st.ClaimQueue(context.Background(), "dead-node", store.QueueClaim{Lease: 300 * time.Millisecond, Messages: 1, PerMessage: 10})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	e.startOutbound(z, s.port, "node-b")
	time.Sleep(100 * time.Millisecond)
	if len(s.messages()) != 0 {
		t.Fatal("delivered while the lease was held")
	}
	waitFor(t, "delivery after the lease", func() bool { return e.queueLen() == 0 })
	if n := len(s.messages()); n != 1 {
		t.Fatalf("sink got %d messages", n)
	}
	// The dead worker's late result (and its bounce) is refused.
	_, err = e.st.FinishQueue(context.Background(), "dead-node", store.QueueFinish{Row: id,
		Results: []store.QueueResult{{ID: jobs[0].Recipients[0].ID, State: "bounced"}},
		Notices: []store.QueuedMessage{{Origin: "bounce", Body: []byte("x"),
			Recipients: []store.QueuedRecipient{{Address: "alice@example.test", Domain: "example.test"}}}}})
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("late result: %v, want ErrLeaseLost", err)
	}
	if e.queueLen() != 0 {
		t.Fatal("the late bounce was queued")
	}
}

// Two workers on one database: every message delivered exactly once.
func TestOutboundTwoWorkersShareTheQueue(t *testing.T) {
	e, z, s := outEnv(t)
	const n = 60
	for i := 0; i < n; i++ {
		e.enqueue("alice@example.test", fmt.Sprintf("u%d@remote.example", i))
	}
	e.startOutbound(z, s.port, "node-a", func(c *mta.OutboundConfig) { c.Workers = 4 })
	e.startOutbound(z, s.port, "node-b", func(c *mta.OutboundConfig) { c.Workers = 4 })
	waitFor(t, "the queue to drain", func() bool { return e.queueLen() == 0 })
	s.onceEach(t, n)
}

var _ = tls.VersionTLS12

// A domain that requires TLS is deferred by a server without STARTTLS;
// another domain on the same server is delivered in clear (may).
func TestOutboundPerDomainTLS(t *testing.T) {
	e, z, _ := outEnv(t)
	z.Add(t, "other.example. 60 IN MX 10 mx.remote.example.")
	p := newScripted(t, nil)
	port := 0
	fmt.Sscan(p.port, &port)
	strict := e.enqueue("alice@example.test", "x@remote.example")
	e.enqueue("alice@example.test", "y@other.example")
	e.startOutbound(z, port, "node-a", func(c *mta.OutboundConfig) {
		c.TLSDomains = map[string]string{"remote.example": "encrypt"}
	})
	waitFor(t, "both attempts", func() bool { return e.queueLen() == 1 && e.rcpts(strict)["x@remote.example"].attempts == 1 })
	if r := e.rcpts(strict)["x@remote.example"]; r.state != "deferred" || !strings.Contains(r.lastError, "TLS is required") {
		t.Fatalf("strict domain: %+v", r)
	}
	if _, dots := p.count(); dots != 1 {
		t.Fatalf("peer got %d messages, want the other domain's", dots)
	}
}
