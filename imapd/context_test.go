package imapd_test

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"mailhost/testdb"
)

// rawIMAP logs in over a plain connection and sends a STATUS that waits
// on the locked folders table.
func rawStatus(t *testing.T, e *env, n *node) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", n.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	if l, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(l, "* OK") {
		t.Fatalf("greeting %q %v", l, err)
	}
	io.WriteString(c, "a LOGIN alice@example.test pw\r\n")
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(l, "a ") {
			if !strings.HasPrefix(l, "a OK") {
				t.Fatalf("login: %q", l)
			}
			break
		}
	}
	return c, r
}

// TestDisconnectCancelsCommand: a client that hangs up while its command
// waits on the database cancels that query.
func TestDisconnectCancelsCommand(t *testing.T) {
	e := newEnv(t)
	e.addMailbox(t, "alice@example.test", "pw", 0)
	c, _ := rawStatus(t, e, e.nodes[0])
	b := testdb.Block(t, e.db, "folders")
	io.WriteString(c, "b STATUS INBOX (MESSAGES)\r\n")
	b.WaitFor(t, 1, "STATUS to wait for the folders table")
	c.Close()
	b.WaitFor(t, 0, "STATUS's query to be cancelled")
}

// TestShutdownCancelsCommand: a shutdown cancels a command waiting on the
// database, and the server stops while the table is still locked.
func TestShutdownCancelsCommand(t *testing.T) {
	e := newEnv(t)
	e.addMailbox(t, "alice@example.test", "pw", 0)
	c, r := rawStatus(t, e, e.nodes[0])
	b := testdb.Block(t, e.db, "folders")
	io.WriteString(c, "b STATUS INBOX (MESSAGES)\r\n")
	b.WaitFor(t, 1, "STATUS to wait for the folders table")
	stopped := make(chan struct{})
	go func() { e.nodes[0].stop(); close(stopped) }()
	b.WaitFor(t, 0, "STATUS's query to be cancelled")
	<-stopped
	if rest, err := io.ReadAll(r); err != nil {
		t.Errorf("after shutdown: %q %v; want the connection closed", rest, err)
	}
}
