"""Every capability the server advertises, exercised by a client.

Run by TestPythonExtensions (extensions_python_test.go) as
    python3 extensions.py PORT
against a server on 127.0.0.1:PORT (plain IMAP, login allowed from
loopback) with the account bob@example.test / secret, empty but for the
standard folders, with a storage quota.

It prints one line per check: "ok CAP: what", "FAIL CAP: what", "skip CAP:
why", and first "CAPS ..." (after login) and "PRECAPS ..." (the
greeting's). A capability advertised without a case here is a FAIL.

imaplib is the client where it can say the command; a raw socket (Raw)
where imaplib cannot: SASL-IR, LITERAL+, MULTIAPPEND, literal8, IDLE,
COMPRESS, UTF-8 names and the IMAP4rev2 responses.
"""

import base64
import imaplib
import re
import socket
import ssl
import sys
import time
import zlib

PORT = int(sys.argv[1])
USER, PASS = "bob@example.test", "secret"
imaplib.Commands.setdefault("ID", ("NONAUTH", "AUTH", "SELECTED"))
imaplib.Commands.setdefault("CANCELUPDATE", ("SELECTED",))
failures = 0
CAPS = []  # after login


def report(cap, ok, what):
    global failures
    if not ok:
        failures += 1
    print(("ok " if ok else "FAIL ") + cap + ": " + what, flush=True)


def check(cap, cond, what, got=None):
    report(cap, bool(cond), what if cond or got is None else "%s; got %r" % (what, got))


def text(x):
    if isinstance(x, (list, tuple)):
        return " ".join(text(v) for v in x if v is not None)
    return x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x)


def login():
    m = imaplib.IMAP4("127.0.0.1", PORT)
    m.login(USER, PASS)
    return m


class Raw:
    """A line-level IMAP client over a socket, with COMPRESS=DEFLATE."""

    def __init__(self, do_login=True):
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=20)
        self.buf = b""
        self.inflate = self.deflate = None
        self.flush = zlib.Z_SYNC_FLUSH
        self.n = 0
        self.greeting = self.readline()
        if do_login:
            self.ok('LOGIN "%s" "%s"' % (USER, PASS))

    def fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError("connection closed")
        if self.inflate:
            d = self.inflate.decompress(d)
        self.buf += d

    def readline(self):
        while b"\r\n" not in self.buf:
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def readn(self, n):
        while len(self.buf) < n:
            self.fill()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def write(self, b):
        if self.deflate:
            b = self.deflate.compress(b) + self.deflate.flush(self.flush)
        self.s.sendall(b)

    def response(self):
        """One response, its literals inlined (bytes)."""
        line = self.readline()
        out = line
        while True:
            m = re.search(rb"~?\{(\d+)\}$", line)
            if not m:
                return out
            out += b"\r\n" + self.readn(int(m.group(1)))
            line = self.readline()
            out += line

    def cmd(self, *pieces, plus=False):
        """Sends a command of text and literal (bytes) pieces; returns
        (untagged responses, tagged line) as bytes. Synchronising literals
        wait for the continuation; plus=True sends them as {n+}."""
        self.n += 1
        tag = b"r%d" % self.n
        out = tag + b" "
        untagged = []
        for p in pieces:
            if isinstance(p, str):
                out += p.encode()
                continue
            out += b"{%d%s}\r\n" % (len(p), b"+" if plus else b"")
            if not plus:
                self.write(out)
                out = b""
                while True:
                    r = self.response()
                    if r.startswith(b"+"):
                        break
                    if r.startswith(tag + b" "):
                        return untagged, r
                    untagged.append(r)
            out += p
        self.write(out + b"\r\n")
        while True:
            r = self.response()
            if r.startswith(tag + b" "):
                return untagged, r
            untagged.append(r)

    def ok(self, *pieces, **kw):
        untagged, tagged = self.cmd(*pieces, **kw)
        if b" OK" not in tagged[:12]:
            raise RuntimeError("%r: %r" % (pieces, tagged))
        return untagged, tagged

    def close(self):
        try:
            self.cmd("LOGOUT")
        except Exception:
            pass
        self.s.close()


MSGS = [
    (b"From: Carol <carol@example.test>\r\nTo: bob@example.test\r\nSubject: alpha\r\n"
     b"Date: Mon, 02 Jan 2006 10:00:00 +0000\r\nMessage-ID: <t1@example.test>\r\n\r\n"
     b"First message, about alpha.\r\n", r"(\Seen)", imaplib.Time2Internaldate(1136196000)),
    (b"From: Zed <alice@example.test>\r\nTo: bob@example.test\r\nSubject: Re: alpha\r\n"
     b"Date: Tue, 03 Jan 2006 10:00:00 +0000\r\nMessage-ID: <t2@example.test>\r\n"
     b"In-Reply-To: <t1@example.test>\r\nReferences: <t1@example.test>\r\n\r\n"
     b"Second message, a reply.\r\n", None, None),
    (b"From: Bob <bob@example.test>\r\nTo: bob@example.test\r\nSubject: beta\r\n"
     b"Date: Wed, 03 Jan 2007 10:00:00 +0000\r\nMessage-ID: <t3@example.test>\r\n"
     b"MIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\n"
     b"Content-Transfer-Encoding: base64\r\n\r\n"
     + base64.encodebytes(b"hello\0world").replace(b"\n", b"\r\n"), None, None),
]


