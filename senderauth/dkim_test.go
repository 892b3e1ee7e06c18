package senderauth_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"mailhost/senderauth"
)

const testMessage = "From: Alice <alice@example.test>\r\n" +
	"To: bob@hosted.test\r\n" +
	"Subject: hello\r\n" +
	"Date: Thu, 03 Dec 2026 07:00:00 +0000\r\n" +
	"Message-ID: <1@example.test>\r\n" +
	"\r\n" +
	"Hello Bob.\r\n"

// dkimKey is a signing key and the TXT record that publishes it.
type dkimKey struct {
	signer crypto.Signer
	record string // zone-file line
}

// newKey makes a key of algo ("ed25519" or "rsa") published as
// selector._domainkey.domain.
func newKey(t *testing.T, algo, selector, domain string) dkimKey {
	t.Helper()
	var signer crypto.Signer
	var pub []byte
	switch algo {
	case "ed25519":
		p, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		signer, pub = k, p
	default:
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		if pub, err = x509.MarshalPKIXPublicKey(&k.PublicKey); err != nil {
			t.Fatal(err)
		}
		signer = k
	}
	if algo != "ed25519" {
		algo = "rsa"
	}
	txt := fmt.Sprintf("v=DKIM1; k=%s; p=%s", algo, base64.StdEncoding.EncodeToString(pub))
	return dkimKey{signer: signer, record: fmt.Sprintf("%s._domainkey.%s. TXT %s", selector, domain, txtStrings(txt))}
}

// txtStrings splits a TXT value into quoted strings of at most 255 bytes.
func txtStrings(v string) string {
	var parts []string
	for len(v) > 255 {
		parts = append(parts, `"`+v[:255]+`"`)
		v = v[255:]
	}
	return strings.Join(append(parts, `"`+v+`"`), " ")
}

// sign signs msg with k for domain and selector, as a sending MTA would.
func sign(t *testing.T, msg string, k dkimKey, domain, selector string) string {
	t.Helper()
	var b bytes.Buffer
	err := dkim.Sign(&b, strings.NewReader(msg), &dkim.SignOptions{
		Domain: domain, Selector: selector, Signer: k.signer,
		HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestDKIM(t *testing.T) {
	ed := newKey(t, "ed25519", "ed", "example.test")
	rs := newKey(t, "rsa", "rsa", "example.test")
	other := newKey(t, "ed25519", "gone", "example.test") // never published
	c, srv := checker(t, ed.record, rs.record)
	srv.FailName("temp._domainkey.example.test")
	tempKey := newKey(t, "ed25519", "temp", "example.test")

	both := sign(t, sign(t, testMessage, rs, "example.test", "rsa"), ed, "example.test", "ed")
	for _, tc := range []struct {
		name string
		msg  string
		want []string
	}{
		{"unsigned", testMessage, nil},
		{"ed25519 (RFC 8463)", sign(t, testMessage, ed, "example.test", "ed"), []string{"pass"}},
		{"rsa-sha256", sign(t, testMessage, rs, "example.test", "rsa"), []string{"pass"}},
		{"both, every signature checked", both, []string{"pass", "pass"}},
		{"body changed", strings.Replace(sign(t, testMessage, ed, "example.test", "ed"), "Hello Bob.", "Hello Eve.", 1), []string{"fail"}},
		{"signed header changed", strings.Replace(sign(t, testMessage, ed, "example.test", "ed"), "Subject: hello", "Subject: pay now", 1), []string{"fail"}},
		{"no key published: permerror", sign(t, testMessage, other, "example.test", "gone"), []string{"permerror"}},
		{"key lookup fails: temperror", sign(t, testMessage, tempKey, "example.test", "temp"), []string{"temperror"}},
		{"one good, one broken", strings.Replace(both, "Hello Bob.", "Hello Bob!", 1), []string{"fail", "fail"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := c.DKIM(context.Background(), []byte(tc.msg))
			var results []string
			for _, d := range got {
				results = append(results, d.Result)
				if d.Domain != "example.test" || d.Selector == "" || len(d.B) != 8 {
					t.Errorf("signature tags: %+v", d)
				}
			}
			if fmt.Sprint(results) != fmt.Sprint(tc.want) {
				t.Fatalf("results %v, want %v (%+v)", results, tc.want, got)
			}
		})
	}
}

func TestDKIMMaxSignatures(t *testing.T) {
	ed := newKey(t, "ed25519", "ed", "example.test")
	c, _ := checker(t, ed.record)
	c.MaxSignatures = 1
	msg := sign(t, sign(t, testMessage, ed, "example.test", "ed"), ed, "example.test", "ed")
	got := c.DKIM(context.Background(), []byte(msg))
	if len(got) != 2 || got[0].Result != senderauth.Pass || got[1].Result != senderauth.Neutral {
		t.Fatalf("got %+v, want pass then neutral (not checked)", got)
	}
}

// Authenticate verifies the signatures and evaluates DMARC with the SPF
// result it waits for, as DKIM then DMARC would.
func TestAuthenticate(t *testing.T) {
	ed := newKey(t, "ed25519", "ed", "example.test")
	c, _ := checker(t, ed.record, `_dmarc.example.test. TXT "v=DMARC1; p=reject"`)
	spfCalls := 0
	spf := func() senderauth.SPF {
		spfCalls++
		return senderauth.SPF{Result: senderauth.Pass, Domain: "bounces.other.test"}
	}
	for _, tc := range []struct {
		name, msg, dkim, dmarc string
	}{
		{"aligned signature", sign(t, testMessage, ed, "example.test", "ed"), "pass", "pass"},
		{"unsigned, SPF unaligned", testMessage, "", "fail"},
	} {
		sigs, spfRes, dm := c.Authenticate(context.Background(), []byte(tc.msg), []string{"example.test"}, spf)
		got := ""
		if len(sigs) > 0 {
			got = sigs[0].Result
		}
		if got != tc.dkim || dm.Result != tc.dmarc || spfRes.Domain != "bounces.other.test" {
			t.Errorf("%s: DKIM %q, DMARC %s (%v), SPF %+v; want %q, %s", tc.name, got, dm.Result, dm.Err, spfRes, tc.dkim, tc.dmarc)
		}
	}
	if spfCalls != 2 {
		t.Errorf("spf waited for %d times, want 2", spfCalls)
	}
}
