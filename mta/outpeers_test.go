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
	// refuseRcpt gets 550.
	mailsPerConn  int
	closeAfterDot bool
	afterDot      string
	refuseRcpt    string
	mu            sync.Mutex
	conns         int
	dots          int      // complete messages received
	events        []string // "open 1", "1 MAIL", "1 QUIT": in order
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
	r := bufio.NewReader(c)
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
		io.WriteString(c, rep+"\r\n")
		return rep[0] != '4' && rep[0] != '5' || cmd != "GREETING"
	}
	if !say("GREETING", "220 peer.test ESMTP") {
		return
	}
	mails := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		p.mu.Lock()
		p.events = append(p.events, fmt.Sprintf("%d %s", n, verb))
		p.mu.Unlock()
		switch verb {
		case "EHLO":
			ext := "250-peer.test\r\n250-8BITMIME\r\n"
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
			io.WriteString(c, ext+"250 SIZE 10240000\r\n")
		case "STARTTLS":
			io.WriteString(c, "220 go ahead\r\n")
			io.WriteString(c, "this is not TLS\r\n")
			return
		case "MAIL":
			if mails++; p.mailsPerConn > 0 && mails > p.mailsPerConn {
				io.WriteString(c, "421 4.7.0 enough for one connection\r\n")
				return
			}
			if !say("MAIL", "250 ok") {
				return
			}
		case "RCPT":
			if p.refuseRcpt != "" && strings.Contains(line, p.refuseRcpt) {
				io.WriteString(c, "550 5.1.1 no such user\r\n")
				continue
			}
			if !say("RCPT", "250 ok") {
				return
			}
		case "DATA":
			if !say("DATA", "354 go") {
				return
			}
			if p.replies["DATA"] != "" && p.replies["DATA"][0] != '3' {
				continue
			}
			for {
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
			}
			rep, ok := p.replies["DOT"]
			if !ok || rep[0] == '2' {
				p.mu.Lock()
				p.dots++
				p.mu.Unlock()
			}
			if !say("DOT", "250 ok queued"+p.afterDot) || p.closeAfterDot {
				return
			}
		case "QUIT":
			io.WriteString(c, "221 bye\r\n")
			return
		case "RSET", "NOOP":
			io.WriteString(c, "250 ok\r\n")
		default:
			io.WriteString(c, "502 unknown\r\n")
		}
	}
}

var errRefused = errors.New("refused")
