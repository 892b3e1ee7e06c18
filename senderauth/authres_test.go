package senderauth_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"mailhost/senderauth"
)

func TestHeader(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.1")
	got := string(senderauth.Header("mx.hosted.test", senderauth.Results{
		IPRev: &senderauth.IPRev{Result: "pass", IP: ip, Name: "mail.example.com"},
		SPF:   &senderauth.SPF{Result: "pass", Identity: "alice@example.com", Domain: "example.com"},
		DKIM: []senderauth.DKIM{
			{Result: "pass", Domain: "example.com", Selector: "sel", Algorithm: "ed25519-sha256", B: "AbCd+/Ef"},
			{Result: "fail", Domain: "example.com", Selector: "old"},
		},
		DMARC: &senderauth.DMARC{Result: "pass", Domain: "example.com", Published: "reject", Policy: "none"},
	}))
	want := "Authentication-Results: mx.hosted.test;\r\n" +
		"\tiprev=pass policy.iprev=192.0.2.1 (mail.example.com);\r\n" +
		"\tspf=pass smtp.mailfrom=alice@example.com;\r\n" +
		"\tdkim=pass header.d=example.com header.s=sel header.a=ed25519-sha256 header.b=\"AbCd+/Ef\";\r\n" +
		"\tdkim=fail header.d=example.com header.s=old;\r\n" +
		"\tdmarc=pass (p=reject) header.from=example.com\r\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	// The null sender's HELO identity, a hostile HELO name, no signature.
	got = string(senderauth.Header("mx.hosted.test", senderauth.Results{
		SPF:   &senderauth.SPF{Result: "none", HELO: true, Identity: "evil\r\nX-Injected: 1"},
		DMARC: &senderauth.DMARC{Result: "none", Domain: "example.com"},
	}))
	want = "Authentication-Results: mx.hosted.test;\r\n" +
		"\tspf=none smtp.helo=\"evilX-Injected: 1\";\r\n" +
		"\tdkim=none;\r\n" +
		"\tdmarc=none header.from=example.com\r\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestAuthServID(t *testing.T) {
	for in, want := range map[string]string{
		" mx.hosted.test; spf=pass":            "mx.hosted.test",
		"mx.hosted.test 1; none":               "mx.hosted.test",
		" (comment; here) MX.Hosted.Test;none": "MX.Hosted.Test",
		" \"mx.hosted.test\"; none":            "mx.hosted.test",
		"\r\n\tmx.hosted.test;\r\n\tnone":      "mx.hosted.test",
		"; spf=pass":                           "",
		"":                                     "",
	} {
		if got := senderauth.AuthServID(in); got != want {
			t.Errorf("AuthServID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStripForged(t *testing.T) {
	msg := "Authentication-Results: mx.hosted.test;\r\n\tspf=pass smtp.mailfrom=a@b.test\r\n" +
		"Received: from x\r\n" +
		"authentication-results : (forged) MX.HOSTED.TEST; dkim=pass\r\n" +
		"Authentication-Results: mx.other.test; spf=fail\r\n" +
		"Subject: hi\r\n" +
		"\r\n" +
		"Authentication-Results: mx.hosted.test; body text stays\r\n"
	got, n := senderauth.StripForged([]byte(msg), "mx.hosted.test")
	want := "Received: from x\r\n" +
		"Authentication-Results: mx.other.test; spf=fail\r\n" +
		"Subject: hi\r\n" +
		"\r\n" +
		"Authentication-Results: mx.hosted.test; body text stays\r\n"
	if string(got) != want || n != 2 {
		t.Fatalf("removed %d, got\n%q\nwant\n%q", n, got, want)
	}
	clean := []byte("Subject: hi\r\n\r\nbody\r\n")
	if got, n := senderauth.StripForged(clean, "mx.hosted.test"); n != 0 || &got[0] != &clean[0] {
		t.Fatalf("a clean message was copied or changed (%d)", n)
	}
}

func FuzzStripForged(f *testing.F) {
	f.Add([]byte("Authentication-Results: mx.hosted.test; none\r\nSubject: x\r\n\r\nbody"), "mx.hosted.test")
	f.Add([]byte("Authentication-Results: (c) \"mx\"; none\r\n\r\n"), "mx")
	f.Add([]byte("\r\n\r\nAuthentication-Results: mx; none"), "mx")
	f.Fuzz(func(t *testing.T, msg []byte, id string) {
		out, n := senderauth.StripForged(msg, id)
		if n == 0 && string(out) != string(msg) {
			t.Fatal("changed without removing")
		}
		if len(out) > len(msg) {
			t.Fatal("grew")
		}
		// Idempotent: nothing of ours is left to remove.
		if id != "" && strings.TrimSpace(id) == id {
			if _, again := senderauth.StripForged(out, id); again != 0 {
				t.Fatalf("a second pass removed %d more", again)
			}
		}
		senderauth.AuthServID(string(msg))
	})
}

func TestIPRev(t *testing.T) {
	c, srv := checker(t,
		`1.2.0.192.in-addr.arpa. PTR mail.example.com.`,
		`mail.example.com. A 192.0.2.1`,
		`2.2.0.192.in-addr.arpa. PTR liar.example.com.`,
		`liar.example.com. A 198.51.100.7`,
	)
	srv.FailName("3.2.0.192.in-addr.arpa")
	for ip, want := range map[string]string{
		"192.0.2.1": "pass", "192.0.2.2": "fail", "192.0.2.9": "fail", "192.0.2.3": "temperror",
	} {
		got := c.IPRev(context.Background(), netip.MustParseAddr(ip))
		if got.Result != want || (want == "pass") != (got.Name == "mail.example.com") {
			t.Errorf("IPRev(%s) = %+v, want %s", ip, got, want)
		}
		if want == "temperror" && got.Err == nil {
			t.Error("no error with temperror")
		}
	}
}
