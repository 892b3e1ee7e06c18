package connctx_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"mailhost/connctx"
)

// pair returns both ends of a loopback TCP connection.
func pair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// ended waits for ctx to end and returns its cause.
func ended(t *testing.T, ctx context.Context) error {
	t.Helper()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-time.After(20 * time.Second):
		t.Fatal("context did not end")
		return nil
	}
}

func TestCommandEndsWhenClientHangsUp(t *testing.T) {
	srv, cli := pair(t)
	c := connctx.New(context.Background(), srv, time.Hour)
	defer c.Close()
	cmd := c.Command()
	defer cmd.End()
	cli.Close()
	if err := ended(t, cmd.Context()); !errors.Is(err, connctx.ErrHangup) {
		t.Errorf("cause %v, want ErrHangup", err)
	}
	if c.Context().Err() != nil {
		t.Error("a command's end cancelled the connection's context")
	}
}

func TestCommandEndsWhenTLSClientHangsUp(t *testing.T) {
	srv, cli := pair(t)
	// No handshake is needed: the socket under the TLS layer is watched.
	c := connctx.New(context.Background(), tls.Server(srv, &tls.Config{}), time.Hour)
	defer c.Close()
	cmd := c.Command()
	defer cmd.End()
	cli.Close()
	if err := ended(t, cmd.Context()); !errors.Is(err, connctx.ErrHangup) {
		t.Errorf("cause %v, want ErrHangup", err)
	}
}

func TestCommandDeadline(t *testing.T) {
	srv, _ := pair(t)
	c := connctx.New(context.Background(), srv, time.Millisecond)
	defer c.Close()
	cmd := c.Command()
	defer cmd.End()
	if err := ended(t, cmd.Context()); !errors.Is(err, connctx.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cause %v, want ErrTimeout", err)
	}
	cmd.Restart() // harmless once ended
}

func TestShutdownAndClose(t *testing.T) {
	srv, _ := pair(t)
	run, stop := context.WithCancel(context.Background())
	c := connctx.New(run, srv, time.Hour)
	cmd := c.Command()
	defer cmd.End()
	finishing := c.Finishing()
	defer finishing.End()
	stop()
	ended(t, cmd.Context())
	ended(t, c.Context())
	if finishing.Context().Err() != nil {
		t.Error("a shutdown cancelled a finishing command")
	}

	c2 := connctx.New(context.Background(), srv, time.Hour)
	cmd2 := c2.Command()
	defer cmd2.End()
	c2.Close()
	if err := ended(t, cmd2.Context()); !errors.Is(err, connctx.ErrClosed) {
		t.Errorf("cause %v, want ErrClosed", err)
	}
}

// A connection that is not a socket (a pipe in a test) still gets
// deadlines and cancellation, without the hang-up check.
func TestNotASocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := connctx.New(context.Background(), a, time.Hour)
	cmd := c.Command()
	c.Close()
	ended(t, cmd.Context())
	cmd.End()
}
