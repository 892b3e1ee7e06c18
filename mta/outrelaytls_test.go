package mta_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"mailhost/mta"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mailhost test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// serverTLS is a server configuration with a certificate for name.
func (ca *testCA) serverTLS(t *testing.T, name string) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// authSink is a relay host (go-smtp) that takes AUTH PLAIN, also without
// TLS, and records every password it receives and over what.
type authSink struct {
	port  int
	mu    sync.Mutex
	auths []sinkAuth
	msgs  int
}

type sinkAuth struct {
	user, pass string
	tls        bool
}

func newAuthSink(t *testing.T, conf *tls.Config) *authSink {
	t.Helper()
	s := &authSink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, isTLS := c.TLSConnectionState()
		return &authSinkSession{s: s, tls: isTLS}, nil
	}))
	srv.Domain = "relay.test"
	srv.TLSConfig = conf
	srv.AllowInsecureAuth = true // a careless relay host: the client must not send
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	s.port = ln.Addr().(*net.TCPAddr).Port
	return s
}

func (s *authSink) seen() ([]sinkAuth, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sinkAuth(nil), s.auths...), s.msgs
}

type authSinkSession struct {
	s    *authSink
	tls  bool
	user string
}

func (ss *authSinkSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (ss *authSinkSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		ss.s.mu.Lock()
		ss.s.auths = append(ss.s.auths, sinkAuth{user: user, pass: pass, tls: ss.tls})
		ss.s.mu.Unlock()
		if pass != "relaypass" {
			return errors.New("bad password")
		}
		ss.user = user
		return nil
	}), nil
}
func (ss *authSinkSession) Mail(string, *smtp.MailOptions) error {
	if ss.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	return nil
}
func (ss *authSinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (ss *authSinkSession) Data(r io.Reader) error {
	if _, err := io.ReadAll(r); err != nil {
		return err
	}
	ss.s.mu.Lock()
	ss.s.msgs++
	ss.s.mu.Unlock()
	return nil
}
func (ss *authSinkSession) Reset()        {}
func (ss *authSinkSession) Logout() error { return nil }

// brokenTLS offers STARTTLS but every handshake fails.
func brokenTLS() *tls.Config {
	return &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		return nil, errors.New("no certificate")
	}}
}

// TestOutboundRelayAuthOnlyOverVerifiedTLS: the relay host password goes
// out only over TLS whose certificate verifies (against the configured CA)
// for the relay host's name. No STARTTLS, a failed handshake (whatever
// smtp.outbound_tls says), an unknown CA or a certificate for another
// name: the message waits and the password is never sent.
func TestOutboundRelayAuthOnlyOverVerifiedTLS(t *testing.T) {
	ca := newTestCA(t)
	other := newTestCA(t)
	for _, tc := range []struct {
		name      string
		conf      *tls.Config
		policy    string
		delivered bool
	}{
		{"verified", ca.serverTLS(t, "relay.test"), "may", true},
		{"no STARTTLS", nil, "may", false},
		{"handshake fails, policy may", brokenTLS(), "may", false},
		{"unknown CA", other.serverTLS(t, "relay.test"), "encrypt", false},
		{"another name", ca.serverTLS(t, "mail.elsewhere.test"), "may", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, z, _ := outEnv(t)
			z.Add(t, "relay.test. 60 IN A 127.0.0.1")
			relay := newAuthSink(t, tc.conf)
			id := e.enqueue("alice@example.test", "x@nowhere.example")
			e.startOutbound(z, 1, "node-a", func(c *mta.OutboundConfig) {
				c.Relayhost = "[relay.test]:" + strconv.Itoa(relay.port)
				c.RelayUser, c.RelayPassword = "relayuser", "relaypass"
				c.RootCAs = ca.pool
				c.TLSPolicy = tc.policy
			})
			waitFor(t, "an attempt", func() bool {
				r, ok := e.rcpts(id)["x@nowhere.example"]
				return !ok || r.attempts >= 1
			})
			auths, msgs := relay.seen()
			if tc.delivered {
				if msgs != 1 || len(auths) != 1 || !auths[0].tls {
					t.Fatalf("relay got %d messages, logins %+v; want one message after one login over TLS", msgs, auths)
				}
				return
			}
			if r := e.rcpts(id)["x@nowhere.example"]; r.state != "deferred" {
				t.Errorf("recipient %+v, want deferred", r)
			}
			if len(auths) != 0 || msgs != 0 {
				t.Fatalf("relay got logins %+v and %d messages; the password must not leave without verified TLS", auths, msgs)
			}
		})
	}
}

// TestOutboundVerifyPolicy: a destination with the TLS policy verify gets
// mail only over STARTTLS with a certificate for its MX host's name.
func TestOutboundVerifyPolicy(t *testing.T) {
	ca := newTestCA(t)
	for _, tc := range []struct {
		name      string
		conf      *tls.Config
		delivered bool
	}{
		{"certificate for the MX", ca.serverTLS(t, "mx.remote.example"), true},
		{"certificate for another name", ca.serverTLS(t, "mx.other.example"), false},
		{"no STARTTLS", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, z, _ := outEnv(t)
			s := newSink(t, tc.conf)
			id := e.enqueue("alice@example.test", "x@remote.example")
			e.startOutbound(z, s.port, "node-a", func(c *mta.OutboundConfig) {
				c.TLSDomains = map[string]string{"remote.example": "verify"}
				c.RootCAs = ca.pool
			})
			waitFor(t, "an attempt", func() bool {
				r, ok := e.rcpts(id)["x@remote.example"]
				return !ok || r.attempts >= 1
			})
			msgs := s.messages()
			if tc.delivered {
				if len(msgs) != 1 || !msgs[0].tls {
					t.Fatalf("sink got %+v, want one message over TLS", msgs)
				}
				return
			}
			if r := e.rcpts(id)["x@remote.example"]; r.state != "deferred" || len(msgs) != 0 {
				t.Fatalf("recipient %+v, sink got %d messages; want deferred, none", r, len(msgs))
			}
		})
	}
}
