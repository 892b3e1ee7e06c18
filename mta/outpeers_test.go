package mta_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailhost/dnsres"
	"mailhost/dnstest"
)

// resolverOf is a dnsres.Resolver asking only z.
func resolverOf(t *testing.T, z *dnstest.Server) *dnsres.Resolver {
	t.Helper()
	r, err := dnsres.New(dnsres.Config{Servers: []string{z.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// sink is a go-smtp server on loopback that records what it accepts;
// rcptReply lets a test refuse chosen recipients.
type sink struct {
	mu        sync.Mutex
	msgs      []sinkMsg
	addr      string
	port      int
	rcptReply func(to string) error
	conns     map[*smtp.Conn]bool // connections seen (a session begins again after STARTTLS)
}

type sinkMsg struct {
	from string
	to   []string
	data string
	tls  bool
}

func newSink(t *testing.T, tlsConf *tls.Config) *sink {
	t.Helper()
	s := &sink{conns: map[*smtp.Conn]bool{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, isTLS := c.TLSConnectionState()
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		return &sinkSession{s: s, tls: isTLS}, nil
	}))
	srv.Domain = "sink.test"
	srv.TLSConfig = tlsConf
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	s.addr = ln.Addr().String()
	s.port = ln.Addr().(*net.TCPAddr).Port
	return s
}

// sessions returns how many connections the sink accepted.
func (s *sink) sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// onceEach checks that the sink got n distinct recipients, each once.
func (s *sink) onceEach(t *testing.T, n int) {
	t.Helper()
	seen := map[string]int{}
	for _, m := range s.messages() {
		for _, to := range m.to {
			seen[to]++
		}
	}
	if len(seen) != n {
		t.Fatalf("%d distinct recipients delivered, want %d", len(seen), n)
	}
	for r, c := range seen {
		if c != 1 {
			t.Errorf("%s delivered %d times", r, c)
		}
	}
}

func (s *sink) messages() []sinkMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sinkMsg(nil), s.msgs...)
}

type sinkSession struct {
	s    *sink
	tls  bool
	from string
	to   []string
}

func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error { ss.from = from; return nil }
func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	f := ss.s.rcptReply
	ss.s.mu.Unlock()
	if f != nil {
		if err := f(to); err != nil {
			return err
		}
	}
	ss.to = append(ss.to, to)
	return nil
}
func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, sinkMsg{from: ss.from, to: ss.to, data: string(b), tls: ss.tls})
	ss.s.mu.Unlock()
	return nil
}
func (ss *sinkSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *sinkSession) Logout() error { return nil }

// scripted is a misbehaving SMTP peer: replies per command (a missing
// entry is a 250), "drop" closes the connection, "tarpit" never answers,
// and STARTTLS can be offered but broken.
type scripted struct {
	addr, port string
	replies    map[string]string // GREETING EHLO MAIL RCPT DATA DOT STARTTLS
	brokenTLS  bool
	dropInData bool
	// mailsPerConn > 0: a MAIL beyond that many on one connection gets
	// 421 and a hang-up; closeAfterDot hangs up after the reply to the
	// data; afterDot follows that reply in the same write; a RCPT naming
	// refuseRcpt gets 550, one naming deferRcpt 450.
	mailsPerConn  int
	closeAfterDot bool
	afterDot      string
	refuseRcpt    string
	deferRcpt     string
	// pipelining offers PIPELINING (RFC 2920) and answers MAIL and RCPT
	// only once it has read a later command (DATA): a client waiting for
	// each reply in turn waits in vain. RCPT after a refused MAIL gets
	// 503, DATA with no recipient accepted 554, unless lax (354).
	pipelining bool
	lax        bool
	mu         sync.Mutex
	conns      int
	dots       int      // complete messages received
	events     []string // "open 1", "1 MAIL", "1 QUIT": in order
	reads      []string // "1 MAIL FROM:...": what each read of a connection returned
	bodies     []string // the data of each DATA, dot-stuffed as sent
}

// readLog records what each read of connection n returns.
type readLog struct {
	c net.Conn
	p *scripted
	n int
}

func (l readLog) Read(b []byte) (int, error) {
	k, err := l.c.Read(b)
	if k > 0 {
		l.p.mu.Lock()
		l.p.reads = append(l.p.reads, fmt.Sprintf("%d %s", l.n, b[:k]))
		l.p.mu.Unlock()
	}
	return k, err
}

// data returns the data of each DATA so far.
func (p *scripted) data() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.bodies...)
}

// readsOf returns what the reads of connection n returned, in order.
func (p *scripted) readsOf(n int) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, r := range p.reads {
		if c, b, _ := strings.Cut(r, " "); c == strconv.Itoa(n) {
			out = append(out, b)
		}
	}
	return out
}

