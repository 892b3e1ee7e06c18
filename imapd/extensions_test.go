package imapd_test

import (
	"strings"
	"testing"

	"mailhost/testsupport"
)

// TestMultiAppendQuotaWithinPreview: MULTIAPPEND (RFC 3502) stores all
// its messages or none; QUOTA (RFC 9208) reports the mailbox's storage;
// WITHIN (RFC 5032) and PREVIEW (RFC 8970).
func TestMultiAppendQuotaWithinPreview(t *testing.T) {
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 10<<10)
	r := rawLogin(t, e)
	lit := func(m string) string { return "{" + itoa(len(m)) + "+}\r\n" + m }
	r.send("a APPEND INBOX (\\Seen) " + lit("Subject: one\r\n\r\n") + " " + lit("Subject: two\r\n\r\nThe second body text\r\n") + "\r\n")
	if l := r.expect("a "); !strings.HasPrefix(l, "a OK [APPENDUID ") || !strings.HasSuffix(l, " 1:2] APPEND completed\r\n") {
		t.Errorf("MULTIAPPEND: %q", l)
	}
	big := strings.Repeat("x", 12<<10)
	r.send("b APPEND INBOX " + lit("Subject: three\r\n\r\n") + " " + lit(big) + "\r\n")
	if l := r.expect("b "); !strings.HasPrefix(l, "b NO [OVERQUOTA]") {
		t.Errorf("MULTIAPPEND over quota: %q", l)
	}
	r.send("c SELECT INBOX\r\n")
	if l := r.expect("* "); !strings.Contains(r.expect("* 2 EXISTS"), "2 EXISTS") {
		t.Errorf("after a refused MULTIAPPEND: %q", l)
	}
	r.expect("c OK")
	r.send("d GETQUOTAROOT INBOX\r\n")
	r.expect(`* QUOTAROOT INBOX ""`)
	if l := r.expect("* QUOTA"); l != "* QUOTA \"\" (STORAGE 1 10)\r\n" {
		t.Errorf("QUOTA: %q", l)
	}
	r.expect("d OK")
	r.send("e SETQUOTA \"\" (STORAGE 1)\r\n")
	r.expect("e NO")
	r.send("f SEARCH YOUNGER 3600\r\n")
	if l := r.expect("* SEARCH"); l != "* SEARCH 1 2\r\n" {
		t.Errorf("YOUNGER: %q", l)
	}
	r.expect("f OK")
	r.send("g SEARCH OLDER 3600\r\n")
	if l := r.expect("* SEARCH"); l != "* SEARCH\r\n" {
		t.Errorf("OLDER: %q", l)
	}
	r.expect("g OK")
	r.send("h FETCH 2 (PREVIEW)\r\n")
	if l := r.expect("* 2 FETCH"); l != "* 2 FETCH (PREVIEW \"The second body text\")\r\n" {
		t.Errorf("PREVIEW: %q", l)
	}
	r.expect("h OK")
}

func itoa(n int) string {
	s := ""
	for {
		s = string(rune('0'+n%10)) + s
		if n /= 10; n == 0 {
			return s
		}
	}
}

// pyCompress speaks COMPRESS=DEFLATE (RFC 4978) over a raw socket with
// zlib, flushing as argv[2] says: Z_SYNC_FLUSH (Thunderbird, Python) or
// Z_PARTIAL_FLUSH (mbsync), after which a reader that waits for a stored
// block would never see the command.
const pyCompress = `
import socket, sys, zlib
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
mode = getattr(zlib, sys.argv[2])
f = s.makefile("rb")
def line():
    return f.readline().decode()
print(line().strip()[:4])
s.sendall(b"a LOGIN bob@example.test secret\r\n")
while not line().startswith("a "): pass
s.sendall(b"b COMPRESS DEFLATE\r\n")
print(line().strip())
comp = zlib.compressobj(wbits=-15)
dec = zlib.decompressobj(wbits=-15)
def send(data):
    s.sendall(comp.compress(data) + comp.flush(mode))
buf = b""
def until(tag):
    global buf
    while tag.encode() not in buf:
        chunk = s.recv(65536)
        if not chunk: raise SystemExit("closed")
        buf += dec.decompress(chunk)
    out, buf = buf, b""
    return out.decode()
send(b"c LIST \"\" *\r\n")
print(until("c OK").count("* LIST"))
send(b"d SELECT INBOX\r\n")
print("EXISTS" in until("d OK"))
send(b"e IDLE\r\n")
print(until("+ idling").strip())
send(b"DONE\r\n")
print(until("e OK").strip())
send(b"f LOGOUT\r\n")
print(until("f OK").splitlines()[-1])
`

func TestCompressDeflate(t *testing.T) {
	py := testsupport.RequireTool(t, "python3", "python3")
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	for _, flush := range []string{"Z_SYNC_FLUSH", "Z_PARTIAL_FLUSH"} {
		out := run(t, py, "-c", pyCompress, port(e.nodes[0].addr), flush)
		want := "* OK\nb OK DEFLATE active\n6\nTrue\n+ idling\ne OK IDLE completed\nf OK LOGOUT completed\n"
		if out != want {
			t.Errorf("COMPRESS session flushing with %s:\n%s\nwant:\n%s", flush, out, want)
		}
	}
}
