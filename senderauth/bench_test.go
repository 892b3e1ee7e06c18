package senderauth_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"mailhost/senderauth"
)

// BenchmarkChecks is the work of one message of bench/smtp-in.sh AUTH=1:
// SPF over a, mx and include, no DKIM signature, no DMARC record, the
// header; iprev is per connection and left out. The resolver has a cache,
// as serve's: after the first message every answer comes from it.
func BenchmarkChecks(b *testing.B) {
	c, _ := cachedChecker(b,
		`client.test. SOA ns.client.test. hostmaster.client.test. 1 7200 3600 1209600 300`,
		`client.test. TXT "v=spf1 a mx include:_spf.client.test -all"`,
		`client.test. A 192.0.2.10`,
		`client.test. MX 10 mx.client.test.`,
		`mx.client.test. A 192.0.2.11`,
		`_spf.client.test. TXT "v=spf1 ip4:192.0.2.0/24 ip4:127.0.0.0/8 -all"`,
	)
	msg := []byte("From: <loadgen@client.test>\r\nTo: u1@bench.test\r\nSubject: x\r\n\r\n" + strings.Repeat("x", 4096) + "\r\n")
	ip := netip.MustParseAddr("127.0.0.1")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		spf := c.SPF(ctx, ip, "client.test", "loadgen@client.test")
		if spf.Result != senderauth.Pass {
			b.Fatal(spf)
		}
		sigs := c.DKIM(ctx, msg)
		dm := c.DMARC(ctx, []string{"client.test"}, spf, sigs)
		senderauth.Header("mx.bench.test", senderauth.Results{SPF: &spf, DKIM: sigs, DMARC: &dm})
	}
}