def seed():
    m = login()
    for body, flags, date in MSGS:
        typ, _ = m.append("INBOX", flags, date, body)
        assert typ == "OK", typ
    m.logout()


# ---- the cases, one function per capability --------------------------------

def c_imap4rev1(cap):
    m = login()
    typ, data = m.select("INBOX")
    check(cap, typ == "OK" and data == [b"3"], "SELECT INBOX: 3 EXISTS", data)
    typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    check(cap, typ == "OK" and b"Subject: alpha" in data[0][1], "FETCH BODY.PEEK[HEADER.FIELDS]", data)
    typ, data = m.search(None, "UNSEEN")
    check(cap, data == [b"2 3"], "SEARCH UNSEEN", data)
    m.logout()


def c_imap4rev2(cap):
    r = Raw()
    u, t = r.ok("ENABLE IMAP4rev2")
    check(cap, b"* ENABLED IMAP4rev2" in u, "ENABLE IMAP4rev2", u)
    u, t = r.ok("SELECT INBOX")
    check(cap, not any(b"RECENT" in x for x in u), "SELECT sends no RECENT (RFC 9051 7.4.1 removed it)", u)
    u, t = r.ok("SEARCH UNSEEN")
    check(cap, any(re.match(rb'\* ESEARCH \(TAG "r\d+"\) ALL 2:3$', x) for x in u),
          "SEARCH answers ESEARCH under IMAP4rev2", u)
    u, t = r.ok("EXAMINE INBOX")
    check(cap, b"* OK [CLOSED]" in [x[:13] for x in u], "a SELECT over a selected mailbox sends OK [CLOSED] first", u)
    u, t = r.ok("STATUS INBOX (MESSAGES DELETED SIZE)")
    check(cap, any(re.match(rb"\* STATUS INBOX \(MESSAGES 3 DELETED 0 SIZE \d+\)$", x) for x in u),
          "STATUS DELETED and SIZE (RFC 9051 6.3.11)", u)
    r.ok('CREATE "Été"')
    u, t = r.ok('LIST "" "*"')
    check(cap, any("Été".encode() in x for x in u), "LIST gives a UTF-8 name to an IMAP4rev2 session", u)
    r.ok('DELETE "Été"')
    r.close()


def c_literal_plus(cap):
    r = Raw()
    msg = b"Subject: literal plus\r\n\r\nbody\r\n"
    u, t = r.cmd("APPEND Trash ", msg, plus=True)
    check(cap, b"OK [APPENDUID" in t, "APPEND with {n+} and no continuation", (u, t))
    r.close()


def c_sasl_ir(cap):
    r = Raw(do_login=False)
    ir = base64.b64encode(("\0%s\0%s" % (USER, PASS)).encode()).decode()
    u, t = r.cmd("AUTHENTICATE PLAIN " + ir)
    check(cap, b" OK" in t, "AUTHENTICATE PLAIN with an initial response", t)
    r.close()


def c_auth_plain(cap):
    m = imaplib.IMAP4("127.0.0.1", PORT)
    typ, _ = m.authenticate("PLAIN", lambda _: ("\0%s\0%s" % (USER, PASS)).encode())
    check(cap, typ == "OK", "AUTHENTICATE PLAIN", typ)
    m.logout()


def c_auth_login(cap):
    answers = [USER.encode(), PASS.encode()]
    m = imaplib.IMAP4("127.0.0.1", PORT)
    typ, _ = m.authenticate("LOGIN", lambda _: answers.pop(0))
    check(cap, typ == "OK", "AUTHENTICATE LOGIN", typ)
    m.logout()


def c_starttls(cap):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    m = imaplib.IMAP4("127.0.0.1", PORT)
    typ, _ = m.starttls(ssl_context=ctx)
    typ2, _ = m.login(USER, PASS)
    check(cap, typ == "OK" and typ2 == "OK", "STARTTLS, then LOGIN", (typ, typ2))
    m.logout()


def c_id(cap):
    r = Raw(do_login=False)
    u, t = r.cmd('ID ("name" "extensions.py" "version" "1")')
    check(cap, b" OK" in t and any(x.startswith(b"* ID (") for x in u), "ID before login", (u, t))
    r.close()
    m = login()
    typ, _ = m._simple_command("ID", "NIL")
    _, data = m._untagged_response(typ, None, "ID")
    check(cap, typ == "OK" and data and b'"name"' in data[0], "ID NIL after login", data)
    m.logout()


def c_enable(cap):
    m = login()
    ext = next(x for x in ("CONDSTORE", "UTF8=ACCEPT", "IMAP4rev2") if x in CAPS)
    typ, data = m.enable(ext)
    typ, data = m._untagged_response(typ, data, "ENABLED")
    check(cap, typ == "OK" and data == [ext.encode()], "ENABLE %s: * ENABLED %s" % (ext, ext), data)
    typ, data = m._simple_command("ENABLE", "X-NO-SUCH-EXTENSION")
    typ, data = m._untagged_response(typ, data, "ENABLED")
    check(cap, typ == "OK" and data in ([b""], [None]), "ENABLE of an unknown extension enables nothing", data)
    m.logout()


