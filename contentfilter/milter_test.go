package contentfilter

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/d--j/go-milter"

	"mailhost/store"
)

// peer is a Go milter for the fault and modification cases: eom decides
// the message; what the milter saw is recorded.
type peer struct {
	milter.NoOpMilter
	eom   func(m milter.Modifier) (*milter.Response, error)
	delay time.Duration // before answering the connection

	mu      sync.Mutex
	macros  map[string]string
	headers []string
	body    []byte
	rcpts   []string
}

func (p *peer) Connect(host, family string, port uint16, addr string, m milter.Modifier) (*milter.Response, error) {
	time.Sleep(p.delay)
	return milter.RespContinue, nil
}

func (p *peer) RcptTo(rcpt, _ string, m milter.Modifier) (*milter.Response, error) {
	p.mu.Lock()
	p.rcpts = append(p.rcpts, rcpt)
	p.macros = map[string]string{}
	for _, name := range []string{"j", "i", "{daemon_name}", "{client_addr}", "{client_name}", "{auth_authen}",
		"{mail_addr}", "{rcpt_addr}", "{tls_version}"} {
		p.macros[name] = m.Get(name)
	}
	p.mu.Unlock()
	return milter.RespContinue, nil
}

func (p *peer) Header(name, value string, m milter.Modifier) (*milter.Response, error) {
	p.mu.Lock()
	p.headers = append(p.headers, name+": "+value)
	p.mu.Unlock()
	return milter.RespContinue, nil
}

func (p *peer) BodyChunk(chunk []byte, m milter.Modifier) (*milter.Response, error) {
	p.mu.Lock()
	p.body = append(p.body, chunk...)
	p.mu.Unlock()
	return milter.RespContinue, nil
}

func (p *peer) EndOfMessage(m milter.Modifier) (*milter.Response, error) {
	if p.eom == nil {
		return milter.RespAccept, nil
	}
	return p.eom(m)
}

// startPeer serves p on a loopback port and returns the Milter for it.
func startPeer(t *testing.T, p *peer) *Milter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := milter.NewServer(milter.WithMilter(func() milter.Milter { return p }),
		milter.WithActions(milter.OptAddHeader|milter.OptChangeBody|milter.OptAddRcpt|milter.OptRemoveRcpt|
			milter.OptChangeHeader|milter.OptQuarantine|milter.OptChangeFrom))
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &Milter{Name: "peer", Network: "tcp", Address: ln.Addr().String(), Timeout: 2 * time.Second}
}

type fakePolicies map[string]store.ContentPolicy

func (f fakePolicies) ContentPolicies(_ context.Context, domains []string) (map[string]store.ContentPolicy, error) {
	out := map[string]store.ContentPolicy{}
	for _, d := range domains {
		if p, ok := f[d]; ok {
			p.Custom, p.Domain = true, d
			out[d] = p
		} else {
			out[d] = store.DefaultContentPolicy(d)
		}
	}
	return out, nil
}

func testEnvelope() Envelope {
	return Envelope{Listener: "smtp", QueueID: "Q123", ClientIP: netip.MustParseAddr("192.0.2.7"), Helo: "client.example",
		AuthUser: "carol@example.test", From: "carol@example.org",
		Rcpts: []Rcpt{{Addr: "bob@example.test", Domain: "example.test"}}}
}

const testMsg = "Received: from client.example\r\n\tby mx.example.test\r\nFrom: carol@example.org\r\nX-Old: one\r\nX-Old: two\r\nSubject: hi\r\n\r\nhello\r\n"

