package mta_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mailhost/dnstest"
	"mailhost/mta"
)

// leaf is a server certificate and its key.
type leaf struct {
	der  []byte
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// issue makes a certificate for names, valid from an hour ago to until,
// signed by ca (nil: self-signed).
func issue(t *testing.T, ca *testCA, until time.Time, names ...string) leaf {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: until,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	parent, signer := tmpl, key
	if ca != nil {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return leaf{der: der, cert: cert, key: key}
}

// serverConf presents l, followed by the CA's certificate when ca is set.
func (l leaf) serverConf(ca *testCA) *tls.Config {
	chain := [][]byte{l.der}
	if ca != nil {
		chain = append(chain, ca.cert.Raw)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: chain, PrivateKey: l.key}}}
}

// policyHost serves MTA-STS policy files over HTTPS on loopback for the
// mta-sts.<domain> names of policies, with a certificate of ca, and
// counts the fetches.
type policyHost struct {
	port     int
	mu       sync.Mutex
	policies map[string]string // domain -> file; missing: 404
	fetches  int
}

func newPolicyHost(t *testing.T, ca *testCA, policies map[string]string) *policyHost {
	t.Helper()
	ph := &policyHost{policies: policies}
	names := []string{"mta-sts.unused.example"}
	for d := range policies {
		names = append(names, "mta-sts."+d)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ph.mu.Lock()
		defer ph.mu.Unlock()
		ph.fetches++
		host, _, _ := net.SplitHostPort(r.Host)
		p, ok := ph.policies[strings.TrimPrefix(host, "mta-sts.")]
		if !ok || r.URL.Path != "/.well-known/mta-sts.txt" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(p))
	}))
	srv.TLS = issue(t, ca, time.Now().Add(time.Hour), names...).serverConf(nil)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ph.port = srv.Listener.Addr().(*net.TCPAddr).Port
	return ph
}

func (ph *policyHost) count() int {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	return ph.fetches
}

func (ph *policyHost) set(domain, policy string) {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	if policy == "" {
		delete(ph.policies, domain)
	} else {
		ph.policies[domain] = policy
	}
}

// stsDomain publishes an MTA-STS record with id for domain, whose MX is
// mx.remote.example, with the policy host on loopback.
func stsDomain(t *testing.T, z *dnstest.Server, domain, id string) {
	z.Add(t, domain+". 60 IN MX 10 mx.remote.example.")
	z.Add(t, "_mta-sts."+domain+`. 60 IN TXT "v=STSv1; id=`+id+`;"`)
	z.Add(t, "mta-sts."+domain+". 60 IN A 127.0.0.1")
}

func stsPolicy(mode string, mx ...string) string {
	return "version: STSv1\nmode: " + mode + "\nmx: " + strings.Join(mx, "\nmx: ") + "\nmax_age: 86400\n"
}

// attempted waits until each message has been tried once (or has left
// the queue) and returns, per recipient, "delivered" or its queue row's
// state and reason.
func (e *env) attempted(ids map[string]int64) map[string]rcptRow {
	e.t.Helper()
	out := map[string]rcptRow{}
	waitFor(e.t, "every recipient's attempt", func() bool {
		for rcpt, id := range ids {
			r, ok := e.rcpts(id)[rcpt]
			if !ok {
				r.state = "delivered"
			} else if r.attempts < 1 {
				return false
			}
			out[rcpt] = r
		}
		return true
	})
	return out
}

