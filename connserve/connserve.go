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

// AcceptRetry paces an accept loop through temporary errors (too many
// open files, a connection aborted before it was accepted): the wait
// before the next try doubles from 5 ms up to a second, as net/http's
// Server does. The zero value is ready.
type AcceptRetry struct {
	delay time.Duration
}

// Wait says whether err is temporary: EMFILE, ENFILE, ECONNABORTED and the
// like, whose Temporary is true though their Timeout is false. For one it
// first sleeps the next delay.
func (r *AcceptRetry) Wait(err error) bool {
	var te interface{ Temporary() bool }
	if !errors.As(err, &te) || !te.Temporary() {
		return false
	}
	r.delay = min(max(2*r.delay, 5*time.Millisecond), time.Second)
	time.Sleep(r.delay)
	return true
}

// Delay is the last wait (for a log line).
func (r *AcceptRetry) Delay() time.Duration { return r.delay }

// Reset starts the next run of errors from the shortest wait.
func (r *AcceptRetry) Reset() { r.delay = 0 }

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
	var retry AcceptRetry
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if retry.Wait(err) {
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		retry.Reset()
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
