package mtasts_test

import (
	"context"
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
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailhost/mtasts"
)

func TestParsePolicy(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       *mtasts.Policy // nil: an error
	}{
		{"RFC 8461 3.2 example", "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmx: backupmx.example.com\nmax_age: 604800\n",
			&mtasts.Policy{Mode: mtasts.Enforce, MaxAge: 604800, MX: []string{"mail.example.com", "*.example.net", "backupmx.example.com"}}},
		{"CRLF, any order, spaces, extension", "mode:testing\r\nmax_age:  86400 \r\nmx: MX.Example.COM.\r\nx-ext: whatever\r\nversion: STSv1\r\n",
			&mtasts.Policy{Mode: mtasts.Testing, MaxAge: 86400, MX: []string{"mx.example.com"}}},
		{"none without mx", "version: STSv1\nmode: none\nmax_age: 0\n", &mtasts.Policy{Mode: mtasts.None}},
		{"max_age capped at a year", "version: STSv1\nmode: none\nmax_age: 9999999999\n", &mtasts.Policy{Mode: mtasts.None, MaxAge: mtasts.MaxAge}},
		{"no version", "mode: enforce\nmx: a.example\nmax_age: 1\n", nil},
		{"version STSv2", "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n", nil},
		{"bad mode", "version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n", nil},
		{"no max_age", "version: STSv1\nmode: enforce\nmx: a.example\n", nil},
		{"negative max_age", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n", nil},
		{"max_age over 10 digits", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 12345678901\n", nil},
		{"enforce without mx", "version: STSv1\nmode: enforce\nmax_age: 1\n", nil},
		{"bad mx", "version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 1\n", nil},
		{"wildcard in the middle", "version: STSv1\nmode: enforce\nmx: a.*.example\nmax_age: 1\n", nil},
		{"not key: value", "version: STSv1\nmode enforce\n", nil},
		{"HTML", "<html><body>Not found</body></html>", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mtasts.ParsePolicy(tc.text)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("parsed %+v, want an error", got)
				}
				return
			}
			if err != nil || got.Mode != tc.want.Mode || got.MaxAge != tc.want.MaxAge || !slices.Equal(got.MX, tc.want.MX) {
				t.Fatalf("got %+v, %v; want %+v", got, err, *tc.want)
			}
			again, err := mtasts.ParsePolicy(got.String())
			if err != nil || !slices.Equal(again.MX, got.MX) || again.Mode != got.Mode || again.MaxAge != got.MaxAge {
				t.Fatalf("String() does not parse back: %q: %+v %v", got.String(), again, err)
			}
		})
	}
}

func TestParseRecords(t *testing.T) {
	for _, tc := range []struct {
		name string
		txts []string
		id   string // "": an error
	}{
		{"RFC 8461 3.1 example", []string{"v=STSv1; id=20160831085700Z;"}, "20160831085700Z"},
		{"no trailing semicolon, extension", []string{"v=STSv1;id=abc123;ext=1"}, "abc123"},
		{"others dropped", []string{"v=spf1 -all", "v=STSv1; id=x1"}, "x1"},
		{"none", []string{"v=spf1 -all"}, ""},
		{"two", []string{"v=STSv1; id=a", "v=STSv1; id=b"}, ""},
		{"no id", []string{"v=STSv1;"}, ""},
		{"id too long", []string{"v=STSv1; id=" + strings.Repeat("a", 33)}, ""},
		{"id with punctuation", []string{"v=STSv1; id=2016-08-31"}, ""},
	} {
		r, err := mtasts.ParseRecords(tc.txts)
		if tc.id == "" && err == nil || tc.id != "" && (err != nil || r.ID != tc.id) {
			t.Errorf("%s: got %+v, %v; want id %q", tc.name, r, err, tc.id)
		}
	}
}

// RFC 8461 4.1: a wildcard covers exactly the leftmost label.
func TestMatch(t *testing.T) {
	p := mtasts.Policy{Mode: mtasts.Enforce, MX: []string{"mail.example.com", "*.example.net"}}
	for host, want := range map[string]bool{
		"mail.example.com": true, "MAIL.example.com.": true, "other.example.com": false,
		"mx1.example.net": true, "example.net": false, "a.b.example.net": false, "xexample.net": false,
	} {
		if got := p.Match(host); got != want {
			t.Errorf("Match(%q) = %v, want %v", host, got, want)
		}
	}
}

// policyHost is an HTTPS server with a certificate of a test CA for
// mta-sts.example.com; handler answers.
func policyHost(t *testing.T, name string, handler http.HandlerFunc) (*mtasts.Fetcher, *x509.CertPool) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(handler)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	f := &mtasts.Fetcher{RootCAs: pool, Timeout: 5 * time.Second,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if !strings.HasPrefix(addr, "mta-sts.example.com:") {
				t.Errorf("dialled %s", addr)
			}
			return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+port)
		}}
	f.Port, _ = strconv.Atoi(port)
	return f, pool
}

const goodPolicy = "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n"

func TestFetch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cert    string
		handler http.HandlerFunc
		err     string // "": fetched
	}{
		{"policy", "mta-sts.example.com", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/.well-known/mta-sts.txt" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte(goodPolicy))
		}, ""},
		{"certificate for another name", "www.example.com", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(goodPolicy)) }, "certificate"},
		{"redirect not followed", "mta-sts.example.com", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}, "302"},
		{"404", "mta-sts.example.com", http.NotFound, "404"},
		{"too large", "mta-sts.example.com", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(goodPolicy + strings.Repeat("x-pad: 0123456789abcdef\n", 4000)))
		}, "64 KiB"},
		{"not a policy", "mta-sts.example.com", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html></html>")) }, "not key: value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := policyHost(t, tc.cert, tc.handler)
			p, text, err := f.Fetch(context.Background(), "example.com")
			if tc.err == "" {
				if err != nil || p.Mode != mtasts.Enforce || text != goodPolicy {
					t.Fatalf("got %+v %q %v", p, text, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("got %v, want an error about %q", err, tc.err)
			}
		})
	}
}

func FuzzParsePolicy(f *testing.F) {
	f.Add(goodPolicy)
	f.Add("version: STSv1\r\nmode: none\r\nmax_age: 0\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := mtasts.ParsePolicy(s)
		if err != nil {
			return
		}
		if _, err := mtasts.ParsePolicy(p.String()); err != nil {
			t.Fatalf("%q parsed, its String() %q does not: %v", s, p.String(), err)
		}
	})
}

func FuzzParseRecord(f *testing.F) {
	f.Add("v=STSv1; id=20160831085700Z;")
	f.Add("v=STSv1;id=a;ext=b")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := mtasts.ParseRecord(s)
		if err == nil && (r.ID == "" || len(r.ID) > 32) {
			t.Fatalf("%q: id %q", s, r.ID)
		}
	})
}
