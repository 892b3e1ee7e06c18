package mta_test

import (
	"fmt"
	"strings"
	"testing"
)

// offerPipelining makes p offer PIPELINING, from its next connection.
func (p *scripted) offerPipelining(on bool) *scripted {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pipelining = on
	return p
}

// verbsOf is the verbs of the command lines of one read.
func verbsOf(chunk string) string {
	var v []string
	for _, l := range strings.SplitAfter(chunk, "\r\n") {
		if f := strings.Fields(l); len(f) > 0 {
			v = append(v, f[0])
		}
	}
	return strings.Join(v, " ")
}

// outcomes is the logged outcome of each recipient of alice's messages
// (not of the notices to her): "delivered 2.0.0",
// "bounced 5.1.1 550 5.1.1 no such user", ...
func outcomes(e *env) map[string]string {
	out := map[string]string{}
	for _, msg := range []string{"delivered", "deferred", "bounced"} {
		for _, l := range e.logs.lines(msg) {
			if l["from"] == "" {
				continue // a notice to alice
			}
			o := fmt.Sprintf("%s %s", msg, l["status"])
			if r, ok := l["reason"]; ok {
				o += fmt.Sprintf(" %s", r)
			}
			out[l["to"].(string)] = o
		}
	}
	return out
}

// With PIPELINING offered, MAIL, the four RCPTs and DATA arrive in one
// read (the peer answers none of them before it has read DATA), then
// the message with its final dot in another. The refused recipients get
// their own replies' outcomes; the others are delivered.
func TestOutboundPipelinesEnvelope(t *testing.T) {
	e, z, _ := outEnv(t)
	p := newScripted(t, nil).offerPipelining(true)
	p.refuseRcpt, p.deferRcpt = "gone@", "busy@"
	e.startOutbound(z, 0, "node-a", relayTo(p))
	e.enqueue("alice@example.test", "ok@remote.example", "gone@remote.example", "busy@remote.example", "ok2@remote.example")
	waitFor(t, "four outcomes", func() bool { return len(outcomes(e)) == 4 })
	want := map[string]string{
		"ok@remote.example":   "delivered 2.0.0",
		"ok2@remote.example":  "delivered 2.0.0",
		"gone@remote.example": "bounced 5.1.1 550 5.1.1 no such user",
		"busy@remote.example": "deferred 4.2.1 450 4.2.1 try later",
	}
	if got := outcomes(e); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("outcomes %v\nwant %v", got, want)
	}
	reads := p.readsOf(1)
	if len(reads) < 3 {
		t.Fatalf("reads %q", reads)
	}
	if v := verbsOf(reads[1]); v != "MAIL RCPT RCPT RCPT RCPT DATA" {
		t.Errorf("second read %q (verbs %q), want the whole envelope and DATA", reads[1], v)
	}
	if !strings.HasPrefix(reads[2], "From: alice@example.test\r\n") || !strings.HasSuffix(reads[2], "\r\nBody.\r\n.\r\n") {
		t.Errorf("third read %q, want the whole message and its dot", reads[2])
	}
	if d := p.data(); len(d) != 1 || d[0] != strings.Replace(outMsg, "\r\n.leading", "\r\n..leading", 1) {
		t.Errorf("peer got messages %q", d)
	}
}

// Every recipient refused: the pipelined DATA is refused too, no message
// goes out, RSET ends the transaction and the next message takes the
// connection.
func TestOutboundPipelinedAllRefused(t *testing.T) {
	e, z, _ := outEnv(t)
	p := newScripted(t, nil).offerPipelining(true)
	p.refuseRcpt = "gone"
	e.startOutbound(z, 0, "node-a", relayTo(p))
	e.send("gone1@remote.example", "ok@remote.example")
	if got := p.verbs(1); got != "EHLO MAIL RCPT DATA RSET MAIL RCPT DATA" {
		t.Fatalf("commands %q", got)
	}
	if conns, dots := p.count(); conns != 1 || dots != 1 || len(p.data()) != 1 {
		t.Fatalf("peer saw %d connections, %d messages (%d data); want 1, 1, 1", conns, dots, len(p.data()))
	}
	if got := outcomes(e)["gone1@remote.example"]; got != "bounced 5.1.1 550 5.1.1 no such user" {
		t.Errorf("refused recipient: %q", got)
	}
}

// A server that answers the pipelined DATA with 354 although it refused
// every recipient gets the lone dot: no message, each recipient's
// outcome is its RCPT reply's, and the reply to the dot ended the
// transaction (no RSET): the connection carries the next message.
func TestOutboundPipelined354WithoutRecipients(t *testing.T) {
	e, z, _ := outEnv(t)
	p := newScripted(t, nil).offerPipelining(true)
	p.refuseRcpt, p.deferRcpt, p.lax = "gone@", "busy@", true
	e.startOutbound(z, 0, "node-a", relayTo(p))
	e.enqueue("alice@example.test", "gone@remote.example", "busy@remote.example")
	waitFor(t, "two outcomes", func() bool { return len(outcomes(e)) == 2 })
	e.enqueue("alice@example.test", "ok@remote.example")
	waitFor(t, "three outcomes", func() bool { return len(outcomes(e)) == 3 })
	if got := p.verbs(1); got != "EHLO MAIL RCPT RCPT DATA MAIL RCPT DATA" {
		t.Fatalf("commands %q", got)
	}
	if d := p.data(); len(d) != 2 || d[0] != "" {
		t.Fatalf("peer got data %q, want nothing, then the next message", d)
	}
	want := map[string]string{
		"gone@remote.example": "bounced 5.1.1 550 5.1.1 no such user",
		"busy@remote.example": "deferred 4.2.1 450 4.2.1 try later",
		"ok@remote.example":   "delivered 2.0.0",
	}
	if got := outcomes(e); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("outcomes %v\nwant %v", got, want)
	}
}

// Without PIPELINING offered the client waits for each reply: every
// read of the peer holds one command.
func TestOutboundLockStepWithoutPipelining(t *testing.T) {
	e, z, _ := outEnv(t)
	p := newScripted(t, nil)
	p.refuseRcpt = "gone@"
	e.startOutbound(z, 0, "node-a", relayTo(p))
	e.enqueue("alice@example.test", "ok@remote.example", "gone@remote.example", "ok2@remote.example")
	waitFor(t, "three outcomes", func() bool { return len(outcomes(e)) == 3 })
	var verbs []string
	for _, r := range p.readsOf(1) {
		if strings.HasPrefix(r, "From:") {
			continue // the message
		}
		if strings.Count(r, "\r\n") != 1 {
			t.Errorf("read of several commands: %q", r)
		}
		verbs = append(verbs, verbsOf(r))
	}
	if got := strings.Join(verbs, " "); got != "EHLO MAIL RCPT RCPT RCPT DATA" {
		t.Errorf("commands %q", got)
	}
}
