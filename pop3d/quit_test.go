package pop3d_test

import (
	"testing"
)

// A client that QUITs and logs in again at once (fetchmail polling, the
// stress test's POP3 loop) is let in: the mailbox's lock is released
// before QUIT is answered, not after (RFC 1939 6: the UPDATE state ends the
// session's hold on the maildrop).
func TestLoginRightAfterQuit(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.addMailbox(t, alice, "secret")
	for i := range 30 {
		e.deliver(t, alice, message("one", "x\n"))
		c := dial(t, e.plain)
		c.login(alice, "secret")
		if i%2 == 0 {
			c.expect("DELE 1", "+OK")
		}
		c.expect("QUIT", "+OK")
		c.conn.Close()
	}
	c := dial(t, e.plain)
	c.login(alice, "secret")
	c.expect("STAT", "+OK 15 ")
}
