package mta_test

import (
	"crypto/tls"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mailhost/mta"
)

// MTA-STS policies are fetched once and cached in PostgreSQL: a second
// delivery, and a second node, use the cached row. When the record's id
// changes and the policy host fails, the cached policy stays in force
// (RFC 8461 5.1): a bad certificate is still refused.
func TestOutboundMTASTSPolicyCache(t *testing.T) {
	ca := newTestCA(t)
	const mx = "mx.remote.example"
	e, z, _ := outEnv(t)
	var cur atomic.Pointer[tls.Certificate]
	use := func(l leaf) { cur.Store(&tls.Certificate{Certificate: [][]byte{l.der}, PrivateKey: l.key}) }
	use(issue(t, ca, time.Now().Add(time.Hour), mx))
	s := newSink(t, &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cur.Load(), nil }})
	stsDomain(t, z, "sts.example", "1")
	ph := newPolicyHost(t, ca, map[string]string{"sts.example": stsPolicy("enforce", mx)})
	// Each delivery meets the certificate the sink has then: on a new
	// connection (a cached one was checked with the one it had before).
	tune := func(c *mta.OutboundConfig) { c.RootCAs, c.MTASTSPort, c.ConnCache.Off = ca.pool, ph.port, true }
	deliver := func(rcpt string) rcptRow {
		t.Helper()
		id := e.enqueue("alice@example.test", rcpt)
		return e.attempted(map[string]int64{rcpt: id})[rcpt]
	}

	_, stopA := e.runOutbound(z, s.port, "node-a", tune)
	for _, rcpt := range []string{"u1@sts.example", "u2@sts.example"} {
		if r := deliver(rcpt); r.state != "delivered" {
			t.Fatalf("node a, %s: %+v", rcpt, r)
		}
	}
	if n := ph.count(); n != 1 {
		t.Fatalf("%d policy fetches for two deliveries, want 1", n)
	}
	stopA()
	var mode, id string
	e.scalar(&mode, `SELECT mode FROM mta_sts_policies WHERE domain = 'sts.example'`)
	e.scalar(&id, `SELECT policy_id FROM mta_sts_policies WHERE domain = 'sts.example'`)
	if mode != "enforce" || id != "1" {
		t.Fatalf("cached row: mode %q id %q", mode, id)
	}

	ob := e.startOutbound(z, s.port, "node-b", tune)
	if r := deliver("u3@sts.example"); r.state != "delivered" || ph.count() != 1 {
		t.Fatalf("node b: %+v after %d fetches; want delivered from the cached policy", r, ph.count())
	}

	ph.set("sts.example", "") // 404 from now on
	z.Remove("_mta-sts.sts.example", "TXT")
	z.Add(t, `_mta-sts.sts.example. 60 IN TXT "v=STSv1; id=2;"`)
	use(issue(t, ca, time.Now().Add(-time.Minute), mx)) // expired
	r := deliver("u4@sts.example")
	if r.state != "deferred" || !strings.Contains(r.lastError, "MTA-STS policy (enforce): certificate-expired") {
		t.Fatalf("with the cached policy and an expired certificate: %+v", r)
	}
	if n := ph.count(); n != 2 {
		t.Errorf("%d policy fetches, want 2 (the new id was tried)", n)
	}
	if n := reportCount(t, ob, "sts.example", "sts", "sts-policy-fetch-error"); n != 1 {
		t.Errorf("sts-policy-fetch-error counted %v times, want 1", n)
	}
	// After the failed fetch the next waits an hour: this delivery does not ask.
	if r := deliver("u5@sts.example"); r.state != "deferred" || ph.count() != 2 {
		t.Errorf("next delivery: %+v after %d fetches; want deferred, no new fetch", r, ph.count())
	}
}
