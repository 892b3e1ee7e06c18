package imapd

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"testing/iotest"
	"time"
)

// crlfReference converts bare LFs to CRLF the obvious way.
func crlfReference(b []byte) []byte {
	var out []byte
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

func FuzzMessage(f *testing.F) {
	f.Add([]byte("Subject: x\n\nbody\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: message/rfc822\r\n\r\n" +
		"Content-Type: multipart/alternative; boundary=C\r\n\r\n--C\r\n\r\nx\r\n--C--\r\n--B\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\naGk=\r\n--B--\r\n"))
	f.Add([]byte("\r\n\n\r\r\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				panic(fmt.Sprintf("hangs on %q", msg))
			}
		}()
		want := crlfReference(msg)
		for _, r := range []io.Reader{newCRLFReader(bytes.NewReader(msg)), newCRLFReader(iotest.OneByteReader(bytes.NewReader(msg))),
			newCRLFReader(iotest.HalfReader(bytes.NewReader(msg)))} {
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("crlfReader(%q) = %q, %v; want %q", msg, got, err, want)
			}
		}
		if n, err := headerLength(bytes.NewReader(want)); err != nil || n > int64(len(want)) {
			t.Fatalf("headerLength = %d, %v for %d bytes", n, err, len(want))
		}
		bodyStructure(bytes.NewReader(want))
		for _, path := range [][]int{{1}, {2}, {1, 1}, {2, 1}, {1, 2, 3}} {
			if r := partBody(bytes.NewReader(want), path, false); r != nil {
				io.Copy(io.Discard, r)
			}
			if r := partBody(bytes.NewReader(want), path, true); r != nil {
				io.Copy(io.Discard, r)
			}
			if r := binaryBody(bytes.NewReader(want), path); r != nil {
				io.Copy(io.Discard, r)
			}
		}
	})
}
