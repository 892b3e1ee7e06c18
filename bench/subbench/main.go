// Command subbench is the load generator of bench/submission.sh: C
// concurrent authenticated submission sessions (AUTH PLAIN), each sending
// PER messages of SIZE bytes per connection until N are accepted; it
// prints the messages accepted per second.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2587", "submission listener")
	user := flag.String("user", "bench@bench.test", "login")
	pass := flag.String("pass", "", "password")
	to := flag.String("to", "sink@remote.test", "recipient")
	n := flag.Int("n", 2000, "messages")
	c := flag.Int("c", 20, "concurrent sessions")
	per := flag.Int("per", 20, "messages per connection")
	size := flag.Int("size", 4096, "message size in bytes")
	starttls := flag.Bool("starttls", false, "use STARTTLS")
	flag.Parse()
	body := strings.Repeat("x", 76) + "\r\n"
	msg := "From: " + *user + "\r\nTo: " + *to + "\r\nSubject: bench\r\n\r\n" + strings.Repeat(body, max(1, *size/len(body)))
	var next, failed atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < *c; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Load() < int64(*n) {
				var cl *smtp.Client
				var err error
				if *starttls {
					cl, err = smtp.DialStartTLS(*addr, &tls.Config{InsecureSkipVerify: true})
				} else {
					cl, err = smtp.Dial(*addr)
				}
				if err != nil {
					log.Fatal(err)
				}
				if err := cl.Auth(sasl.NewPlainClient("", *user, *pass)); err != nil {
					log.Fatal(err)
				}
				for k := 0; k < *per; k++ {
					if next.Add(1) > int64(*n) {
						break
					}
					if err := cl.SendMail(*user, []string{*to}, strings.NewReader(msg)); err != nil {
						failed.Add(1)
						fmt.Fprintln(os.Stderr, "send:", err)
					}
				}
				cl.Quit()
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	fmt.Printf("submission: %d messages (%d failed) in %.2fs: %.0f msgs/s (c=%d, %d per connection, %d bytes)\n",
		*n, failed.Load(), el.Seconds(), float64(*n)/el.Seconds(), *c, *per, len(msg))
}
