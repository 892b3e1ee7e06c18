// Command authdns is the loopback DNS server of bench/smtp-in.sh's
// AUTH=1 mode: it answers from the zone-file lines of a file (one record
// a line, "#" comments), over UDP and TCP on one address, NXDOMAIN for
// names it does not hold and NODATA for other types of names it does,
// both with the SOA of the closest enclosing zone the file gives one
// (RFC 2308 3), by which a resolver caches the denial.
// It is what the MX asks for SPF, DKIM, DMARC and reverse DNS while
// the benchmark runs, so the figures include those lookups and nothing
// of the Internet. (Tests use package dnstest, which needs a testing.TB.)
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/miekg/dns"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:10053", "address to answer on (UDP and TCP)")
	zone := flag.String("zone", "", "file of zone-file records")
	flag.Parse()
	recs, err := load(*zone)
	if err != nil {
		log.Fatal(err)
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) { w.WriteMsg(answer(recs, req)) })
	for _, netw := range []string{"udp", "tcp"} {
		srv := &dns.Server{Addr: *addr, Net: netw, Handler: h}
		go func() { log.Fatal(srv.ListenAndServe()) }()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}

// load reads records keyed by lower-case name, then type.
func load(path string) (map[string]map[uint16][]dns.RR, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs := map[string]map[uint16][]dns.RR{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil || rr == nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		name := strings.ToLower(rr.Header().Name)
		if recs[name] == nil {
			recs[name] = map[uint16][]dns.RR{}
		}
		recs[name][rr.Header().Rrtype] = append(recs[name][rr.Header().Rrtype], rr)
	}
	return recs, sc.Err()
}

func answer(recs map[string]map[uint16][]dns.RR, req *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		return m
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	byType, ok := recs[name]
	if !ok {
		m.Rcode = dns.RcodeNameError
	} else {
		m.Answer = byType[q.Qtype]
	}
	if len(m.Answer) == 0 {
		m.Ns = soa(recs, name) // RFC 2308 3: a denial carries the zone's SOA
	}
	return m
}

// soa is the SOA record of name or of its closest parent holding one.
func soa(recs map[string]map[uint16][]dns.RR, name string) []dns.RR {
	for n := name; n != ""; {
		if rrs := recs[n][dns.TypeSOA]; len(rrs) > 0 {
			return rrs[:1]
		}
		_, rest, ok := strings.Cut(n, ".")
		if !ok {
			break
		}
		n = rest
	}
	return nil
}