func runStage(t *testing.T, cfg Config, pols fakePolicies, env Envelope) Verdict {
	t.Helper()
	cfg.Hostname = "mx.example.test"
	s := New(cfg, pols, slog.New(slog.NewTextHandler(io.Discard, nil)))
	v, err := s.Run(context.Background(), env, []byte(testMsg))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestMilterModifications: every change a milter can make is applied,
// and the macros rspamd, clamav-milter and opendkim read are sent.
func TestMilterModifications(t *testing.T) {
	p := &peer{eom: func(m milter.Modifier) (*milter.Response, error) {
		m.AddHeader("X-Added", "at the end")
		m.InsertHeader(0, "X-Top", "first")
		m.ChangeHeader(2, "X-Old", "second changed")
		m.ChangeHeader(1, "Subject", "")
		m.ChangeHeader(1, "X-Absent", "added by a change")
		m.ReplaceBody(strings.NewReader("new body\nline two\n"))
		m.AddRecipient("<added@example.net>", "")
		m.DeleteRecipient("<bob@example.test>")
		m.ChangeFrom("<bounces@example.org>", "")
		return milter.RespAccept, nil
	}}
	v := runStage(t, Config{Milters: []*Milter{startPeer(t, p)}}, nil, testEnvelope())
	if v.Verb != "" || !v.Changed {
		t.Fatalf("verb %q changed %v", v.Verb, v.Changed)
	}
	wantHdr := "X-Top: first\r\nReceived: from client.example\r\n\tby mx.example.test\r\nFrom: carol@example.org\r\nX-Old: one\r\nX-Old: second changed\r\nX-Added: at the end\r\nX-Absent: added by a change\r\n\r\n"
	if string(v.Header) != wantHdr {
		t.Errorf("header:\n%q\nwant\n%q", v.Header, wantHdr)
	}
	if string(v.Body) != "new body\r\nline two\r\n" {
		t.Errorf("body %q", v.Body)
	}
	if strings.Join(v.AddRcpts, ",") != "added@example.net" || strings.Join(v.DelRcpts, ",") != "bob@example.test" ||
		!v.ChangeFrom || v.From != "bounces@example.org" {
		t.Errorf("envelope changes: add %v del %v from %q", v.AddRcpts, v.DelRcpts, v.From)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	want := map[string]string{"j": "mx.example.test", "i": "Q123", "{daemon_name}": "smtp", "{client_addr}": "192.0.2.7",
		"{auth_authen}": "carol@example.test", "{mail_addr}": "carol@example.org", "{rcpt_addr}": "bob@example.test"}
	for k, w := range want {
		if p.macros[k] != w {
			t.Errorf("macro %s = %q, want %q", k, p.macros[k], w)
		}
	}
	if len(p.headers) != 5 || p.headers[0] != "Received: from client.example\n\tby mx.example.test" ||
		p.headers[4] != "Subject: hi" || string(p.body) != "hello\r\n" {
		t.Errorf("milter saw headers %q body %q", p.headers, p.body)
	}
}

// TestMilterVerdicts: reject (with and without a reply), tempfail,
// discard and quarantine.
func TestMilterVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		resp   func(m milter.Modifier) (*milter.Response, error)
		verb   Verb
		reply  Reply
		reason string
	}{
		{"reject with code", func(milter.Modifier) (*milter.Response, error) {
			return milter.RejectWithCodeAndReason(554, "5.7.1 Spam message rejected")
		}, Reject, Reply{554, [3]int{5, 7, 1}, "Spam message rejected"}, "milter peer"},
		{"reject", func(milter.Modifier) (*milter.Response, error) { return milter.RespReject, nil },
			Reject, Reply{550, [3]int{5, 7, 1}, "Message content rejected"}, "milter peer"},
		{"tempfail", func(milter.Modifier) (*milter.Response, error) { return milter.RespTempFail, nil },
			Tempfail, Reply{451, [3]int{4, 7, 1}, "Message content rejected for now, try again later"}, "milter peer"},
		{"temporary code", func(milter.Modifier) (*milter.Response, error) {
			return milter.RejectWithCodeAndReason(451, "4.7.1 Try again later")
		}, Tempfail, Reply{451, [3]int{4, 7, 1}, "Try again later"}, "milter peer"},
		{"discard", func(milter.Modifier) (*milter.Response, error) { return milter.RespDiscard, nil },
			Discard, Reply{}, "milter peer"},
		{"quarantine", func(m milter.Modifier) (*milter.Response, error) {
			m.Quarantine("suspicious")
			return milter.RespAccept, nil
		}, Hold, Reply{}, "milter peer quarantine: suspicious"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := runStage(t, Config{Milters: []*Milter{startPeer(t, &peer{eom: tc.resp})}}, nil, testEnvelope())
			if v.Verb != tc.verb || v.Reply != tc.reply || v.Reason != tc.reason {
				t.Fatalf("got %q %+v %q, want %q %+v %q", v.Verb, v.Reply, v.Reason, tc.verb, tc.reply, tc.reason)
			}
		})
	}
}

// TestMilterFaults: a milter that is down or too slow refuses the message
// for now by default, or lets it through when its default is accept.
func TestMilterFaults(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	for _, tc := range []struct {
		name string
		m    func(t *testing.T) *Milter
	}{
		{"refused", func(t *testing.T) *Milter { return &Milter{Name: "peer", Network: "tcp", Address: closed} }},
		{"timeout", func(t *testing.T) *Milter {
			m := startPeer(t, &peer{delay: time.Second})
			m.Timeout = 200 * time.Millisecond
			return m
		}},
	} {
		t.Run(tc.name+" tempfail", func(t *testing.T) {
			v := runStage(t, Config{Milters: []*Milter{tc.m(t)}}, nil, testEnvelope())
			if v.Verb != Tempfail || v.Reply.Code != 451 || v.Reply.Enhanced != [3]int{4, 7, 1} {
				t.Fatalf("got %q %+v, want 451 4.7.1", v.Verb, v.Reply)
			}
		})
		t.Run(tc.name+" accept", func(t *testing.T) {
			m := tc.m(t)
			m.Accept = true
			v := runStage(t, Config{Milters: []*Milter{m}}, nil, testEnvelope())
			if v.Verb != "" || len(v.Warnings) != 1 {
				t.Fatalf("got %q warnings %q, want accepted with a warning", v.Verb, v.Warnings)
			}
		})
	}
}

