package mta_test

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailhost/mta"
)

// slowPeer is a go-smtp server on loopback that takes rcptDelay to answer
// each RCPT and counts, per recipient, the RCPTs it accepted and the
// messages it received (end of DATA answered 250).
type slowPeer struct {
	port      int
	rcptDelay time.Duration
	mu        sync.Mutex
	rcpts     map[string]int
	datas     map[string]int
}

func newSlowPeer(t *testing.T, rcptDelay time.Duration) *slowPeer {
	t.Helper()
	p := &slowPeer{rcptDelay: rcptDelay, rcpts: map[string]int{}, datas: map[string]int{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &slowSession{p: p}, nil
	}))
	srv.Domain = "slow.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	p.port = ln.Addr().(*net.TCPAddr).Port
	return p
}

func (p *slowPeer) counts() (rcpts, datas map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rcpts, datas = map[string]int{}, map[string]int{}
	for k, v := range p.rcpts {
		rcpts[k] = v
	}
	for k, v := range p.datas {
		datas[k] = v
	}
	return rcpts, datas
}

type slowSession struct {
	p  *slowPeer
	to []string
}

func (s *slowSession) Mail(string, *smtp.MailOptions) error { return nil }

func (s *slowSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	time.Sleep(s.p.rcptDelay) // the peer is slow, not the test's ordering
	s.p.mu.Lock()
	s.p.rcpts[to]++
	s.p.mu.Unlock()
	s.to = append(s.to, to)
	return nil
}

func (s *slowSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.p.mu.Lock()
	for _, to := range s.to {
		s.p.datas[to]++
	}
	s.p.mu.Unlock()
	return nil
}

func (s *slowSession) Reset()        { s.to = nil }
func (s *slowSession) Logout() error { return nil }

// Two nodes with one worker each share the queue; the peer is slow at
// RCPT, so one node alone needs longer than the lease for all messages.
// A node must not hold recipients it cannot start on, and each attempt
// ends within its lease: every recipient is then delivered exactly once.
func TestOutboundTwoNodesSlowPeerDeliverOnce(t *testing.T) {
	e, z, _ := outEnv(t)
	peer := newSlowPeer(t, 400*time.Millisecond)
	const n = 8
	want := map[string]bool{}
	for i := 0; i < n; i++ { // one message per recipient: one transaction each
		to := fmt.Sprintf("u%d@remote.example", i)
		want[to] = true
		e.enqueue("alice@example.test", to)
	}
	tune := func(c *mta.OutboundConfig) { c.Workers, c.Lease = 1, 2*time.Second }
	_, stopA := e.runOutbound(z, peer.port, "node-a", tune)
	_, stopB := e.runOutbound(z, peer.port, "node-b", tune)
	waitFor(t, "the queue to drain", func() bool { return e.queueLen() == 0 })
	// A node that lost a lease may still be talking to the peer: stop
	// both and let their deliveries end before counting.
	stopA()
	stopB()
	rcpts, datas := peer.counts()
	total := 0
	for _, c := range datas {
		total += c
	}
	t.Logf("peer saw %d transactions for %d recipients; RCPT %v; DATA %v", total, n, rcpts, datas)
	for to := range want {
		if rcpts[to] != 1 || datas[to] != 1 {
			t.Errorf("%s: %d RCPT accepted, %d messages received; want 1 and 1", to, rcpts[to], datas[to])
		}
	}
	if len(rcpts) != n || len(datas) != n {
		t.Errorf("peer saw %d/%d distinct recipients, want %d", len(rcpts), len(datas), n)
	}
}