func newScripted(t *testing.T, replies map[string]string) *scripted {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &scripted{replies: replies, addr: ln.Addr().String()}
	_, p.port, _ = net.SplitHostPort(p.addr)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns++
			n := p.conns
			p.events = append(p.events, fmt.Sprintf("open %d", n))
			p.mu.Unlock()
			go p.serve(c, n)
		}
	}()
	return p
}

func (p *scripted) count() (conns, dots int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns, p.dots
}

// log returns the events so far.
func (p *scripted) log() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.events...)
}

// verbs returns the commands connection n sent, space-separated.
func (p *scripted) verbs(n int) string {
	var out []string
	for _, ev := range p.log() {
		if c, v, _ := strings.Cut(ev, " "); c == strconv.Itoa(n) {
			out = append(out, v)
		}
	}
	return strings.Join(out, " ")
}

func (p *scripted) serve(c net.Conn, n int) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(readLog{c, p, n})
	w := bufio.NewWriter(c)
	defer w.Flush()
	p.mu.Lock()
	pipelining := p.pipelining
	p.mu.Unlock()
	took := func(cmd string) bool { // cmd's reply is the default 250
		rep := p.replies[cmd]
		return rep == "" || rep[0] == '2'
	}
	say := func(cmd, def string) bool {
		rep, ok := p.replies[cmd]
		if !ok {
			rep = def
		}
		switch rep {
		case "drop":
			return false
		case "tarpit":
			io.Copy(io.Discard, r) // never answer, until the client is gone
			return false
		}
		io.WriteString(w, rep+"\r\n")
		return rep[0] != '4' && rep[0] != '5' || cmd != "GREETING"
	}
	if !say("GREETING", "220 peer.test ESMTP") {
		return
	}
	mails, rcpts := 0, 0 // rcpts: accepted in this transaction
	mailOK := false
	verb := ""
	for {
		if !pipelining || r.Buffered() == 0 && verb != "MAIL" && verb != "RCPT" {
			w.Flush()
		}
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb = strings.ToUpper(strings.Fields(line + " x")[0])
		p.mu.Lock()
		p.events = append(p.events, fmt.Sprintf("%d %s", n, verb))
		p.mu.Unlock()
		switch verb {
		case "EHLO":
			ext := "250-peer.test\r\n250-8BITMIME\r\n"
			if pipelining {
				ext += "250-PIPELINING\r\n"
			}
			if p.brokenTLS {
				ext += "250-STARTTLS\r\n"
			}
			if rep, ok := p.replies["EHLO"]; ok {
				if !say("EHLO", "") {
					return
				}
				_ = rep
				continue
			}
			io.WriteString(w, ext+"250 SIZE 10240000\r\n")
		case "STARTTLS":
			io.WriteString(w, "220 go ahead\r\n")
			io.WriteString(w, "this is not TLS\r\n")
			return
		case "MAIL":
			rcpts = 0
			if mails++; p.mailsPerConn > 0 && mails > p.mailsPerConn {
				io.WriteString(w, "421 4.7.0 enough for one connection\r\n")
				return
			}
			if !say("MAIL", "250 ok") {
				return
			}
			mailOK = took("MAIL")
		case "RCPT":
			if !mailOK {
				io.WriteString(w, "503 5.5.1 need MAIL\r\n")
				continue
			}
			if p.refuseRcpt != "" && strings.Contains(line, p.refuseRcpt) {
				io.WriteString(w, "550 5.1.1 no such user\r\n")
				continue
			}
			if p.deferRcpt != "" && strings.Contains(line, p.deferRcpt) {
				io.WriteString(w, "450 4.2.1 try later\r\n")
				continue
			}
			if !say("RCPT", "250 ok") {
				return
			}
			if took("RCPT") {
				rcpts++
			}
		case "DATA":
			if rcpts == 0 && !p.lax {
				io.WriteString(w, "554 5.5.1 no valid recipients\r\n")
				continue
			}
			if !say("DATA", "354 go") {
				return
			}
			if p.replies["DATA"] != "" && p.replies["DATA"][0] != '3' {
				continue
			}
			body := ""
			for {
				w.Flush()
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if p.dropInData {
					return
				}
				if l == ".\r\n" {
					break
				}
				body += l
			}
			rep, ok := p.replies["DOT"]
			p.mu.Lock()
			if !ok || rep[0] == '2' {
				p.dots++
			}
			p.bodies = append(p.bodies, body)
			p.mu.Unlock()
			rcpts, mailOK = 0, false
			if !say("DOT", "250 ok queued"+p.afterDot) || p.closeAfterDot {
				return
			}
		case "QUIT":
			io.WriteString(w, "221 bye\r\n")
			return
		case "RSET", "NOOP":
			if verb == "RSET" {
				rcpts, mailOK = 0, false
			}
			io.WriteString(w, "250 ok\r\n")
		default:
			io.WriteString(w, "502 unknown\r\n")
		}
	}
}

var errRefused = errors.New("refused")