// TestMiltersInOrder: the second milter sees the first one's changes.
func TestMiltersInOrder(t *testing.T) {
	first := &peer{eom: func(m milter.Modifier) (*milter.Response, error) {
		m.AddHeader("X-First", "yes")
		return milter.RespAccept, nil
	}}
	second := &peer{}
	runStage(t, Config{Milters: []*Milter{startPeer(t, first), startPeer(t, second)}}, nil, testEnvelope())
	second.mu.Lock()
	defer second.mu.Unlock()
	if last := second.headers[len(second.headers)-1]; last != "X-First: yes" {
		t.Fatalf("second milter's last header %q, want the first's", last)
	}
}

// TestSpamAndVirusPolicies: the scanners' fields decide per recipient
// domain: junk, reject above a score, off; a virus refused.
func TestSpamAndVirusPolicies(t *testing.T) {
	addFields := func(fields ...string) *peer {
		return &peer{eom: func(m milter.Modifier) (*milter.Response, error) {
			for _, f := range fields {
				name, value, _ := strings.Cut(f, ": ")
				m.AddHeader(name, value)
			}
			return milter.RespAccept, nil
		}}
	}
	pols := fakePolicies{
		"strict.test": {SpamPolicy: "reject", JunkScore: 5, RejectScore: 10, VirusPolicy: "reject"},
		"off.test":    {SpamPolicy: "off", JunkScore: 5, RejectScore: 10, VirusPolicy: "hold"},
	}
	env := testEnvelope()
	env.Rcpts = []Rcpt{{"a@strict.test", "strict.test"}, {"b@off.test", "off.test"}, {"c@default.test", "default.test"}}
	for _, tc := range []struct {
		name  string
		p     *peer
		verb  Verb
		drop  string
		junk  string
		field string
	}{
		{"flag", addFields("X-Spam: Yes"), "", "FFF", "TFT", "X-Mailhost-Filter: mx.example.test; spam=yes; junk"},
		{"score", addFields("X-Spamd-Result: default: False [12.50 / 15.00]"), "", "TFF", "FFT",
			"X-Mailhost-Filter: mx.example.test; spam=no score=12.50; junk"},
		{"low score", addFields("X-Rspamd-Score: 2.1"), "", "FFF", "FFF", "X-Mailhost-Filter: mx.example.test; spam=no score=2.10"},
		{"virus", addFields("X-Virus-Status: Infected (Eicar-Signature)"), Hold, "TFT", "FFF",
			"X-Mailhost-Filter: mx.example.test; virus=Eicar-Signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := runStage(t, Config{Milters: []*Milter{startPeer(t, tc.p)}}, pols, env)
			if v.Verb != tc.verb || bits(v.Drop) != tc.drop || bits(v.Junk) != tc.junk || v.Field != tc.field {
				t.Fatalf("got %q drop %s junk %s field %q, want %q %s %s %q", v.Verb, bits(v.Drop), bits(v.Junk), v.Field,
					tc.verb, tc.drop, tc.junk, tc.field)
			}
		})
	}
	env.Rcpts = env.Rcpts[:1]
	v := runStage(t, Config{Milters: []*Milter{startPeer(t, addFields("X-Virus-Status: Infected (Eicar-Signature)"))}}, pols, env)
	if v.Verb != Reject || v.Reply != (Reply{554, [3]int{5, 7, 1}, "Message rejected: virus found (Eicar-Signature)"}) {
		t.Fatalf("virus to one strict recipient: %q %+v", v.Verb, v.Reply)
	}
	v = runStage(t, Config{Milters: []*Milter{startPeer(t, addFields("X-Spam-Score: 11"))}}, pols, env)
	if v.Verb != Reject || v.Reply != (Reply{554, [3]int{5, 7, 1}, "Message rejected as spam"}) {
		t.Fatalf("spam to one strict recipient: %q %+v", v.Verb, v.Reply)
	}
}

func bits(bs []bool) string {
	var b strings.Builder
	for _, x := range bs {
		if x {
			b.WriteByte('T')
		} else {
			b.WriteByte('F')
		}
	}
	return b.String()
}

// TestDomainRules: a domain's own rules refuse the message for its
// recipients only; the others still get it.
func TestDomainRules(t *testing.T) {
	pols := fakePolicies{"strict.test": {SpamPolicy: "junk", VirusPolicy: "reject",
		Rules: []store.FilterRule{{ID: 1, Kind: "header", Rule: "/^Subject: hi/ REJECT 5.7.1 not here"},
			{ID: 2, Kind: "header", Rule: "/^Subject:/ REDIRECT x@example.org"}}}}
	env := testEnvelope()
	env.Rcpts = []Rcpt{{"a@strict.test", "strict.test"}, {"b@other.test", "other.test"}}
	v := runStage(t, Config{Checks: true, Attachments: true}, pols, env)
	if v.Verb != "" || bits(v.Drop) != "TF" || v.Redirect != "" {
		t.Fatalf("got %q drop %s redirect %q, want the strict recipient dropped", v.Verb, bits(v.Drop), v.Redirect)
	}
	env.Rcpts = env.Rcpts[:1]
	v = runStage(t, Config{Checks: true, Attachments: true}, pols, env)
	if v.Verb != Reject || v.Reply != (Reply{550, [3]int{5, 7, 1}, "not here"}) {
		t.Fatalf("got %q %+v, want 550 5.7.1 not here", v.Verb, v.Reply)
	}
}