def c_idle(cap):
    r = Raw()
    r.ok("SELECT INBOX")
    r.write(b"i1 IDLE\r\n")
    first = r.response()
    check(cap, first.startswith(b"+"), "IDLE continuation", first)

    def until(pattern):
        """Reads the responses until one matches (the server may send
        others, * 1 RECENT, or a FETCH of an earlier state, before)."""
        seen = []
        while len(seen) < 10:
            seen.append(r.response())
            if re.match(pattern, seen[-1]):
                return True, seen
        return False, seen

    other = login()
    other.append("INBOX", None, None, b"Subject: idle wake\r\n\r\nx\r\n")
    ok, seen = until(rb"\* 4 EXISTS$")
    check(cap, ok, "another session's APPEND seen in IDLE", seen)
    other.select("INBOX")
    other.store("2", "+FLAGS", r"(\Flagged)")
    ok, seen = until(rb"\* 2 FETCH \(.*FLAGS \(\\Flagged\)")
    check(cap, ok, "another session's STORE seen in IDLE", seen)
    other.store("2", "-FLAGS", r"(\Flagged)")
    ok, seen = until(rb"\* 2 FETCH \(.*FLAGS \(\)")
    check(cap, ok, "and its removal", seen)
    other.store("4", "+FLAGS", r"(\Deleted)")
    other.expunge()
    ok, seen = until(rb"\* 4 EXPUNGE$")
    check(cap, ok, "another session's EXPUNGE seen in IDLE", seen)
    r.write(b"DONE\r\n")
    ok, rest = until(rb"i1 ")
    check(cap, ok and rest[-1].startswith(b"i1 OK"), "DONE ends IDLE with OK", rest)
    other.logout()
    r.close()


def c_namespace(cap):
    m = login()
    typ, data = m.namespace()
    check(cap, typ == "OK" and data[0] == b'(("" "/")) NIL NIL', 'NAMESPACE (("" "/")) NIL NIL', data)
    m.logout()


def c_uidplus(cap):
    m = login()
    m.create("Plus")
    typ, data = m.append("Plus", None, None, b"Subject: plus\r\n\r\nx\r\n")
    typ, data = m.response("APPENDUID")
    check(cap, data and re.match(rb"\d+ 1$", data[0]), "APPEND answers APPENDUID uidvalidity 1", data)
    m.select("INBOX")
    m.uid("COPY", "1:2", "Plus")
    typ, data = m.response("COPYUID")
    check(cap, data and re.match(rb"\d+ 1:2 2:3$", data[0]), "UID COPY answers COPYUID", data)
    m.select("Plus")
    m.uid("STORE", "1:3", "+FLAGS", r"(\Deleted)")
    typ, _ = m.uid("EXPUNGE", "2")
    typ, data = m.response("EXPUNGE")
    check(cap, data == [b"2"], "UID EXPUNGE 2 removes only UID 2 (* 2 EXPUNGE)", data)
    typ, data = m.uid("SEARCH", "ALL")
    check(cap, data == [b"1 3"], "UIDs 1 and 3 remain", data)
    m.close()
    m.delete("Plus")
    m.logout()


def c_move(cap):
    m = login()
    m.create("MoveFrom")
    m.create("MoveTo")
    for i in range(3):
        m.append("MoveFrom", None, None, b"Subject: move %d\r\n\r\nx\r\n" % i)
    m.select("MoveFrom")
    typ, data = m._simple_command("MOVE", "2", "MoveTo")
    ok_line = text(data)
    expunged = m.untagged_responses.get("EXPUNGE")
    check(cap, typ == "OK" and "COPYUID" in ok_line + text(m.untagged_responses.get("OK", [])) and expunged == [b"2"],
          "MOVE 2: COPYUID and * 2 EXPUNGE", (typ, data, m.untagged_responses))
    typ, data = m.uid("MOVE", "3", "MoveTo")
    check(cap, typ == "OK", "UID MOVE 3", data)
    typ, data = m.status("MoveTo", "(MESSAGES)")
    check(cap, b"MESSAGES 2" in data[0], "MoveTo holds 2", data)
    typ, data = m.status("MoveFrom", "(MESSAGES)")
    check(cap, b"MESSAGES 1" in data[0], "MoveFrom holds 1", data)
    m.close()
    m.delete("MoveFrom")
    m.delete("MoveTo")
    m.logout()


def c_unselect(cap):
    m = login()
    m.select("INBOX")
    m.store("1", "+FLAGS", r"(\Deleted)")
    typ, _ = m.unselect()
    check(cap, typ == "OK" and m.state == "AUTH", "UNSELECT", typ)
    m.select("INBOX")
    typ, data = m.search(None, "DELETED")
    check(cap, data == [b"1"], "UNSELECT expunged nothing", data)
    m.store("1", "-FLAGS", r"(\Deleted)")
    m.logout()


def c_children(cap):
    m = login()
    m.create("Parent/Child")
    typ, data = m.list('""', "Parent*")
    t = text(data)
    check(cap, re.search(r'\\HasChildren[^)]*\) "/" "?Parent"?( |$)', t) and
          re.search(r'\\HasNoChildren[^)]*\) "/" "?Parent/Child', t), "\\HasChildren and \\HasNoChildren", data)
    m.delete("Parent/Child")
    m.delete("Parent")
    m.logout()


