package acmecert

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/acme"

	"mailhost/store"
)

// orderClient is an ACME client with its registered account.
type orderClient struct {
	c  *acme.Client
	st Store
}

// client loads (or creates and stores) the account key of the directory
// and registers the account.
func (m *Manager) client(ctx context.Context) (*orderClient, error) {
	keyPEM, err := m.st.ACMEAccountKey(ctx, m.cfg.Directory)
	if errors.Is(err, store.ErrNotFound) {
		var fresh []byte
		if fresh, err = newKeyPEM(); err == nil {
			keyPEM, err = m.st.SaveACMEAccountKey(ctx, m.cfg.Directory, fresh)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("acme account key: %w", err)
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("acme account key: %w", err)
	}
	c := &acme.Client{Key: key, DirectoryURL: m.cfg.Directory, HTTPClient: m.cfg.HTTPClient, UserAgent: "mailhost"}
	acct := &acme.Account{}
	if m.cfg.Email != "" {
		acct.Contact = []string{"mailto:" + m.cfg.Email}
	}
	if _, err := c.Register(ctx, acct, acme.AcceptTOS); err != nil && !errors.Is(err, acme.ErrAccountAlreadyExists) {
		return nil, fmt.Errorf("acme register: %w", err)
	}
	return &orderClient{c: c, st: m.st}, nil
}

// order gets a certificate for name: an order, the HTTP-01 challenge of
// each pending authorization answered through the database, then the
// finalisation with a fresh P-256 key.
func (o *orderClient) order(ctx context.Context, name string) (store.ACMECertificate, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	ord, err := o.c.AuthorizeOrder(ctx, acme.DomainIDs(name))
	if err != nil {
		return store.ACMECertificate{}, fmt.Errorf("new order: %w", err)
	}
	for _, u := range ord.AuthzURLs {
		if err := o.authorize(ctx, u); err != nil {
			return store.ACMECertificate{}, err
		}
	}
	if ord, err = o.c.WaitOrder(ctx, ord.URI); err != nil {
		return store.ACMECertificate{}, fmt.Errorf("order: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return store.ACMECertificate{}, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: name}, DNSNames: []string{name}}, key)
	if err != nil {
		return store.ACMECertificate{}, err
	}
	ders, _, err := o.c.CreateOrderCert(ctx, ord.FinalizeURL, csr, true)
	if err != nil {
		return store.ACMECertificate{}, fmt.Errorf("finalize: %w", err)
	}
	leaf, err := x509.ParseCertificate(ders[0])
	if err != nil {
		return store.ACMECertificate{}, fmt.Errorf("issued certificate: %w", err)
	}
	var chain bytes.Buffer
	for _, der := range ders {
		pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	keyPEM, err := keyToPEM(key)
	if err != nil {
		return store.ACMECertificate{}, err
	}
	return store.ACMECertificate{Name: name, ChainPEM: chain.Bytes(), KeyPEM: keyPEM, NotAfter: leaf.NotAfter}, nil
}

// authorize answers one authorization's HTTP-01 challenge.
func (o *orderClient) authorize(ctx context.Context, url string) error {
	z, err := o.c.GetAuthorization(ctx, url)
	if err != nil {
		return fmt.Errorf("authorization: %w", err)
	}
	if z.Status == acme.StatusValid {
		return nil
	}
	var chal *acme.Challenge
	for _, c := range z.Challenges {
		if c.Type == "http-01" {
			chal = c
		}
	}
	if chal == nil {
		return fmt.Errorf("the authority offers no http-01 challenge for %s", z.Identifier.Value)
	}
	resp, err := o.c.HTTP01ChallengeResponse(chal.Token)
	if err != nil {
		return err
	}
	if err := o.st.SetACMEChallenge(ctx, chal.Token, resp, time.Now().Add(time.Hour)); err != nil {
		return err
	}
	defer o.st.SetACMEChallenge(context.WithoutCancel(ctx), chal.Token, "", time.Time{}) //nolint:errcheck // expires anyway
	if _, err := o.c.Accept(ctx, chal); err != nil {
		return fmt.Errorf("accept challenge: %w", err)
	}
	if _, err := o.c.WaitAuthorization(ctx, z.URI); err != nil {
		return fmt.Errorf("authorization of %s: %w", z.Identifier.Value, err)
	}
	return nil
}

func newKeyPEM() ([]byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return keyToPEM(k)
}

func keyToPEM(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func parseKeyPEM(b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("not a signing key")
	}
	return s, nil
}
