package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeServer accepts one connection on loopback, greets, and hands the
// connection to script; it returns the client side, connected.
func fakeServer(t *testing.T, script func(r *bufio.Reader, w io.Writer)) *conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		io.WriteString(nc, "* OK [CAPABILITY IMAP4rev1] fake ready\r\n")
		script(bufio.NewReader(nc), nc)
	}()
	t.Cleanup(func() { <-done })
	c, err := dial(ln.Addr().String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	return c
}

// readClientLine reads one line the client sent, without CRLF.
func readClientLine(r *bufio.Reader) string {
	l, _ := r.ReadString('\n')
	return strings.TrimRight(l, "\r\n")
}

// A literal whose content looks like the tagged completion, a BYE and a
// literal announcement does not end the command; the response continues
// after the literal; a second and an 8-bit (~{n}) literal follow.
func TestLiteralsDoNotEndTheCommand(t *testing.T) {
	body := "a1 OK not yet\r\n* BYE not really\r\nends with {5}\r\n"
	c := fakeServer(t, func(r *bufio.Reader, w io.Writer) {
		if l := readClientLine(r); l != "a1 FETCH 1 (UID BODY.PEEK[])" {
			io.WriteString(w, "a1 BAD unexpected "+l+"\r\n")
			return
		}
		io.WriteString(w, "* 1 FETCH (UID 7 BODY[] {"+itoa(len(body))+"}\r\n"+body+
			" BODY[HEADER] {3}\r\nabc BINARY[1] ~{2}\r\n\x00\x01)\r\n")
		io.WriteString(w, "* 3 EXISTS\r\n")
		io.WriteString(w, "a1 OK FETCH done\r\n")
	})
	rep, err := c.command("FETCH 1 (UID BODY.PEEK[])")
	if err != nil {
		t.Fatal(err)
	}
	if rep.status != "OK" || rep.text != "FETCH done" {
		t.Fatalf("tagged = %q %q", rep.status, rep.text)
	}
	if len(rep.untagged) != 2 {
		t.Fatalf("untagged = %+v", rep.untagged)
	}
	f := rep.untagged[0]
	want := "* 1 FETCH (UID 7 BODY[] {" + itoa(len(body)) + "} BODY[HEADER] {3} BINARY[1] ~{2})"
	if f.text != want || len(f.lits) != 3 || f.lits[0] != len(body) || f.lits[1] != 3 || f.lits[2] != 2 {
		t.Fatalf("FETCH response = %q %v\nwant %q", f.text, f.lits, want)
	}
	if countFetch(rep.untagged) != 1 {
		t.Fatalf("countFetch = %d", countFetch(rep.untagged))
	}
	if n, ok := untaggedNumber(rep.untagged, "EXISTS"); !ok || n != 3 {
		t.Fatalf("EXISTS = %d %v", n, ok)
	}
}

// A line longer than the read buffer is read whole.
func TestLongLine(t *testing.T) {
	long := strings.Repeat("x", 200<<10)
	c := fakeServer(t, func(r *bufio.Reader, w io.Writer) {
		readClientLine(r)
		io.WriteString(w, "* SEARCH "+long+"\r\na1 OK\r\n")
	})
	rep, err := c.command("SEARCH ALL")
	if err != nil || rep.status != "OK" || len(rep.untagged) != 1 || len(rep.untagged[0].text) != len("* SEARCH ")+len(long) {
		t.Fatalf("rep %d untagged, err %v", len(rep.untagged), err)
	}
}

// APPEND waits for the continuation request, sends the message as a
// synchronising literal and reads APPENDUID from the tagged OK.
func TestAppendWaitsForContinuation(t *testing.T) {
	msg := []byte("Subject: x\r\n\r\nhello\r\n")
	got := make(chan string, 1)
	c := fakeServer(t, func(r *bufio.Reader, w io.Writer) {
		l := readClientLine(r)
		io.WriteString(w, "+ go ahead\r\n")
		buf := make([]byte, len(msg)+2)
		io.ReadFull(r, buf)
		got <- l + "|" + string(buf)
		io.WriteString(w, "* 5 EXISTS\r\na1 OK [APPENDUID 1700000000 42] Append completed.\r\n")
	})
	rep, err := c.appendMessage("INBOX", `\Seen`, msg)
	if err != nil || rep.status != "OK" {
		t.Fatalf("append: %+v %v", rep, err)
	}
	if want := `a1 APPEND "INBOX" (\Seen) {` + itoa(len(msg)) + "}|" + string(msg) + "\r\n"; <-got != want {
		t.Fatalf("server got something else; want %q", want)
	}
	if u, ok := lastUID(respCode(rep.text, "APPENDUID")); !ok || u != 42 {
		t.Fatalf("APPENDUID = %d %v", u, ok)
	}
}

