package dnsres_test

import (
	"context"
	"errors"
	"net"
	"testing"

	"mailhost/dnsres"
	"mailhost/dnstest"
)

// TestDialer: a name only the configured resolver knows is dialled at
// the address it gives; a name it denies fails with its error.
func TestDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{})
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
			close(accepted)
		}
	}()
	ns := dnstest.Start(t, "example.test. 300 IN SOA ns.example.test. admin.example.test. 1 3600 600 86400 60",
		"reports.example.test. 300 IN A 127.0.0.1")
	r, err := dnsres.New(dnsres.Config{Servers: []string{ns.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	dial := r.Dialer(0)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	c, err := dial(context.Background(), "tcp", net.JoinHostPort("reports.example.test", port))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	<-accepted
	if _, err := dial(context.Background(), "tcp", net.JoinHostPort("nowhere.example.test", port)); !errors.Is(err, dnsres.ErrNotFound) {
		t.Errorf("dialling a name the resolver denies: %v, want ErrNotFound", err)
	}
}
