package imapd_test

import (
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailhost/imapd"
)

// login opens a raw conversation logged in as bob.
func rawLogin(t *testing.T, e *env) *raw {
	t.Helper()
	r := dialRaw(t, e.nodes[0].addr)
	r.send("l LOGIN bob@example.test secret\r\n")
	r.expect("l OK")
	return r
}

// literal reads the literal a response line announces ("{n}" or "~{n}"
// at its end) and returns it.
func (r *raw) literal(line string) string {
	r.t.Helper()
	i := strings.LastIndexByte(line, '{')
	if i < 0 || !strings.HasSuffix(line, "}\r\n") {
		r.t.Fatalf("no literal in %q", line)
	}
	n, _ := strconv.Atoi(line[i+1 : len(line)-3])
	b := make([]byte, n)
	if _, err := io.ReadFull(r.br, b); err != nil {
		r.t.Fatal(err)
	}
	return string(b)
}

// TestProtocolBehaviours: the behaviours issue 11 found wrong, each as a
// client sees it.
func TestProtocolBehaviours(t *testing.T) {
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)

	// An unknown command before login is BAD; the connection stays open.
	// ID is answered before and after login.
	r := dialRaw(t, e.nodes[0].addr)
	r.send("a1 XYZZY\r\n")
	r.expect("a1 BAD")
	r.send("a2 ID (\"name\" \"test\")\r\n")
	if l := r.expect("* ID"); !strings.Contains(l, "mailhost") {
		t.Errorf("ID: %q", l)
	}
	r.expect("a2 OK")
	// A quoted string left open at the end of the line: BAD at once.
	r.send("a3 LOGIN \"bob@example.test\r\n")
	r.expect("a3 BAD")
	// A literal over the limit before login: refused at once, no "+".
	r.send("a4 LOGIN {999999999}\r\n")
	if l := r.expect("a4 "); !strings.HasPrefix(l, "a4 BAD") {
		t.Errorf("huge literal before login: %q", l)
	}
	r.send("a5 LOGIN {16+}\r\nbob@example.test {6}\r\n")
	r.expect("+")
	r.send("secret\r\n")
	r.expect("a5 OK")
	r.send("a6 ID NIL\r\n")
	r.expect("* ID")
	r.expect("a6 OK")

	// A synchronizing literal over 4 KB outside APPEND: refused at once.
	r.send("b1 LIST \"\" {5000}\r\n")
	if l := r.expect("b1 "); !strings.HasPrefix(l, "b1 BAD") {
		t.Errorf("big literal in LIST: %q", l)
	}
	r.send("b2 NOOP\r\n")
	r.expect("b2 OK")

	// LIST "" "" gives the delimiter.
	r.send("c1 LIST \"\" \"\"\r\n")
	if l := r.expect("* LIST"); l != "* LIST (\\Noselect) \"/\" \"\"\r\n" {
		t.Errorf("LIST \"\" \"\": %q", l)
	}
	r.expect("c1 OK")

	// Invalid modified UTF-7: NO, and the connection stays open.
	for i, name := range []string{"&", "a&b", "x&y"} {
		tag := "d" + strconv.Itoa(i)
		r.send(tag + " CREATE \"" + name + "\"\r\n")
		if l := r.expect(tag + " "); !strings.HasPrefix(l, tag+" NO") {
			t.Errorf("CREATE %q: %q", name, l)
		}
		r.send(tag + "s SELECT \"" + name + "\"\r\n")
		if l := r.expect(tag + "s "); !strings.HasPrefix(l, tag+"s NO") {
			t.Errorf("SELECT %q: %q", name, l)
		}
	}
	r.send("d9 LIST \"\" &*\r\n")
	r.expect("d9 OK")
	r.send("d10 CREATE \"R&AOk-unions\"\r\n")
	r.expect("d10 OK")
	r.send("d11 LIST \"\" R*\r\n")
	if l := r.expect("* LIST"); !strings.Contains(l, `"R&AOk-unions"`) {
		t.Errorf("LIST of a modified UTF-7 name: %q", l)
	}
	r.expect("d11 OK")
}