def c_special_use(cap):
    m = login()
    typ, data = m._simple_command("LIST", "(SPECIAL-USE)", '""', '"*"')
    _, data = m._untagged_response(typ, data, "LIST")
    t = text(data)
    check(cap, all(u in t for u in ("\\Sent", "\\Trash", "\\Drafts", "\\Junk", "\\Archive")) and "INBOX" not in t,
          "LIST (SPECIAL-USE) lists only the special-use folders", data)
    typ, data = m._simple_command("LIST", '""', '"Sent"', "RETURN", "(SPECIAL-USE)")
    _, data = m._untagged_response(typ, data, "LIST")
    check(cap, "\\Sent" in text(data), "LIST RETURN (SPECIAL-USE)", data)
    m.logout()


def c_create_special_use(cap):
    m = login()
    typ, data = m._simple_command("CREATE", "Everything", "(USE (\\All))")
    check(cap, typ == "OK", "CREATE Everything (USE (\\All))", data)
    typ, data = m.list('""', "Everything")
    check(cap, "\\All" in text(data), "LIST shows \\All", data)
    typ, data = m._simple_command("CREATE", "Sent2", "(USE (\\Nonsense))")
    check(cap, typ == "NO", "CREATE with an unknown use is refused", (typ, data))
    m.delete("Everything")
    m.logout()


def c_list_extended(cap):
    m = login()
    typ, data = m._simple_command("LIST", "(SUBSCRIBED)", '""', '"*"')
    _, data = m._untagged_response(typ, data, "LIST")
    t = text(data)
    check(cap, "\\Subscribed" in t and "Sent" in t, "LIST (SUBSCRIBED)", data)
    typ, data = m._simple_command("LIST", '""', '("INBOX" "Trash")', "RETURN", "(CHILDREN)")
    _, data = m._untagged_response(typ, data, "LIST")
    t = text(data)
    check(cap, len(data) == 2 and "INBOX" in t and "Trash" in t and "HasNoChildren" in t,
          "LIST with two patterns, RETURN (CHILDREN)", data)
    m.create("Lx/Sub")
    m.subscribe("Lx/Sub")
    m.unsubscribe("Lx")
    typ, data = m._simple_command("LIST", "(SUBSCRIBED RECURSIVEMATCH)", '""', '"L%"')
    _, data = m._untagged_response(typ, data, "LIST")
    check(cap, data and re.search(r'"?Lx"? \("CHILDINFO" \("SUBSCRIBED"\)\)', text(data)),
          "LIST (SUBSCRIBED RECURSIVEMATCH) gives CHILDINFO for a parent of a subscribed child (RFC 5258 3.5)", data)
    m.unsubscribe("Lx/Sub")
    m.delete("Lx/Sub")
    m.delete("Lx")
    m.logout()


def c_list_status(cap):
    m = login()
    typ, data = m._simple_command("LIST", '""', '"INBOX"', "RETURN", "(STATUS (MESSAGES UIDNEXT))")
    _, st = m._untagged_response(typ, data, "STATUS")
    check(cap, st and re.search(rb"INBOX \(MESSAGES 3 UIDNEXT \d+\)", st[0]), "LIST RETURN (STATUS ...)", st)
    m.create("LS/Child")
    typ, data = m._simple_command("LIST", '""', '"LS*"', "RETURN", "(STATUS (MESSAGES))")
    _, st = m._untagged_response(typ, data, "STATUS")
    check(cap, st and len(st) == 1 and b"LS/Child" in st[0],
          "no STATUS for a \\Noselect parent (RFC 5819 2)", st)
    m.delete("LS/Child")
    m.delete("LS")
    m.logout()


def c_esearch(cap):
    m = login()
    m.select("INBOX")
    typ, data = m._simple_command("SEARCH", "RETURN", "(MIN MAX COUNT ALL)", "ALL")
    _, es = m._untagged_response(typ, data, "ESEARCH")
    check(cap, es and re.search(rb"MIN 1 MAX 3 COUNT 3 ALL 1:3$", es[0]), "SEARCH RETURN (MIN MAX COUNT ALL)", es)
    m.uid("SEARCH", "RETURN", "(COUNT)", "UNSEEN")
    typ, data = m.response("ESEARCH")
    check(cap, data and re.search(rb"UID COUNT 2$", data[-1]), "UID SEARCH RETURN (COUNT)", data)
    m.logout()


def c_searchres(cap):
    m = login()
    m.select("INBOX")
    typ, data = m._simple_command("SEARCH", "RETURN", "(SAVE)", "SEEN")
    check(cap, typ == "OK", "SEARCH RETURN (SAVE) SEEN", data)
    typ, data = m.fetch("$", "(UID)")
    check(cap, typ == "OK" and len(data) == 1 and data[0].startswith(b"1 (UID "), "FETCH $ uses the saved result", data)
    typ, data = m.search(None, "UNSEEN", "NOT", "$")
    check(cap, data == [b"2 3"], "SEARCH with $ as a key", data)
    m.logout()


def c_status_size(cap):
    m = login()
    m.select("INBOX")
    typ, data = m.fetch("1:*", "(RFC822.SIZE)")
    total = sum(int(re.search(rb"RFC822.SIZE (\d+)", d).group(1)) for d in data)
    m.close()
    typ, data = m.status("INBOX", "(SIZE)")
    check(cap, data[0] == b"INBOX (SIZE %d)" % total, "STATUS SIZE is the sum of RFC822.SIZE (%d)" % total, data)
    m.logout()


