package mtasts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// MaxPolicySize bounds a policy file (RFC 8461 3.3 suggests 64 KiB).
const MaxPolicySize = 64 << 10

// Fetcher gets policy files over HTTPS (RFC 8461 3.3): from
// https://mta-sts.<domain>/.well-known/mta-sts.txt, with a certificate
// that verifies for that name, no redirects followed, only a 200 taken,
// at most MaxPolicySize bytes, within Timeout.
type Fetcher struct {
	// Dial connects to host:port; the caller resolves the name (mailhost
	// through its one resolver, dnsres).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// RootCAs verify the policy host's certificate; nil: the system's.
	RootCAs *x509.CertPool
	Port    int           // 443 unless set (tests)
	Timeout time.Duration // the whole fetch; 0: one minute
}

// Fetch gets and parses the policy of domain; it returns the file's text
// too.
func (f *Fetcher) Fetch(ctx context.Context, domain string) (Policy, string, error) {
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	port := f.Port
	if port == 0 {
		port = 443
	}
	host := "mta-sts." + domain
	client := &http.Client{
		Transport: &http.Transport{
			Proxy:             nil, // the policy host is asked directly
			DialContext:       f.Dial,
			TLSClientConfig:   &tls.Config{RootCAs: f.RootCAs, MinVersion: tls.VersionTLS12, ServerName: host},
			DisableKeepAlives: true,
		},
		// RFC 8461 3.3: "HTTP 3xx redirects MUST NOT be followed".
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       timeout,
	}
	u := "https://" + host
	if port != 443 {
		u += ":" + strconv.Itoa(port)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"/.well-known/mta-sts.txt", nil)
	if err != nil {
		return Policy{}, "", fmt.Errorf("mta-sts fetch %s: %w", host, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return Policy{}, "", fmt.Errorf("mta-sts fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Policy{}, "", fmt.Errorf("mta-sts fetch %s: HTTP status %s", host, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxPolicySize+1))
	if err != nil {
		return Policy{}, "", fmt.Errorf("mta-sts fetch %s: %w", host, err)
	}
	if len(b) > MaxPolicySize {
		return Policy{}, "", errors.New("mta-sts fetch " + host + ": policy larger than 64 KiB")
	}
	p, err := ParsePolicy(string(b))
	return p, string(b), err
}
