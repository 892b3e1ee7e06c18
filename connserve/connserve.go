// Package connserve runs the accept loops of the line protocol servers
// (POP3, ManageSieve) and keeps their connections, so that a shutdown can
// stop accepting, wake the sessions that wait for a command, and wait for
// the ones busy with one.
package connserve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// acceptRetry is the wait after a temporary Accept error (such as too
// many open files) before the next try.
const acceptRetry = 50 * time.Millisecond

// Conns is the set of a server's open connections. The zero value is
// ready; a Conns must not be copied after first use.
type Conns struct {
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closing bool
	wg      sync.WaitGroup
}

// Accept accepts connections on ln and serves each in a goroutine of its
// own with serve, until ln is closed or ctx ends (then it returns nil). A
// temporary error is retried; another one is returned. A connection that
// arrives after Shutdown began is closed unserved.
func (g *Conns) Accept(ctx context.Context, ln net.Listener, serve func(net.Conn)) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(acceptRetry)
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		if !g.add(c) {
			c.Close()
			return nil
		}
		go func() {
			defer g.remove(c)
			serve(c)
		}()
	}
}

// add records c, unless the shutdown has begun.
func (g *Conns) add(c net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return false
	}
	if g.conns == nil {
		g.conns = map[net.Conn]struct{}{}
	}
	g.conns[c] = struct{}{}
	g.wg.Add(1)
	return true
}

func (g *Conns) remove(c net.Conn) {
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
	g.wg.Done()
}

// Closing reports whether Shutdown has begun: a session asks it when a
// read fails, to tell a shutdown from a client gone.
func (g *Conns) Closing() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closing
}

// Shutdown closes the listeners, wakes every session blocked in a read
// (its read deadline becomes now; a session waiting for a command sees
// Closing and says goodbye) and waits for the sessions to end. With a
// grace above zero, the connections still open after it are closed; with
// none, Shutdown waits for as long as the sessions take.
func (g *Conns) Shutdown(lns []net.Listener, grace time.Duration) {
	g.mu.Lock()
	g.closing = true
	for _, ln := range lns {
		ln.Close()
	}
	for c := range g.conns {
		c.SetReadDeadline(time.Now())
	}
	g.mu.Unlock()
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	if grace <= 0 {
		<-done
		return
	}
	select {
	case <-done:
	case <-time.After(grace):
		g.mu.Lock()
		for c := range g.conns {
			c.Close()
		}
		g.mu.Unlock()
		<-done
	}
}