def c_appendlimit(cap):
    limit = int(cap.split("=", 1)[1])
    r = Raw()
    r.n += 1
    r.write(b"r%d APPEND Trash {%d}\r\n" % (r.n, limit + 1))
    line = r.response()
    check(cap, line.startswith(b"r%d NO" % r.n) and b"TOOBIG" in line,
          "APPEND of limit+1 octets refused with [TOOBIG] before its data", line)
    u, t = r.ok('NOOP')
    check(cap, b" OK" in t, "the connection stays usable", t)
    r.close()


def c_binary(cap):
    r = Raw()
    r.ok("SELECT INBOX")
    u, t = r.ok("FETCH 3 (BINARY.PEEK[1] BINARY.SIZE[1])")
    body = b"\r\n".join(u)
    check(cap, b"BINARY[1] ~{11}\r\nhello\0world" in body, "BINARY[1] of base64 content is the decoded bytes, NUL included", u)
    check(cap, b"BINARY.SIZE[1] 11" in body, "BINARY.SIZE[1] is the decoded size", u)
    u, t = r.ok("FETCH 3 (BINARY.PEEK[1]<6.5>)")
    check(cap, b"BINARY[1]<6> ~{5}\r\nworld" in b"".join(u) or b"BINARY[1]<6> {5}\r\nworld" in b"".join(u),
          "a partial BINARY carries <offset>", u)
    # APPEND with a literal8 holding a NUL.
    r.n += 1
    msg = b"Subject: binary append\r\nContent-Type: application/octet-stream\r\n" \
          b"Content-Transfer-Encoding: binary\r\n\r\nNUL\0here\r\n"
    r.write(b"r%d APPEND Trash ~{%d}\r\n" % (r.n, len(msg)))
    line = r.response()
    if line.startswith(b"+"):
        r.write(msg + b"\r\n")
        line = r.response()
        while not line.startswith(b"r%d " % r.n):
            line = r.response()
    check(cap, line.startswith(b"r%d OK" % r.n), "APPEND with ~{n} literal8 holding NUL", line)
    r.ok("SELECT Trash")
    u, t = r.ok("UID FETCH * (BINARY.PEEK[1])")
    check(cap, b"NUL\0here" in b"".join(u), "the NUL reads back through BINARY", u)
    r.close()


def c_utf8_accept(cap):
    r = Raw()
    u, t = r.ok("ENABLE UTF8=ACCEPT")
    check(cap, b"* ENABLED UTF8=ACCEPT" in u, "ENABLE UTF8=ACCEPT", u)
    r.ok('CREATE "Réunions"')
    u, t = r.ok('LIST "" "R*"')
    check(cap, any("Réunions".encode() in x for x in u), "LIST gives the UTF-8 name, not modified UTF-7", u)
    r.ok('DELETE "Réunions"')
    r.close()
    m = login()
    m.create("R&AOk-sum&AOk-")
    typ, data = m.list('""', "R*")
    check(cap, typ == "OK" and data == [b'(\\HasNoChildren) "/" "R&AOk-sum&AOk-"'],
          "a session without UTF8=ACCEPT gets modified UTF-7", data)
    m.delete("R&AOk-sum&AOk-")
    m.logout()


def c_multiappend(cap):
    r = Raw()
    r.ok("CREATE Multi")
    a, b = b"Subject: multi 1\r\n\r\nx\r\n", b"Subject: multi 2\r\n\r\ny\r\n"
    u, t = r.cmd("APPEND Multi (\\Seen) ", a, " ", b)
    check(cap, re.search(rb"OK \[APPENDUID \d+ 1:2\]", t), "two messages in one APPEND: APPENDUID 1:2", t)
    u, t = r.ok("STATUS Multi (MESSAGES)")
    check(cap, b"MESSAGES 2" in u[0], "both are there", u)
    # All or none: a second message over APPENDLIMIT fails the whole command.
    limit = next((int(c.split("=", 1)[1]) for c in CAPS if c.startswith("APPENDLIMIT=")), None)
    if limit:
        u, t = r.cmd("APPEND Multi ", a, " ", b"x" * (limit + 1))
        check(cap, b" NO" in t, "a second message over APPENDLIMIT fails the command", t)
        u, t = r.ok("STATUS Multi (MESSAGES)")
        check(cap, b"MESSAGES 2" in u[0], "and appends none of its messages", u)
    r.ok("DELETE Multi")
    r.close()


def c_condstore(cap):
    # The CONDSTORE walk-through is TestPythonImaplibSync (sync_python_test.go).
    m = login()
    typ, data = m._simple_command("SELECT", "INBOX", "(CONDSTORE)")
    hms = m.untagged_responses.get("OK", [])
    check(cap, any(b"HIGHESTMODSEQ" in x for x in hms), "SELECT (CONDSTORE) gives HIGHESTMODSEQ", hms)
    m.state = "SELECTED"
    typ, data = m.fetch("1", "(MODSEQ)")
    check(cap, re.search(rb"MODSEQ \(\d+\)", data[0]), "FETCH MODSEQ", data)
    m.logout()


