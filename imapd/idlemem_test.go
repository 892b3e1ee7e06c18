package imapd_test

import (
	"crypto/tls"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"mailhost/testsupport"
)

// TestIdleMemoryProfile (IMAPD_IDLE_PROFILE=file) opens 500 idle sessions
// and writes a heap profile of what they hold.
func TestIdleMemoryProfile(t *testing.T) {
	out := os.Getenv("IMAPD_IDLE_PROFILE")
	if out == "" {
		t.Skip("set IMAPD_IDLE_PROFILE=file")
	}
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	const n = 500
	var conns []net.Conn
	buf := make([]byte, 8192)
	readUntil := func(c net.Conn, s string) {
		var got string
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		for !strings.Contains(got, s) {
			k, err := c.Read(buf)
			if err != nil {
				t.Fatal(err, got)
			}
			got += string(buf[:k])
		}
	}
	runtime.MemProfileRate = 1
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		var c net.Conn
		var err error
		if os.Getenv("IMAPD_IDLE_TLS") != "" {
			c, err = tls.Dial("tcp", e.nodes[0].tlsAddr, &tls.Config{InsecureSkipVerify: true})
		} else {
			c, err = net.Dial("tcp", e.nodes[0].addr)
		}
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		readUntil(c, "\r\n")
		c.Write([]byte("a LOGIN bob@example.test secret\r\nb SELECT INBOX\r\nc IDLE\r\n"))
		readUntil(c, "+ idling")
	}
	// "+ idling" goes out before the server starts the session's Idle:
	// measure once every session waits inside it.
	testsupport.Eventually(t, time.Minute, "every session inside Idle", func() bool {
		var dump strings.Builder
		pprof.Lookup("goroutine").WriteTo(&dump, 2)
		return strings.Count(dump.String(), "imapd.(*session).Idle(") >= n
	})
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("per idle session: heap in use %d B, stacks %d B, heap objects %d",
		(int64(after.HeapInuse)-int64(before.HeapInuse))/n, (int64(after.StackInuse)-int64(before.StackInuse))/n,
		(int64(after.HeapObjects)-int64(before.HeapObjects))/n)
	f, _ := os.Create(out)
	pprof.Lookup("heap").WriteTo(f, 0)
	f.Close()
	for _, c := range conns {
		c.Close()
	}
}
