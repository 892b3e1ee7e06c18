package smtpd

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	gosmtp "github.com/emersion/go-smtp"
)

// benchMessage is a 4 KiB message with a dot-stuffed line.
var benchMessage = "Subject: bench\r\n\r\n" + strings.Repeat("0123456789 abcdefghij klmnopqrstuvwxyz ABCDEFGHIJ\r\n", 80) + "..stuffed\r\n"

// benchTransactions runs b.N pipelined transactions (MAIL, two RCPT,
// DATA, a 4 KiB message) on one connection to the server at addr, and
// reports the writes the server made per transaction.
func benchTransactions(b *testing.B, addr string, writes func() int32) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	r.ReadString('\n')
	io.WriteString(c, "EHLO c\r\n")
	for {
		l, _ := r.ReadString('\n')
		if len(l) < 4 || l[3] == ' ' {
			break
		}
	}
	tx := "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\nDATA\r\n"
	before := writes()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		io.WriteString(c, tx)
		for n := 0; n < 4; n++ { // up to 354
			r.ReadString('\n')
		}
		io.WriteString(c, benchMessage+".\r\n")
		r.ReadString('\n')
	}
	b.StopTimer()
	b.ReportMetric(float64(writes()-before)/float64(b.N), "writes/op")
}

// BenchmarkTransaction: smtpd with the test backend.
func BenchmarkTransaction(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ts := &testServer{}
	ts.srv = &Server{Hostname: "mx.test", Backend: benchBackend{}, MaxMessageBytes: 10 << 20, MaxLineLength: 16384}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go ts.srv.ServeConn(countingConn{c, &ts.writes})
		}
	}()
	benchTransactions(b, l.Addr().String(), ts.writes.Load)
}

// BenchmarkTransactionGoSMTP is the same load on go-smtp's server, which
// mta ran on before, for comparison.
func BenchmarkTransactionGoSMTP(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ts := &testServer{}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) { return goSession{}, nil }))
	srv.Domain, srv.MaxMessageBytes, srv.MaxLineLength = "mx.test", 10<<20, 16384
	go srv.Serve(countingListener{l, &ts.writes})
	defer srv.Close()
	benchTransactions(b, l.Addr().String(), ts.writes.Load)
}

type countingListener struct {
	net.Listener
	writes *atomic.Int32
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.writes}, nil
}

type goSession struct{}

func (goSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (goSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (goSession) Data(r io.Reader) error                 { _, err := io.ReadAll(r); return err }
func (goSession) Reset()                                 {}
func (goSession) Logout() error                          { return nil }

// benchBackend's sessions accept everything and read the message, as
// goSession does.
type benchBackend struct{}

func (benchBackend) NewSession(*Conn) (Session, error)     { return benchSession{}, nil }
func (benchBackend) Refused(_ *Conn, r Refusal) *SMTPError { return r.Reply }

type benchSession struct{}

func (benchSession) Mail(string, *MailOptions) error { return nil }
func (benchSession) Rcpt(string, *RcptOptions) error { return nil }
func (benchSession) Data(r io.Reader) error          { _, err := io.ReadAll(r); return err }
func (benchSession) Reset()                          {}
func (benchSession) Logout() error                   { return nil }
