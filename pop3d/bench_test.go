package pop3d_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkPOP3Download measures a full download as a POP3 client does it:
// login, STAT, RETR of every message one after the other (no pipelining),
// QUIT without deleting. By default it runs against mailhost in process (a
// real PostgreSQL, Maildir files, loopback TCP) with POP3_BENCH_MESSAGES
// messages (1000) of about POP3_BENCH_SIZE octets (10240, LF line endings
// as delivered) over plain POP3 and POP3S. With POP3_BENCH_ADDR (and
// POP3_BENCH_USER, POP3_BENCH_PASS, POP3_BENCH_TLS=1 for implicit TLS) it
// downloads from that server instead, whose mailbox holds the messages
// already (bench/pop3-download.sh uses it for Dovecot). Reports msgs/s;
// MB/s is the octets received.
func BenchmarkPOP3Download(b *testing.B) {
	if addr := os.Getenv("POP3_BENCH_ADDR"); addr != "" {
		b.Run("external", func(b *testing.B) {
			benchDownload(b, addr, os.Getenv("POP3_BENCH_TLS") == "1", os.Getenv("POP3_BENCH_USER"), os.Getenv("POP3_BENCH_PASS"))
		})
		return
	}
	n, size := envInt("POP3_BENCH_MESSAGES", 1000), envInt("POP3_BENCH_SIZE", 10240)
	e := newEnv(b, envOptions{})
	e.addMailbox(b, alice, "secret")
	for i := 0; i < n; i++ {
		e.deliver(b, alice, benchMessage(i, size))
	}
	b.Run("pop3", func(b *testing.B) { benchDownload(b, e.plain, false, alice, "secret") })
	b.Run("pop3s", func(b *testing.B) { benchDownload(b, e.tlsAddr, true, alice, "secret") })
}

// benchMessage is a plain text message of about size octets with LF line
// endings, as written by the delivery agent.
func benchMessage(i, size int) string {
	var s strings.Builder
	fmt.Fprintf(&s, "From: sender%d@remote.test\nTo: alice@example.com\nSubject: message %d\n"+
		"Message-ID: <%d@remote.test>\nDate: Mon, 2 Jan 2026 15:04:05 +0000\n\n", i, i, i)
	line := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 2)[:72] + "\n"
	for s.Len() < size {
		s.WriteString(line)
	}
	return s.String()
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func benchDownload(b *testing.B, addr string, implicitTLS bool, user, pw string) {
	var msgs, octets int64
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		m, o := download(b, addr, implicitTLS, user, pw)
		msgs += m
		octets += o
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.SetBytes(octets / int64(b.N))
	b.ReportMetric(float64(msgs)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(msgs)/float64(b.N), "msgs/op")
}

// download fetches every message once and returns how many and how many
// octets (the multi-line bodies as received).
func download(b *testing.B, addr string, implicitTLS bool, user, pw string) (int64, int64) {
	var conn net.Conn
	var err error
	if implicitTLS {
		conn, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) // the bench server's self-signed certificate
	} else {
		conn, err = net.Dial("tcp", addr)
	}
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReaderSize(conn, 64<<10)
	w := bufio.NewWriter(conn)
	line := func() string {
		l, err := r.ReadString('\n')
		if err != nil {
			b.Fatalf("read: %v", err)
		}
		return l
	}
	cmd := func(c string) string {
		w.WriteString(c + "\r\n")
		w.Flush()
		l := line()
		if !strings.HasPrefix(l, "+OK") {
			b.Fatalf("%s: %s", strings.Fields(c)[0], l)
		}
		return l
	}
	line() // greeting
	cmd("USER " + user)
	cmd("PASS " + pw)
	var n int64
	fmt.Sscanf(strings.TrimPrefix(cmd("STAT"), "+OK "), "%d", &n)
	var octets int64
	for i := int64(1); i <= n; i++ {
		cmd(fmt.Sprintf("RETR %d", i))
		for {
			l, err := r.ReadSlice('\n')
			if err != nil && err != bufio.ErrBufferFull {
				b.Fatalf("RETR %d: %v", i, err)
			}
			octets += int64(len(l))
			if len(l) == 3 && l[0] == '.' && l[1] == '\r' {
				break
			}
		}
	}
	cmd("QUIT")
	io.Copy(io.Discard, r)
	return n, octets
}
