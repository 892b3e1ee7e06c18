package dnsres_test

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
)

// behaviour is how a test nameserver answers.
type behaviour int

const (
	answer   behaviour = iota // from its records; unknown names NXDOMAIN
	servfail                  // SERVFAIL to everything
	refused                   // REFUSED to everything
	truncate                  // over UDP an empty truncated answer, over TCP the records
)

// nameserver is a DNS server on 127.0.0.1 (UDP and TCP on one port) that
// counts the queries it gets.
type nameserver struct {
	addr     string
	how      behaviour
	mu       sync.Mutex
	records  map[string][]dns.RR // "name. TYPE"
	udp, tcp atomic.Int32
}

func newNameserver(t *testing.T, how behaviour, rrs ...string) *nameserver {
	t.Helper()
	ns := &nameserver{how: how, records: map[string][]dns.RR{}}
	for _, s := range rrs {
		ns.add(t, s)
	}
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; ln == nil; try++ { // the TCP port must be the UDP one
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			if try == 20 {
				t.Fatal(err)
			}
		}
	}
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: ns}, {Listener: ln, Handler: ns}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		t.Cleanup(func() { srv.Shutdown() })
	}
	ns.addr = pc.LocalAddr().String()
	return ns
}

// add records an RR in zone-file form: "mx.example. 60 IN A 127.0.0.1".
func (ns *nameserver) add(t *testing.T, s string) {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	k := strings.ToLower(rr.Header().Name) + " " + dns.TypeToString[rr.Header().Rrtype]
	ns.records[k] = append(ns.records[k], rr)
}

func (ns *nameserver) queries() int { return int(ns.udp.Load() + ns.tcp.Load()) }

func (ns *nameserver) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	overTCP := w.RemoteAddr().Network() == "tcp"
	if overTCP {
		ns.tcp.Add(1)
	} else {
		ns.udp.Add(1)
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true
	switch {
	case ns.how == servfail:
		m.Rcode = dns.RcodeServerFailure
	case ns.how == refused:
		m.Rcode = dns.RcodeRefused
	case ns.how == truncate && !overTCP:
		m.Truncated = true
	default:
		q := req.Question[0]
		name := strings.ToLower(q.Name)
		ns.mu.Lock()
		known := false
		for k, rrs := range ns.records {
			if strings.HasPrefix(k, name+" ") {
				known = true
			}
			if k == name+" "+dns.TypeToString[q.Qtype] {
				m.Answer = append(m.Answer, rrs...)
			}
		}
		ns.mu.Unlock()
		if !known {
			m.Rcode = dns.RcodeNameError
		}
	}
	w.WriteMsg(m)
}

// silent is a UDP socket that reads queries and never answers; heard
// gets a value for each query.
type silent struct {
	addr  string
	heard chan struct{}
}

func newSilent(t *testing.T) *silent {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	s := &silent{addr: pc.LocalAddr().String(), heard: make(chan struct{}, 100)}
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			select {
			case s.heard <- struct{}{}:
			default:
			}
		}
	}()
	return s
}
