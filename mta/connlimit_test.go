package mta_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"mailhost/connlimit"
	"mailhost/mta"
	"mailhost/testsupport"
)

// The submission listeners (587 and 465) count a client's connections
// together; over the limit, 587 answers 421 in clear text and 465 answers
// it over TLS; mynetworks are exempt.
func TestSubmissionConnectionLimit(t *testing.T) {
	lim := connlimit.New(1, defaultConfig().Mynetworks)
	e := newSubEnv(t, func(c *mta.Config) { c.MaxConnsPerClient, c.Limiter = 1, lim })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.srv.Config()
	cfg.Submission.ImplicitTLS = true
	s465 := e.srv.Sibling(ln, cfg, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s465.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	addr465 := ln.Addr().String()
	client := &tls.Config{InsecureSkipVerify: true}

	g, c587 := testsupport.FirstLine(t, "127.0.0.2", e.addr, nil)
	if !strings.HasPrefix(g, "220 mx.test ") {
		t.Fatalf("first connection: %q", g)
	}
	const refused = "421 4.7.0 mx.test Error: too many connections from 127.0.0.2"
	if g, c := testsupport.FirstLine(t, "127.0.0.2", addr465, client); g != refused {
		t.Fatalf("second connection, on 465: %q, want %q over TLS", g, refused)
	} else if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("refused connection left open: %v", err)
	}
	if g, _ := testsupport.FirstLine(t, "127.0.0.2", e.addr, nil); g != refused {
		t.Fatalf("second connection, on 587: %q", g)
	}
	for i := 0; i < 3; i++ { // mynetworks
		if g, _ := testsupport.FirstLine(t, "127.0.0.1", addr465, client); !strings.HasPrefix(g, "220 ") {
			t.Fatalf("mynetworks client, connection %d: %q", i, g)
		}
	}

	c587.Close()
	testsupport.Eventually(t, 30*time.Second, "a connection to be served again after the first left", func() bool {
		g, c := testsupport.FirstLine(t, "127.0.0.2", addr465, client)
		c.Close()
		return strings.HasPrefix(g, "220 ")
	})
}