def c_qresync(cap):
    # Also TestPythonImaplibSync (sync_python_test.go) and TestMuttQresync
    # (mutt_test.go). This is a phone's reconnect, with the known UIDs and
    # the sequence match data of RFC 7162 3.2.5.
    m = login()
    typ, data = m.enable("QRESYNC")
    typ, data = m._untagged_response(typ, data, "ENABLED")
    check(cap, typ == "OK" and data and b"QRESYNC" in data[0], "ENABLE QRESYNC", data)
    m.create("Phone")
    for i in range(5):
        m.append("Phone", None, None, b"Subject: phone %d\r\n\r\nx\r\n" % i)
    m.select("Phone")
    uv = int(m.response("UIDVALIDITY")[1][0])
    hms = int(m.response("HIGHESTMODSEQ")[1][0])
    m.logout()
    m = login()
    m.select("Phone")
    m.uid("STORE", "2", "+FLAGS", r"(\Deleted)")
    m.expunge()
    m.uid("STORE", "4", "+FLAGS", r"(\Flagged)")
    m.append("Phone", None, None, b"Subject: phone new\r\n\r\nx\r\n")
    m.logout()
    r = Raw()
    r.ok("ENABLE QRESYNC")
    u, t = r.ok("SELECT Phone (QRESYNC (%d %d 1:5 (1:5 1:5)))" % (uv, hms))
    check(cap, b"* 5 EXISTS" in u, "5 messages after one expunged and one appended", u)
    check(cap, b"* VANISHED (EARLIER) 2" in u, "VANISHED (EARLIER) 2", u)
    fetched = sorted(int(x) for x in re.findall(rb"\* \d+ FETCH \(.*?UID (\d+)", b"\n".join(u)))
    check(cap, fetched == [4, 6], "FETCH only for UID 4 (flagged) and 6 (new)", u)
    check(cap, any(re.search(rb"UID 4\b.*FLAGS \(\\Flagged\)|FLAGS \(\\Flagged\).*UID 4\b", x) for x in u),
          "UID 4 comes with its \\Flagged", u)
    u, t = r.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % hms)
    check(cap, b"* VANISHED (EARLIER) 2" in u and len(u) == 3, "UID FETCH CHANGEDSINCE VANISHED: the same", u)
    # Once QRESYNC is on, removals are VANISHED, never EXPUNGE (3.2.10).
    u, t = r.ok("UID MOVE 1 Trash")
    check(cap, b"* VANISHED 1" in u and not any(b"EXPUNGE" in x for x in u), "UID MOVE answers VANISHED", u)
    r.ok("UID STORE 3 +FLAGS.SILENT (\\Deleted)")
    u, t = r.ok("EXPUNGE")
    check(cap, b"* VANISHED 3" in u and not any(b"EXPUNGE" in x for x in u), "EXPUNGE answers VANISHED", u)
    r.ok("UNSELECT")
    r.ok("DELETE Phone")
    r.close()


def c_objectid(cap):
    # Also in TestPythonImaplibSync (sync_python_test.go).
    m = login()
    typ, data = m.status("INBOX", "(MAILBOXID)")
    check(cap, re.search(rb"MAILBOXID \(\S+\)", data[0]), "STATUS MAILBOXID", data)
    m.select("INBOX")
    typ, data = m.fetch("1", "(EMAILID THREADID)")
    check(cap, re.search(rb"EMAILID \(\S+\)", data[0]), "FETCH EMAILID THREADID", data)
    m.logout()


def c_savedate(cap):
    # Also in TestPythonImaplibSync (sync_python_test.go).
    m = login()
    m.select("INBOX")
    typ, data = m.fetch("1", "(SAVEDATE INTERNALDATE)")
    check(cap, re.search(rb'SAVEDATE "\d', data[0]) and b"02-Jan-2006" in data[0],
          "SAVEDATE is the save time, apart from the INTERNALDATE of 2006", data)
    m.logout()


def c_within(cap):
    m = login()
    m.select("INBOX")
    typ, data = m.search(None, "YOUNGER", "86400")
    check(cap, data == [b"2 3"], "SEARCH YOUNGER 86400: the messages appended now", data)
    typ, data = m.search(None, "OLDER", "86400")
    check(cap, data == [b"1"], "SEARCH OLDER 86400: the one dated 2006", data)
    m.logout()


def c_preview(cap):
    m = login()
    m.select("INBOX")
    typ, data = m.fetch("1", "(PREVIEW)")
    check(cap, b'PREVIEW "First message, about alpha."' in data[0], "FETCH PREVIEW", data)
    m.logout()


def c_quota(cap):
    m = login()
    typ, data = m.getquotaroot("INBOX")
    t = text(data)
    check(cap, typ == "OK" and "INBOX" in t and re.search(r"STORAGE \d+ 10240", t), 'GETQUOTAROOT INBOX: STORAGE used 10240 (KiB)', data)
    root = re.search(r'INBOX "?([^"\s]*)"?', text(data[0])).group(1)
    typ, data = m.getquota('"%s"' % root)
    check(cap, typ == "OK" and "STORAGE" in text(data), "GETQUOTA of the root", data)
    try:
        typ, data = m.setquota('"%s"' % root, "(STORAGE 1)")
    except imaplib.IMAP4.error as e:
        typ, data = "NO/BAD", str(e)
    check(cap, typ != "OK", "SETQUOTA refused", (typ, data))
    m.logout()


def c_quota_res_storage(cap):
    m = login()
    typ, data = m.getquotaroot("INBOX")
    check(cap, "STORAGE" in text(data), "the STORAGE resource", data)
    m.logout()


def c_quota_res_message(cap):
    m = login()
    typ, data = m.getquotaroot("INBOX")
    check(cap, "MESSAGE" in text(data), "the MESSAGE resource", data)
    m.logout()