// TestKeywordAnnounced: a keyword new to the folder is announced with
// FLAGS and PERMANENTFLAGS before a FETCH shows it, whoever set it.
func TestKeywordAnnounced(t *testing.T) {
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	c := e.dial(t, e.nodes[0], "bob@example.test", "secret", nil)
	appendMsg(t, c, "INBOX", testMsg)
	appendMsg(t, c, "INBOX", testMsg)
	r := rawLogin(t, e)
	r.send("a SELECT INBOX\r\n")
	r.expect("a OK")
	r.send("b STORE 1 +FLAGS ($Mine)\r\n")
	if l := r.expect("* "); !strings.HasPrefix(l, "* FLAGS") || !strings.Contains(l, "$Mine") {
		t.Errorf("first line after STORE of a new keyword: %q", l)
	}
	if l := r.expect("* "); !strings.HasPrefix(l, "* OK [PERMANENTFLAGS") || !strings.Contains(l, "$Mine") {
		t.Errorf("second line: %q", l)
	}
	if l := r.expect("* "); !strings.HasPrefix(l, "* 1 FETCH") || !strings.Contains(l, "$Mine") {
		t.Errorf("third line: %q", l)
	}
	r.expect("b OK")
	// Another session sets one: the announcement comes before the FETCH.
	r2 := rawLogin(t, e)
	r2.send("a SELECT INBOX\r\nb STORE 2 +FLAGS ($Theirs)\r\n")
	r2.expect("b OK")
	r.send("c NOOP\r\n")
	if l := r.expect("* "); !strings.HasPrefix(l, "* FLAGS") || !strings.Contains(l, "$Theirs") {
		t.Errorf("first line after another session's keyword: %q", l)
	}
	r.expect("* OK [PERMANENTFLAGS")
	if l := r.expect("* "); !strings.HasPrefix(l, "* 2 FETCH") || !strings.Contains(l, "$Theirs") {
		t.Errorf("then: %q", l)
	}
	r.expect("c OK")
}

const binaryMsg = "From: a@example.test\r\n" +
	"Subject: binary\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=XX\r\n" +
	"\r\n" +
	"--XX\r\n" +
	"Content-Type: text/plain\r\n" +
	"\r\n" +
	"text\r\n" +
	"--XX\r\n" +
	"Content-Type: application/octet-stream\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"AGhl bGxv\r\n" + // "\x00hello", with a space inside
	"AHdv cmxk\r\n" + // "\x00world"
	"--XX--\r\n"

// TestBinary: RFC 3516 with NUL in the content, base64 with white space,
// BINARY.SIZE of the decoded content, a partial response's <offset>.
func TestBinary(t *testing.T) {
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	c := e.dial(t, e.nodes[0], "bob@example.test", "secret", nil)
	appendMsg(t, c, "INBOX", binaryMsg)
	r := rawLogin(t, e)
	r.send("a SELECT INBOX\r\n")
	r.expect("a OK")
	r.send("b FETCH 1 (BINARY.SIZE[2] BINARY.PEEK[2])\r\n")
	l := r.expect("* 1 FETCH")
	if !strings.Contains(l, "BINARY.SIZE[2] 12") || !strings.Contains(l, "BINARY[2] ~{12}") {
		t.Errorf("FETCH BINARY: %q", l)
	}
	if got := r.literal(l); got != "\x00hello\x00world" {
		t.Errorf("BINARY[2] = %q", got)
	}
	r.expect("b OK")
	r.send("c FETCH 1 BINARY.PEEK[2]<1.5>\r\n")
	l = r.expect("* 1 FETCH")
	if !strings.Contains(l, "BINARY[2]<1> ~{5}") {
		t.Errorf("partial BINARY: %q", l)
	}
	if got := r.literal(l); got != "hello" {
		t.Errorf("BINARY[2]<1.5> = %q", got)
	}
	r.expect("c OK")
}

const digestMsg = "From: a@example.test\r\n" +
	"Subject: digest\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/digest; boundary=DD\r\n" +
	"\r\n" +
	"--DD\r\n" +
	"\r\n" +
	"From: inner@example.test\r\n" +
	"Subject: first\r\n" +
	"\r\n" +
	"inner body one\r\n" +
	"--DD\r\n" +
	"\r\n" +
	"Subject: second\r\n" +
	"\r\n" +
	"inner body two\r\n" +
	"--DD--\r\n"

const envelopeMsg = "From: bob(the builder)@example.test (Bob)\r\n" +
	"To: undisclosed-recipients:;\r\n" +
	"Cc: Friends: dan@example.test, Eve <eve@example.test>;, frank@example.test\r\n" +
	"Reply-To: <@relay.example:carol@example.test>\r\n" +
	"Subject: envelope\r\n" +
	"\r\n" +
	"body\r\n"

