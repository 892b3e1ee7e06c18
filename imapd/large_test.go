package imapd_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLargeMessageIsStreamed fetches a 24 MB message whole, by part and
// decoded (BINARY), and its structure: the server allocates far less than
// the message's size for each.
func TestLargeMessageIsStreamed(t *testing.T) {
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	var sb strings.Builder
	sb.WriteString("From: a@example.test\r\nSubject: big\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n" +
		"--B\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	chunk := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("0123456789abcdef", 57)[:57]))
	for sb.Len() < 24<<20 {
		sb.WriteString(chunk + "\r\n")
	}
	sb.WriteString("--B--\r\n")
	msg := sb.String()
	name := fmt.Sprintf("1700000000.big.host,S=%d", len(msg))
	if err := os.WriteFile(filepath.Join(e.maildirPath("bob@example.test"), "new", name), []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, e.nodes[0].addr)
	r.wait = 2 * time.Minute // 24 MB under the race detector on a busy machine
	r.send("a LOGIN bob@example.test secret\r\n")
	r.expect("a OK")
	r.send("b SELECT INBOX\r\n")
	r.expect("b OK")
	for _, tc := range []struct {
		item    string
		minSize int
	}{
		{"BODY.PEEK[]", len(msg)},
		{"BODY.PEEK[2]", 23 << 20},
		{"BINARY.PEEK[2]", 17 << 20},
		{"BODY.PEEK[TEXT]<100.1000>", 1000},
		{"BODYSTRUCTURE", 0},
		{"RFC822.SIZE", 0},
	} {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r.send("c UID FETCH 1 (" + tc.item + ")\r\n")
		line := r.expect("* 1 FETCH")
		size := 0
		if i := strings.LastIndexByte(line, '{'); i >= 0 && strings.HasSuffix(line, "}\r\n") {
			size, _ = strconv.Atoi(line[i+1 : len(line)-3])
			if _, err := io.CopyN(io.Discard, r.br, int64(size)); err != nil {
				t.Fatal(err)
			}
		}
		r.expect("c OK")
		runtime.ReadMemStats(&after)
		if size < tc.minSize {
			t.Errorf("%s: literal of %d bytes, want at least %d (%q)", tc.item, size, tc.minSize, line[:min(len(line), 200)])
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
			t.Errorf("%s: %d bytes allocated for a %d byte message", tc.item, alloc, len(msg))
		}
	}
}
