package dkimsign_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"mailhost/dkimsign"
	"mailhost/store"
	"mailhost/testsupport"
)

// fakeKeys is a database holding the active keys of some domains.
type fakeKeys struct {
	keys    map[string][]store.NewDKIMKey // domain -> keys
	lookups atomic.Int32
}

func (f *fakeKeys) DKIMSigningKeys(_ context.Context, names []string) ([]store.DKIMSigningKey, error) {
	f.lookups.Add(1)
	var out []store.DKIMSigningKey
	for _, n := range names { // the longest name first, as the store
		for _, k := range f.keys[n] {
			out = append(out, store.DKIMSigningKey{Domain: n, Selector: k.Selector, Algorithm: k.Algorithm, PrivateKey: k.PrivateKey})
		}
	}
	return out, nil
}

// txt answers TXT lookups with the records of the keys in f.
func (f *fakeKeys) txt(name string) ([]string, error) {
	for d, ks := range f.keys {
		for _, k := range ks {
			if strings.TrimSuffix(name, ".") == k.Selector+"._domainkey."+d {
				return []string{dkimsign.Record(k.Algorithm, k.PublicKey)}, nil
			}
		}
	}
	return nil, fmt.Errorf("no TXT record at %s", name)
}

func newKeys(t *testing.T, domains ...string) *fakeKeys {
	t.Helper()
	f := &fakeKeys{keys: map[string][]store.NewDKIMKey{}}
	for _, d := range domains {
		ks, err := dkimsign.NewKeys(time.Now(), "active", nil)
		if err != nil {
			t.Fatal(err)
		}
		f.keys[d] = ks
	}
	return f
}

const message = "From: Alice <alice@example.test>\r\n" +
	"To: bob@remote.test\r\n" +
	"Subject: Hello\r\n" +
	"Date: Thu, 03 Dec 2026 07:00:00 +0000\r\n" +
	"Message-ID: <1@example.test>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"Hello Bob,  \r\n\r\nhow are you?\r\n\r\n"