def c_sort(cap):
    m = login()
    m.select("INBOX")
    typ, data = m.sort("(FROM)", "UTF-8", "ALL")
    check(cap, data == [b"2 3 1"], "SORT (FROM): alice, bob, carol", data)
    typ, data = m.sort("(REVERSE DATE)", "UTF-8", "ALL")
    check(cap, data == [b"3 2 1"], "SORT (REVERSE DATE)", data)
    typ, data = m.uid("SORT", "(SUBJECT)", "UTF-8", "UNSEEN")
    check(cap, typ == "OK" and len(data[0].split()) == 2, "UID SORT (SUBJECT) UNSEEN", data)
    m.logout()


def c_sort_display(cap):
    m = login()
    m.select("INBOX")
    typ, data = m.sort("(DISPLAYFROM)", "UTF-8", "ALL")
    check(cap, data == [b"3 1 2"], "SORT (DISPLAYFROM): Bob, Carol, Zed", data)
    m.logout()


def c_thread_orderedsubject(cap):
    m = login()
    m.select("INBOX")
    typ, data = m.thread("ORDEREDSUBJECT", "UTF-8", "ALL")
    check(cap, data == [b"(1 2)(3)"], "THREAD=ORDEREDSUBJECT", data)
    m.logout()


def c_thread_references(cap):
    m = login()
    m.select("INBOX")
    typ, data = m.thread("REFERENCES", "UTF-8", "ALL")
    check(cap, data == [b"(1 2)(3)"], "THREAD=REFERENCES", data)
    m.logout()


def c_esort(cap):
    m = login()
    m.select("INBOX")
    typ, data = m._simple_command("SORT", "RETURN", "(MIN MAX COUNT)", "(FROM)", "UTF-8", "ALL")
    _, es = m._untagged_response(typ, data, "ESEARCH")
    check(cap, es and re.search(rb"MIN 2 MAX 1 COUNT 3", es[0]), "SORT RETURN (MIN MAX COUNT): MIN/MAX in sort order", es)
    m.logout()


def esearch_lines(m):
    """The ESEARCH responses imaplib collected since the last call."""
    _, data = m.response("ESEARCH")
    return [d for d in data if d]


def c_context_search(cap):
    # RFC 5267 4.3: a SEARCH context on UNSEEN follows another session's
    # \Seen both ways (REMOVEFROM, ADDTO) at NOOP; CANCELUPDATE ends it;
    # at most 8 contexts, then NOUPDATE; PARTIAL counts from the end too.
    m, o = login(), login()
    m.select("INBOX")
    o.select("INBOX")
    m._simple_command("SEARCH", "RETURN", "(UPDATE)", "UNSEEN")
    es = esearch_lines(m)
    tag = re.search(rb'\(TAG "([^"]+)"\)', es[0]).group(1).decode() if es else ""
    check(cap, es and es[0].endswith(b" ALL 2:3"), "SEARCH RETURN (UPDATE) UNSEEN", es)
    o.store("2", "+FLAGS", r"(\Seen)")
    m.noop()
    es = esearch_lines(m)
    check(cap, es == [b'(TAG "%s") REMOVEFROM (0 2)' % tag.encode()], "REMOVEFROM after another session's \\Seen", es)
    o.store("2", "-FLAGS", r"(\Seen)")
    m.noop()
    es = esearch_lines(m)
    check(cap, es == [b'(TAG "%s") ADDTO (0 2)' % tag.encode()], "ADDTO after another session's -\\Seen", es)
    typ, data = m._simple_command("CANCELUPDATE", '"%s"' % tag)
    check(cap, typ == "OK", "CANCELUPDATE", data)
    o.store("2", "+FLAGS", r"(\Seen)")
    m.noop()
    es = esearch_lines(m)
    check(cap, es == [], "no updates after CANCELUPDATE", es)
    o.store("2", "-FLAGS", r"(\Seen)")
    for _ in range(8):
        m._simple_command("SEARCH", "RETURN", "(UPDATE COUNT)", "ALL")
    esearch_lines(m)
    typ, data = m._simple_command("SEARCH", "RETURN", "(UPDATE COUNT)", "ALL")
    _, no = m.response("NOUPDATE")  # imaplib files a response code under its name
    es = esearch_lines(m)
    check(cap, typ == "OK" and no and no[-1] and no[-1].startswith(b'"') and es and es[-1].endswith(b"COUNT 3"),
          "a ninth context: NO [NOUPDATE], the COUNT still answered", (typ, no, es))
    m._simple_command("SEARCH", "RETURN", "(PARTIAL -1:-2)", "ALL")
    es = esearch_lines(m)
    check(cap, es and es[-1].endswith(b"PARTIAL (-1:-2 2:3)"), "SEARCH RETURN (PARTIAL -1:-2)", es)
    o.logout()
    m.logout()


def c_context_sort(cap):
    # A SORT context gives positions in the sort order: the oldest message
    # enters last of REVERSE DATE, and leaves from there.
    m, o = login(), login()
    m.select("INBOX")
    o.select("INBOX")
    m._simple_command("SORT", "RETURN", "(UPDATE COUNT MIN)", "(REVERSE DATE)", "UTF-8", "UNSEEN")
    es = esearch_lines(m)
    check(cap, es and es[0].endswith(b" COUNT 2 MIN 3"), "SORT RETURN (UPDATE COUNT MIN) (REVERSE DATE) UNSEEN", es)
    o.store("1", "-FLAGS", r"(\Seen)")
    m.noop()
    es = esearch_lines(m)
    check(cap, len(es) == 1 and es[0].endswith(b") ADDTO (3 1)"), "ADDTO at the position in the sort order", es)
    o.store("1", "+FLAGS", r"(\Seen)")
    m.noop()
    es = esearch_lines(m)
    check(cap, len(es) == 1 and es[0].endswith(b") REMOVEFROM (3 1)"), "REMOVEFROM from that position", es)
    o.logout()
    m.logout()