// An APPEND refused before the literal ends without sending it.
func TestAppendRefused(t *testing.T) {
	c := fakeServer(t, func(r *bufio.Reader, w io.Writer) {
		readClientLine(r)
		io.WriteString(w, "a1 NO [OVERQUOTA] Quota exceeded\r\n")
		readClientLine(r)
		io.WriteString(w, "a2 OK NOOP done\r\n")
	})
	rep, err := c.appendMessage("INBOX", "", []byte("x\r\n"))
	if err != nil || rep.status != "NO" {
		t.Fatalf("append: %+v %v", rep, err)
	}
	if rep, err := c.command("NOOP"); err != nil || rep.status != "OK" {
		t.Fatalf("NOOP after the refusal: %+v %v", rep, err)
	}
}

// An untagged BYE ends the command with errBye; a lost connection with an
// error that is neither BYE nor timeout.
func TestByeAndDisconnect(t *testing.T) {
	c := fakeServer(t, func(r *bufio.Reader, w io.Writer) {
		readClientLine(r)
		io.WriteString(w, "* BYE shutting down\r\n")
	})
	if _, err := c.command("NOOP"); !errors.Is(err, errBye) {
		t.Fatalf("err = %v, want BYE", err)
	}
	c = fakeServer(t, func(r *bufio.Reader, w io.Writer) {
		readClientLine(r)
		io.WriteString(w, "* 1 FETCH (BODY[] {100}\r\nshort")
	})
	_, err := c.command("FETCH 1 BODY[]")
	if err == nil || errors.Is(err, errBye) || isTimeout(err) {
		t.Fatalf("err = %v, want a lost connection", err)
	}
}

// IDLE: the continuation request ends the first half, DONE the second,
// and what came in between is read with it.
func TestIdle(t *testing.T) {
	c := fakeServer(t, func(r *bufio.Reader, w io.Writer) {
		readClientLine(r)
		io.WriteString(w, "+ idling\r\n* 4 EXISTS\r\n")
		if l := readClientLine(r); l != "DONE" {
			io.WriteString(w, "a1 BAD "+l+"\r\n")
			return
		}
		io.WriteString(w, "a1 OK IDLE terminated\r\n")
	})
	tag, rep, err := c.idleStart()
	if err != nil || rep.status != "+" {
		t.Fatalf("IDLE: %+v %v", rep, err)
	}
	rep, err = c.idleDone(tag)
	if err != nil || rep.status != "OK" || len(rep.untagged) != 1 {
		t.Fatalf("DONE: %+v %v", rep, err)
	}
}

func TestParsers(t *testing.T) {
	for line, want := range map[string]int{"* 1 FETCH (BODY[] {12}\r\n": 12, "x ~{0}\r\n": 0, "{}\r\n": -1,
		"* OK done\r\n": -1, "* LIST () \"/\" \"a{5}\"\r\n": -1, "{12a}\r\n": -1} {
		n, ok := literalSize([]byte(line))
		if (want < 0 && ok) || (want >= 0 && (!ok || n != want)) {
			t.Errorf("literalSize(%q) = %d %v, want %d", line, n, ok, want)
		}
	}
	rs := []response{{text: "* 1 FETCH (UID 10 FLAGS (\\Seen))"}, {text: "* 2 FETCH (FLAGS () UID 11)"},
		{text: "* 3 EXPUNGE"}, {text: "* 3 FETCH (FLAGS (\\Seen))"}}
	m := fetchUIDs(rs)
	if len(m) != 2 || m[1] != 10 || m[2] != 11 {
		t.Fatalf("fetchUIDs = %v", m)
	}
	if u, ok := lastUID(respCode("OK [COPYUID 99 5 77] done", "COPYUID")); !ok || u != 77 {
		t.Fatalf("COPYUID = %d %v", u, ok)
	}
	if n := statusMessages(reply{untagged: []response{{text: `* STATUS "Archive" (MESSAGES 20)`}}}); n != 20 {
		t.Fatalf("STATUS = %d", n)
	}
	if quote(`a"b\c`) != `"a\"b\\c"` {
		t.Fatalf("quote = %s", quote(`a"b\c`))
	}
}

// The mix draws every op, and the same seed gives the same messages.
func TestMixAndMessages(t *testing.T) {
	total := 0
	for _, o := range mix {
		total += o.weight
	}
	seen := map[string]bool{}
	for x := 0; x < total; x++ {
		seen[pick(x).name] = true
	}
	if len(seen) != len(mix) {
		t.Fatalf("pick reaches %d of %d ops", len(seen), len(mix))
	}
	a, b := message(1, "u1@bench.test", 5), message(1, "u1@bench.test", 5)
	d := draft("u1@bench.test", 3)
	if string(a) != string(b) || strings.Contains(strings.ReplaceAll(string(a)+string(d), "\r\n", ""), "\n") {
		t.Fatal("messages differ for one seed, or a message has a bare LF")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
