// Package dnstest is a DNS server on loopback for tests: it answers from
// records given in zone-file form, over UDP and TCP on one port, and can
// be told to fail (SERVFAIL, REFUSED, truncation) for every name or for
// chosen names, and to mark its answers authenticated (the AD bit a
// validating resolver sets, RFC 4035 3.2.3) for DANE.
package dnstest

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
)

// Mode is how the server answers every query.
type Mode int

const (
	Answer   Mode = iota // from its records; unknown names NXDOMAIN
	ServFail             // SERVFAIL to everything
	Refused              // REFUSED to everything
	Truncate             // over UDP an empty truncated answer, over TCP the records
)

// Server is a DNS server on 127.0.0.1. Its methods are safe to call while
// it serves.
type Server struct {
	// Addr is "127.0.0.1:port", the same port for UDP and TCP.
	Addr string

	mu            sync.Mutex
	mode          Mode
	authenticated bool
	records       map[string][]dns.RR // "name. TYPE"
	servfail      map[string]bool     // "name."
	udp, tcp      atomic.Int32
}

// Start starts a server holding rrs (zone-file lines such as
// "mx.example. 60 IN A 127.0.0.1"); it stops when the test ends.
func Start(t testing.TB, rrs ...string) *Server {
	t.Helper()
	s := &Server{records: map[string][]dns.RR{}, servfail: map[string]bool{}}
	for _, rr := range rrs {
		s.Add(t, rr)
	}
	pc, ln := listen(t)
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: s}, {Listener: ln, Handler: s}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		t.Cleanup(func() { srv.Shutdown() })
	}
	s.Addr = pc.LocalAddr().String()
	return s
}

// listen opens a UDP socket and a TCP listener on the same loopback port.
func listen(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	for try := 0; ; try++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		pc.Close()
		if try == 20 {
			t.Fatal(err)
		}
	}
}

// Add adds one record in zone-file form.
func (s *Server) Add(t testing.TB, rr string) {
	t.Helper()
	r, err := dns.NewRR(rr)
	if err != nil || r == nil {
		t.Fatalf("dnstest: record %q: %v", rr, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(r.Header().Name, r.Header().Rrtype)
	s.records[k] = append(s.records[k], r)
}

// Remove drops every record of name and type ("TXT", "TLSA", ...).
func (s *Server) Remove(name, rrtype string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.records, key(dns.Fqdn(name), dns.StringToType[rrtype]))
}

// SetMode sets how the server answers every query.
func (s *Server) SetMode(m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

// FailName makes queries for name (any type) answer SERVFAIL.
func (s *Server) FailName(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.servfail[strings.ToLower(dns.Fqdn(name))] = true
}

// SetAuthenticated sets or clears the AD bit on answers.
func (s *Server) SetAuthenticated(ad bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authenticated = ad
}

// Queries is the number of queries the server got, over UDP and TCP.
func (s *Server) Queries() int { return int(s.udp.Load() + s.tcp.Load()) }

// UDPQueries is the number of queries the server got over UDP.
func (s *Server) UDPQueries() int { return int(s.udp.Load()) }

// TCPQueries is the number of queries the server got over TCP.
func (s *Server) TCPQueries() int { return int(s.tcp.Load()) }

func key(name string, t uint16) string {
	return strings.ToLower(name) + " " + dns.TypeToString[t]
}

// ServeDNS answers one query.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	overTCP := w.RemoteAddr().Network() == "tcp"
	if overTCP {
		s.tcp.Add(1)
	} else {
		s.udp.Add(1)
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	switch {
	case s.mode == ServFail || s.servfail[name]:
		m.Rcode = dns.RcodeServerFailure
	case s.mode == Refused:
		m.Rcode = dns.RcodeRefused
	case s.mode == Truncate && !overTCP:
		m.Truncated = true
	default:
		s.answer(m, name, q.Qtype)
	}
	w.WriteMsg(m)
}

// answer fills m from the records: the records of the type asked, or a
// CNAME of the name followed by the target's records; NXDOMAIN when the
// name has no records of any type. A NODATA or NXDOMAIN answer carries
// the SOA record of the closest enclosing name that has one, as an
// authoritative server's does (RFC 2308 3): resolvers cache the denial
// by it.
func (s *Server) answer(m *dns.Msg, name string, qtype uint16) {
	defer func() {
		if len(m.Answer) == 0 || m.Rcode == dns.RcodeNameError {
			m.Ns = s.soa(name)
		}
	}()
	m.AuthenticatedData = s.authenticated
	for hops := 0; hops < 8; hops++ {
		if rrs := s.records[key(name, qtype)]; len(rrs) > 0 {
			m.Answer = append(m.Answer, rrs...)
			return
		}
		cname := s.records[key(name, dns.TypeCNAME)]
		if len(cname) == 0 || qtype == dns.TypeCNAME {
			break
		}
		m.Answer = append(m.Answer, cname[0])
		name = strings.ToLower(cname[0].(*dns.CNAME).Target)
	}
	for k := range s.records {
		if strings.HasPrefix(k, name+" ") {
			return // the name exists: NODATA
		}
	}
	m.Rcode = dns.RcodeNameError
}

// soa returns the SOA record of name or of its closest parent that has
// one; none when no zone is given one.
func (s *Server) soa(name string) []dns.RR {
	for n := name; n != ""; {
		if rrs := s.records[key(n, dns.TypeSOA)]; len(rrs) > 0 {
			return rrs[:1]
		}
		_, rest, ok := strings.Cut(n, ".")
		if !ok || rest == "" {
			break
		}
		n = rest
	}
	return nil
}