def c_compress(cap):
    # Z_SYNC_FLUSH as RFC 4978 4 recommends, and Z_PARTIAL_FLUSH, which
    # some clients (mbsync among them) send.
    for flush, name in ((zlib.Z_SYNC_FLUSH, "Z_SYNC_FLUSH"), (zlib.Z_PARTIAL_FLUSH, "Z_PARTIAL_FLUSH")):
        r = Raw()
        u, t = r.cmd("COMPRESS DEFLATE")
        check(cap, b" OK" in t, "COMPRESS DEFLATE", t)
        if b" OK" not in t:
            return
        r.deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        r.inflate = zlib.decompressobj(-15)
        r.flush = flush
        try:
            u, t = r.ok("SELECT INBOX")
            check(cap, b"* 3 EXISTS" in u, "SELECT over the compressed stream (%s)" % name, u)
            u, t = r.ok("FETCH 1 (BODY.PEEK[])")
            check(cap, MSGS[0][0] in b"".join(u), "FETCH BODY[] over the compressed stream (%s)" % name, u)
            big = b"Subject: compressed append\r\n\r\n" + b"a fairly compressible line of text\r\n" * 2000
            u, t = r.cmd("APPEND Trash ", big)
            check(cap, b" OK" in t, "APPEND of %d octets over the compressed stream (%s)" % (len(big), name), t)
            u, t = r.cmd("COMPRESS DEFLATE")
            check(cap, b" NO" in t or b" BAD" in t, "a second COMPRESS is refused (%s)" % name, t)
        except (OSError, EOFError) as e:
            report(cap, False, "the compressed session (%s) failed: %s" % (name, e))
        r.close()


CASES = {
    "IMAP4rev1": c_imap4rev1,
    "IMAP4rev2": c_imap4rev2,
    "LITERAL+": c_literal_plus,
    "SASL-IR": c_sasl_ir,
    "AUTH=PLAIN": c_auth_plain,
    "AUTH=LOGIN": c_auth_login,
    "STARTTLS": c_starttls,
    "ID": c_id,
    "ENABLE": c_enable,
    "IDLE": c_idle,
    "NAMESPACE": c_namespace,
    "UIDPLUS": c_uidplus,
    "MOVE": c_move,
    "UNSELECT": c_unselect,
    "CHILDREN": c_children,
    "SPECIAL-USE": c_special_use,
    "CREATE-SPECIAL-USE": c_create_special_use,
    "LIST-EXTENDED": c_list_extended,
    "LIST-STATUS": c_list_status,
    "ESEARCH": c_esearch,
    "SEARCHRES": c_searchres,
    "STATUS=SIZE": c_status_size,
    "APPENDLIMIT=": c_appendlimit,
    "BINARY": c_binary,
    "UTF8=ACCEPT": c_utf8_accept,
    "MULTIAPPEND": c_multiappend,
    "CONDSTORE": c_condstore,
    "QRESYNC": c_qresync,
    "OBJECTID": c_objectid,
    "SAVEDATE": c_savedate,
    "WITHIN": c_within,
    "PREVIEW": c_preview,
    "QUOTA": c_quota,
    "QUOTA=RES-STORAGE": c_quota_res_storage,
    "QUOTA=RES-MESSAGE": c_quota_res_message,
    "SORT": c_sort,
    "SORT=DISPLAY": c_sort_display,
    "THREAD=ORDEREDSUBJECT": c_thread_orderedsubject,
    "THREAD=REFERENCES": c_thread_references,
    "ESORT": c_esort,
    "CONTEXT=SEARCH": c_context_search,
    "CONTEXT=SORT": c_context_sort,
    "COMPRESS=DEFLATE": c_compress,
}


def case_of(cap):
    if cap in CASES:
        return CASES[cap]
    if "=" in cap and cap.split("=")[0] + "=" in CASES:
        return CASES[cap.split("=")[0] + "="]
    return None


def main():
    pre = Raw(do_login=False)
    m = re.search(rb"\[CAPABILITY ([^\]]*)\]", pre.greeting)
    precaps = m.group(1).decode().split() if m else []
    pre.close()
    m = login()
    typ, data = m.capability()
    caps = data[0].decode().split()
    CAPS.extend(caps)
    m.logout()
    print("PRECAPS " + " ".join(precaps))
    print("CAPS " + " ".join(caps))
    seed()
    advertised = list(dict.fromkeys(caps + precaps))
    for cap in advertised:
        fn = case_of(cap)
        if fn is None:
            report(cap, False, "advertised but this script has no case for it")
            continue
        try:
            fn(cap)
        except Exception as e:
            report(cap, False, "raised %s: %s" % (type(e).__name__, e))
    for name in CASES:
        if not any(case_of(c) is CASES[name] for c in advertised):
            print("skip %s: not advertised" % name)
    print("DONE failures=%d" % failures)


main()
