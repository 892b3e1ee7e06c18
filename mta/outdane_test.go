package mta_test

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"mailhost/mta"
)

func hexSHA256(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }
func hexSHA512(b []byte) string { h := sha512.Sum512(b); return hex.EncodeToString(h[:]) }

// DANE under the policy dane: TLSA records of the MX host that the
// resolver authenticated (AD) decide; without AD they are ignored; they
// take precedence over MTA-STS.
func TestOutboundDANE(t *testing.T) {
	ca := newTestCA(t)
	const mx = "mx.remote.example"
	const tlsaName = "_25._tcp." + mx + ". 60 IN TLSA "
	self := issue(t, nil, time.Now().Add(time.Hour), mx)
	other := issue(t, nil, time.Now().Add(time.Hour), mx)
	fromCA := issue(t, ca, time.Now().Add(time.Hour), mx)
	wrongName := issue(t, ca, time.Now().Add(time.Hour), "mx.other.example")
	eeSPKI := tlsaName + "3 1 1 " + hexSHA256(self.cert.RawSubjectPublicKeyInfo)
	for _, tc := range []struct {
		name    string
		tlsa    []string
		ad      bool
		conf    *tls.Config
		sts     bool   // the domain also has an MTA-STS enforce policy
		fail    string // a name whose queries fail
		want    string // "tls" or the deferral's reason
		counter [2]string
	}{
		{"DANE-EE SPKI SHA-256 matches", []string{eeSPKI}, true, self.serverConf(nil), false, "", "tls", [2]string{"tlsa", "successful"}},
		{"DANE-EE certificate SHA-512 matches", []string{tlsaName + "3 0 2 " + hexSHA512(self.der)}, true, self.serverConf(nil), false, "", "tls", [2]string{"tlsa", "successful"}},
		{"DANE-EE full certificate matches", []string{tlsaName + "3 0 0 " + hex.EncodeToString(self.der)}, true, self.serverConf(nil), false, "", "tls", [2]string{"tlsa", "successful"}},
		{"DANE-EE among records that do not match", []string{tlsaName + "3 1 1 " + hexSHA256(other.cert.RawSubjectPublicKeyInfo), eeSPKI}, true, self.serverConf(nil), false, "", "tls", [2]string{"tlsa", "successful"}},
		{"DANE-TA issued the certificate", []string{tlsaName + "2 0 1 " + hexSHA256(ca.cert.Raw)}, true, fromCA.serverConf(ca), false, "", "tls", [2]string{"tlsa", "successful"}},
		{"DANE-EE does not match", []string{tlsaName + "3 1 1 " + hexSHA256(other.cert.RawSubjectPublicKeyInfo)}, true, self.serverConf(nil), false, "", "DANE: tlsa-invalid", [2]string{"tlsa", "tlsa-invalid"}},
		{"DANE-TA, certificate for another name", []string{tlsaName + "2 0 1 " + hexSHA256(ca.cert.Raw)}, true, wrongName.serverConf(ca), false, "", "DANE: tlsa-invalid", [2]string{"tlsa", "tlsa-invalid"}},
		{"no AD: records ignored", []string{tlsaName + "3 1 1 " + hexSHA256(other.cert.RawSubjectPublicKeyInfo)}, false, self.serverConf(nil), false, "", "tls", [2]string{"no-policy-found", "successful"}},
		{"no usable record: TLS without verification", []string{tlsaName + "1 1 1 " + hexSHA256(other.cert.RawSubjectPublicKeyInfo)}, true, self.serverConf(nil), false, "", "tls", [2]string{"tlsa", "tlsa-invalid"}},
		{"no usable record, no STARTTLS", []string{tlsaName + "0 0 1 " + hexSHA256(other.der)}, true, nil, false, "", "TLS is required", [2]string{"no-policy-found", "starttls-not-supported"}},
		{"DANE before MTA-STS", []string{eeSPKI}, true, self.serverConf(nil), true, "", "tls", [2]string{"tlsa", "successful"}},
		{"MTA-STS when DANE has no records", nil, true, self.serverConf(nil), true, "", "MTA-STS policy (enforce): certificate-not-trusted", [2]string{"sts", "certificate-not-trusted"}},
		{"TLSA lookup fails", []string{eeSPKI}, true, self.serverConf(nil), false, "_25._tcp." + mx, "DANE: dnssec-invalid", [2]string{"tlsa", "dnssec-invalid"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, z, _ := outEnv(t)
			z.SetAuthenticated(tc.ad)
			for _, rr := range tc.tlsa {
				z.Add(t, rr)
			}
			if tc.fail != "" {
				z.FailName(tc.fail)
			}
			domain := "remote.example"
			policies := map[string]string{}
			if tc.sts {
				domain = "sts.example"
				stsDomain(t, z, domain, "1")
				policies[domain] = stsPolicy("enforce", mx)
			}
			ph := newPolicyHost(t, ca, policies)
			s := newSink(t, tc.conf)
			rcpt := "x@" + domain
			id := e.enqueue("alice@example.test", rcpt)
			rep := &reportedResults{}
			o := e.startOutbound(z, s.port, "node-a", func(c *mta.OutboundConfig) {
				c.TLSPolicy, c.RootCAs, c.MTASTSPort = "dane", ca.pool, ph.port
				c.TLSReports = rep
			})
			r := e.attempted(map[string]int64{rcpt: id})[rcpt]
			msgs := s.messages()
			if tc.want == "tls" {
				if r.state != "delivered" || len(msgs) != 1 || !msgs[0].tls {
					t.Fatalf("%+v, sink got %+v; want delivered over TLS", r, msgs)
				}
			} else if r.state != "deferred" || len(msgs) != 0 || !strings.Contains(r.lastError, tc.want) {
				t.Fatalf("%+v, sink got %d messages; want deferred because %q", r, len(msgs), tc.want)
			}
			if n := reportCount(t, o, domain, tc.counter[0], tc.counter[1]); n != 1 {
				t.Errorf("mailhost_tls_report_total{domain=%q,policy=%q,result=%q} = %v, want 1", domain, tc.counter[0], tc.counter[1], n)
			}
			// The aggregate reports get the same result, with the MX host
			// (and its address once connected).
			found := false
			for _, r := range rep.all() {
				found = found || r[0] == domain && r[1] == tc.counter[0] && r[2] == mx && (r[3] == "" || r[3] == "127.0.0.1") && r[4] == tc.counter[1]
			}
			if !found {
				t.Errorf("reported for aggregate reports: %q, want [%s %s %s (127.0.0.1) %s]", rep.all(), domain, tc.counter[0], mx, tc.counter[1])
			}
		})
	}
}

// reportedResults is an mta.TLSReporter that keeps what it is given.
type reportedResults struct {
	mu   sync.Mutex
	list [][5]string
}

func (r *reportedResults) Add(domain, policy, mx, ip, result string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, [5]string{domain, policy, mx, ip, result})
}

func (r *reportedResults) all() [][5]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][5]string(nil), r.list...)
}
