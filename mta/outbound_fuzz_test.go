package mta

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"mailhost/store"
)

// FuzzDotStuffing: what the outbound client sends, un-stuffed as a
// server reads it (RFC 5321 4.5.2), is the message, and nothing in it
// ends the DATA early.
func FuzzDotStuffing(f *testing.F) {
	for _, s := range []string{"", ".", ".\r\n", "a\r\n.\r\nb\r\n", "..\r\n", "x", "a\r\n.", "\r\n.\r\n.\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		body = toCRLF(body)
		var b bytes.Buffer
		if err := writeDotStuffed(&b, body); err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(b.String(), "\r\n")
		var got strings.Builder
		ended := false
		for i, l := range lines {
			if l == ".\r\n" {
				if i != len(lines)-2 {
					t.Fatalf("DATA ends early at line %d of %q", i, b.String())
				}
				ended = true
				break
			}
			got.WriteString(strings.TrimPrefix(l, "."))
		}
		if !ended || got.String() != string(body) {
			t.Fatalf("sent %q for %q", b.String(), body)
		}
	})
}

// FuzzNextHop: any next hop string parses or fails without panicking,
// and a parsed one has a host and a port.
func FuzzNextHop(f *testing.F) {
	for _, s := range []string{"[10.0.0.1]:2525", "mx.example.com", "relay:587", "[::1]:25", "[x", ":", "host:0", "[]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseNextHop(s, 25)
		if err == nil && (r.host == "" || r.port < 1 || r.port > 65535) {
			t.Fatalf("%q -> %+v", s, r)
		}
	})
}

// FuzzOutboundReplies: whatever a remote server answers, the client
// session ends with a result for every recipient, each with a status,
// and never panics.
func FuzzOutboundReplies(f *testing.F) {
	for _, s := range []string{
		"220 hi\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n",
		"220-a\r\n220 b\r\n250-x\r\n250 STARTTLS\r\n454 no\r\n",
		"554 no\r\n", "220 x\r\n421 bye\r\n", "garbage\r\n", "220 x\r\n250 ok\r\n550 5.1.1 x\r\n",
		"220 x\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n99 odd\r\n",
	} {
		f.Add(s)
	}
	j := store.QueueJob{ID: 1, Sender: "a@b.example", Body: []byte("Subject: x\r\n\r\n.dot\r\n"),
		Recipients: []store.QueueJobRecipient{{ID: 1, Address: "x@c.example"}, {ID: 2, Address: "y@c.example"}}}
	f.Fuzz(func(t *testing.T, script string) {
		client, server := net.Pipe()
		go func() {
			go io.Copy(io.Discard, server)
			server.SetDeadline(time.Now().Add(time.Second))
			server.Write([]byte(script))
			time.Sleep(20 * time.Millisecond)
			server.Close()
		}()
		o := &Outbound{cfg: OutboundConfig{Hostname: "mx.test", TLSPolicy: "may"}}
		c := &outConn{conn: client, text: textproto.NewConn(client), timeout: 300 * time.Millisecond,
			dataTO: 300 * time.Millisecond, stop: func() bool { return true }}
		if _, _, err := c.reply("greeting", 220, c.timeout); err != nil {
			client.Close()
			return
		}
		defer c.close()
		res, _, retryPlain, _ := o.transaction(context.Background(), c, j, route{host: "peer"}, "peer", j.Recipients, baseCheck("may"), false)
		if retryPlain {
			return
		}
		if len(res) != len(j.Recipients) {
			t.Fatalf("%d results for %d recipients", len(res), len(j.Recipients))
		}
		for _, a := range res {
			if a.status == "" {
				t.Fatalf("result without status: %+v", a)
			}
		}
	})
}