func sign(t *testing.T, f *fakeKeys, msg string) []byte {
	t.Helper()
	out, err := dkimsign.New(f, 0, nil).Sign(context.Background(), []byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func verify(t *testing.T, f *fakeKeys, msg []byte) []*dkim.Verification {
	t.Helper()
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{LookupTXT: f.txt})
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// Both signatures (RSA and Ed25519) verify with go-msgauth's verifier,
// relaxed/relaxed, and oversign From and Subject: a second From added on
// the way breaks them.
func TestSignVerifiesWithGoMsgauth(t *testing.T) {
	f := newKeys(t, "example.test")
	signed := sign(t, f, message)
	vs := verify(t, f, signed)
	if len(vs) != 2 {
		t.Fatalf("%d signatures, want 2:\n%s", len(vs), signed)
	}
	for _, v := range vs {
		if v.Err != nil || v.Domain != "example.test" {
			t.Errorf("signature of %s: %v", v.Domain, v.Err)
		}
		var from, subject int
		for _, k := range v.HeaderKeys {
			from += btoi(strings.EqualFold(k, "From"))
			subject += btoi(strings.EqualFold(k, "Subject"))
		}
		if from != 2 || subject != 2 {
			t.Errorf("h= %v: From and Subject should be signed once more than present", v.HeaderKeys)
		}
	}
	for _, a := range []string{"a=rsa-sha256", "a=ed25519-sha256", "c=relaxed/relaxed"} {
		if !bytes.Contains(signed, []byte(a)) {
			t.Errorf("no %s in\n%s", a, signed)
		}
	}
	forged := bytes.Replace(signed, []byte("From: Alice"), []byte("From: Mallory <m@evil.test>\r\nFrom: Alice"), 1)
	for _, v := range verify(t, f, forged) {
		if v.Err == nil {
			t.Errorf("a signature still verifies with a From field added")
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// dkimpy, an independent implementation (python3-dkim), verifies both
// signatures, with the published records given through its dnsfunc.
func TestSignVerifiesWithDkimpy(t *testing.T) {
	testsupport.RequireTool(t, "dkimverify", "python3-dkim")
	f := newKeys(t, "example.test")
	signed := sign(t, f, message)
	dir := t.TempDir()
	msgFile := filepath.Join(dir, "msg.eml")
	if err := os.WriteFile(msgFile, signed, 0o600); err != nil {
		t.Fatal(err)
	}
	var records strings.Builder
	for _, k := range f.keys["example.test"] {
		fmt.Fprintf(&records, "    b'%s._domainkey.example.test.': b'%s',\n", k.Selector, dkimsign.Record(k.Algorithm, k.PublicKey))
	}
	script := `import sys, dkim
records = {
` + records.String() + `}
def dnsfunc(name, timeout=5):
    return records.get(name)
msg = open(sys.argv[1], 'rb').read()
d = dkim.DKIM(msg)
n = len([h for h in d.headers if h[0].lower() == b'dkim-signature'])
for i in range(n):
    print(d.verify(idx=i, dnsfunc=dnsfunc))
`
	out, err := exec.Command("/usr/bin/python3", "-c", script, msgFile).CombinedOutput()
	if err != nil {
		t.Fatalf("dkimpy: %v\n%s", err, out)
	}
	if got := strings.Fields(string(out)); len(got) != 2 || got[0] != "True" || got[1] != "True" {
		t.Fatalf("dkimpy verdicts %q, want True True", out)
	}
}

// A From: address of a subdomain is signed with the closest hosted
// parent's keys (a bounce from MAILER-DAEMON@mail.example.test); a
// foreign or unreadable From: leaves the message as it was.
func TestSignWhichDomain(t *testing.T) {
	f := newKeys(t, "example.test")
	bounce := strings.Replace(message, "alice@example.test", "MAILER-DAEMON@mail.example.test", 1)
	for _, v := range verify(t, f, sign(t, f, bounce)) {
		if v.Err != nil || v.Domain != "example.test" {
			t.Errorf("bounce signature: d=%s %v", v.Domain, v.Err)
		}
	}
	for _, msg := range []string{
		strings.Replace(message, "alice@example.test", "alice@elsewhere.test", 1),
		strings.Replace(message, "Alice <alice@example.test>", "alice@example.test, eve@elsewhere.test", 1),
		strings.Replace(message, "From: Alice <alice@example.test>\r\n", "", 1),
	} {
		if got := sign(t, f, msg); string(got) != msg {
			t.Errorf("signed a message it should not:\n%s", got)
		}
	}
}

// Keys are looked up once per sender domain within the cache's time.
func TestSignCachesKeys(t *testing.T) {
	f := newKeys(t, "example.test")
	s := dkimsign.New(f, time.Hour, nil)
	for range 5 {
		if _, err := s.Sign(context.Background(), []byte(message)); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.lookups.Load(); n != 1 {
		t.Errorf("%d key lookups for 5 messages, want 1", n)
	}
}

// Concurrent signatures (more than the processors, which the signer lets
// compute at once) all verify.
func TestSignConcurrently(t *testing.T) {
	f := newKeys(t, "example.test")
	s := dkimsign.New(f, 0, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			signed, err := s.Sign(context.Background(), []byte(message))
			if err != nil {
				t.Error(err)
				return
			}
			vs, err := dkim.VerifyWithOptions(bytes.NewReader(signed), &dkim.VerifyOptions{LookupTXT: f.txt})
			if err != nil || len(vs) != 2 || vs[0].Err != nil || vs[1].Err != nil {
				t.Errorf("verification: %v %v", vs, err)
			}
		})
	}
	wg.Wait()
}

// BenchmarkSign is the cost of the two signatures of a 4 KB message.
func BenchmarkSign(b *testing.B) {
	f := &fakeKeys{keys: map[string][]store.NewDKIMKey{}}
	ks, err := dkimsign.NewKeys(time.Now(), "active", nil)
	if err != nil {
		b.Fatal(err)
	}
	f.keys["example.test"] = ks
	s := dkimsign.New(f, time.Hour, nil)
	msg := []byte(message + strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n", 60))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sign(context.Background(), msg); err != nil {
			b.Fatal(err)
		}
	}
}