// TestDigestEnvelopeSearch: BODY[n.TEXT] of the message/rfc822 parts of a
// digest; ENVELOPE groups and source routes; SEARCH of an address written
// with comments.
func TestDigestEnvelopeSearch(t *testing.T) {
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	c := e.dial(t, e.nodes[0], "bob@example.test", "secret", nil)
	appendMsg(t, c, "INBOX", digestMsg)
	appendMsg(t, c, "INBOX", envelopeMsg)
	r := rawLogin(t, e)
	r.send("a SELECT INBOX\r\n")
	r.expect("a OK")
	r.send("b FETCH 1 BODY.PEEK[2.TEXT]\r\n")
	l := r.expect("* 1 FETCH")
	if got := r.literal(l); got != "inner body two" {
		t.Errorf("BODY[2.TEXT] of a digest = %q", got)
	}
	r.expect("b OK")
	r.send("c FETCH 1 BODY.PEEK[1.HEADER]\r\n")
	if got := r.literal(r.expect("* 1 FETCH")); !strings.Contains(got, "Subject: first") {
		t.Errorf("BODY[1.HEADER] of a digest = %q", got)
	}
	r.expect("c OK")
	r.send("d FETCH 2 ENVELOPE\r\n")
	l = r.expect("* 2 FETCH")
	for _, want := range []string{
		`((NIL "@relay.example" "carol" "example.test"))`,
		`((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL))`,
		`((NIL NIL "Friends" NIL)(NIL NIL "dan" "example.test")("Eve" NIL "eve" "example.test")(NIL NIL NIL NIL)(NIL NIL "frank" "example.test"))`,
		`((NIL NIL "bob" "example.test"))`,
	} {
		if !strings.Contains(l, want) {
			t.Errorf("ENVELOPE lacks %s: %q", want, l)
		}
	}
	r.expect("d OK")
	r.send("e SEARCH FROM bob@example.test\r\n")
	if l := r.expect("* SEARCH"); strings.TrimSpace(l) != "* SEARCH 2" {
		t.Errorf("SEARCH HEADER of an address with comments: %q", l)
	}
	r.expect("e OK")
}

// TestIMAP4rev2: a client that ENABLEs IMAP4rev2 gets its behaviours:
// no \Recent, ESEARCH for SEARCH, UTF-8 mailbox names.
func TestIMAP4rev2(t *testing.T) {
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	c := e.dial(t, e.nodes[0], "bob@example.test", "secret", nil)
	appendMsg(t, c, "INBOX", testMsg)
	r := rawLogin(t, e)
	r.send("a ENABLE IMAP4rev2\r\n")
	if l := r.expect("* ENABLED"); l != "* ENABLED IMAP4rev2\r\n" {
		t.Errorf("ENABLE: %q", l)
	}
	r.expect("a OK")
	r.send("b CREATE \"Réunions\"\r\n")
	r.expect("b OK")
	r.send("c LIST \"\" R*\r\n")
	if l := r.expect("* LIST"); !strings.Contains(l, `"Réunions"`) {
		t.Errorf("LIST in UTF-8: %q", l)
	}
	r.expect("c OK")
	r.send("d SELECT INBOX\r\n")
	for {
		l := r.expect("")
		if strings.Contains(l, "RECENT") {
			t.Errorf("IMAP4rev2 SELECT: %q", l)
		}
		if strings.HasPrefix(l, "d ") {
			break
		}
	}
	r.send("e SEARCH ALL\r\n")
	if l := r.expect("* "); l != "* ESEARCH (TAG \"e\") ALL 1\r\n" {
		t.Errorf("IMAP4rev2 SEARCH: %q", l)
	}
	r.expect("e OK")
}

// TestAutologout: a client silent for too long, before login and after,
// gets BYE and the connection closes.
func TestAutologout(t *testing.T) {
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	n := e.startNodeWith(t, func(o *imapd.Options) { o.LoginTimeout, o.IdleTimeout = time.Second, 2*time.Second })
	r := dialRaw(t, n.addr)
	r.expect("* BYE Autologout")
	r = dialRaw(t, n.addr)
	r.send("a LOGIN bob@example.test secret\r\nb SELECT INBOX\r\nc IDLE\r\n")
	r.expect("+ idling")
	r.expect("* BYE Autologout")
}