// reportCount is the value /metrics shows for the TLS reporting counter
// of domain, policy and result (0 when absent).
func reportCount(t *testing.T, o *mta.Outbound, domain, policy, result string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(o.Metrics().TLSReport); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"domain": domain, "policy": policy, "result": result}
	for _, mf := range mfs {
		if mf.GetName() != "mailhost_tls_report_total" {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if want[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// Outbound to a peer with a good, expired, self-signed or wrong-name
// certificate under each policy: what is delivered (and over TLS or in
// clear), what is deferred with which reason in the queue, and what the
// TLS reporting counters say. MTA-STS enforce refuses a bad certificate
// and an MX host outside its patterns; testing only counts them.
func TestOutboundCertificatesUnderEachPolicy(t *testing.T) {
	ca := newTestCA(t)
	const mx = "mx.remote.example"
	for _, cert := range []struct {
		name   string
		leaf   func() leaf
		result string // RFC 8460 result of a certificate check
	}{
		{"valid", func() leaf { return issue(t, ca, time.Now().Add(time.Hour), mx) }, "successful"},
		{"expired", func() leaf { return issue(t, ca, time.Now().Add(-time.Hour), mx) }, "certificate-expired"},
		{"self-signed", func() leaf { return issue(t, nil, time.Now().Add(time.Hour), mx) }, "certificate-not-trusted"},
		{"wrong name", func() leaf { return issue(t, ca, time.Now().Add(time.Hour), "mx.other.example") }, "certificate-host-mismatch"},
	} {
		t.Run(cert.name, func(t *testing.T) {
			e, z, _ := outEnv(t)
			s := newSink(t, cert.leaf().serverConf(nil))
			good := cert.result == "successful"
			// want: "clear" (delivered without TLS), "tls" (delivered over
			// TLS) or the reason a deferral records.
			type dest struct{ policy, sts, want string }
			verified := map[bool]string{true: "tls", false: "TLS policy verify: " + cert.result}
			enforced := map[bool]string{true: "tls", false: "MTA-STS policy (enforce): " + cert.result}
			dests := map[string]dest{
				"none.example":     {"none", "", "clear"},
				"may.example":      {"may", "", "tls"},
				"encrypt.example":  {"encrypt", "", "tls"},
				"verify.example":   {"verify", "", verified[good]},
				"dane.example":     {"dane", "", "tls"}, // no TLSA records
				"enforce.example":  {"may", stsPolicy("enforce", mx), enforced[good]},
				"testing.example":  {"may", stsPolicy("testing", mx), "tls"},
				"wildcard.example": {"encrypt", stsPolicy("enforce", "*.remote.example"), enforced[good]},
				"elsewhere.example": {"may", stsPolicy("enforce", "*.elsewhere.example"),
					"MTA-STS policy (enforce): validation-failure: MX host mx.remote.example is not among the policy's mx patterns"},
				"nonone.example": {"none", stsPolicy("enforce", mx), "clear"}, // none skips MTA-STS
			}
			policies, tlsDomains, ids := map[string]string{}, map[string]string{}, map[string]int64{}
			for d, dst := range dests {
				tlsDomains[d] = dst.policy
				if dst.sts == "" {
					z.Add(t, d+". 60 IN MX 10 "+mx+".")
				} else {
					stsDomain(t, z, d, "1")
					policies[d] = dst.sts
				}
				ids["u@"+d] = e.enqueue("alice@example.test", "u@"+d)
			}
			ph := newPolicyHost(t, ca, policies)
			o := e.startOutbound(z, s.port, "node-a", func(c *mta.OutboundConfig) {
				c.TLSDomains, c.RootCAs, c.MTASTSPort = tlsDomains, ca.pool, ph.port
			})
			got := e.attempted(ids)
			overTLS := map[string]bool{}
			for _, m := range s.messages() {
				for _, to := range m.to {
					overTLS[to] = m.tls
				}
			}
			for d, dst := range dests {
				rcpt := "u@" + d
				r := got[rcpt]
				tls, delivered := overTLS[rcpt]
				switch dst.want {
				case "clear", "tls":
					if r.state != "delivered" || !delivered || tls != (dst.want == "tls") {
						t.Errorf("%s (%s): %+v, sink has it %v over TLS %v; want delivered, %s", d, dst.policy, r, delivered, tls, dst.want)
					}
				default:
					if r.state != "deferred" || delivered || !strings.Contains(r.lastError, dst.want) {
						t.Errorf("%s (%s): %+v, delivered %v; want deferred because %q", d, dst.policy, r, delivered, dst.want)
					}
				}
			}
			for _, c := range []struct {
				domain, policy, result string
				n                      float64
			}{
				{"testing.example", "sts", cert.result, 1},
				{"enforce.example", "sts", cert.result, 1},
				{"elsewhere.example", "sts", "validation-failure", 1},
				{"may.example", "no-policy-found", "successful", 1},
				{"none.example", "no-policy-found", "successful", 0},
			} {
				if n := reportCount(t, o, c.domain, c.policy, c.result); n != c.n {
					t.Errorf("mailhost_tls_report_total{domain=%q,policy=%q,result=%q} = %v, want %v", c.domain, c.policy, c.result, n, c.n)
				}
			}
			if n := ph.count(); n != len(policies)-1 { // nonone.example: never asked
				t.Errorf("%d policy fetches, want %d", n, len(policies)-1)
			}
		})
	}
}
