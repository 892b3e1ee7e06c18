package imapd_test

import (
	"strings"
	"testing"

	"mailhost/testsupport"
)

// pySync drives CONDSTORE, QRESYNC, OBJECTID and SAVEDATE with Python's
// imaplib, the way a client library sends them (imaplib has no SELECT
// parameters: the QRESYNC SELECT goes through its generic command call).
const pySync = `
import imaplib, sys, time
port = int(sys.argv[1])
def conn():
    m = imaplib.IMAP4("127.0.0.1", port)
    m.login("bob@example.test", "secret")
    return m
def d(x):
    return [v.decode() if isinstance(v, bytes) else v for v in x]
a = conn()
print("CAPS", " ".join(a.capabilities))
print("ENABLE", a.enable("QRESYNC")[0])
msg = b"Subject: py\r\n\r\nbody\r\n"
for i in range(3):
    a.append("INBOX", None, None, msg)
a.select("INBOX")
uv = a.response("UIDVALIDITY")[1][0].decode()
h = int(a.response("HIGHESTMODSEQ")[1][0])
typ, data = a.store("1", "+FLAGS", "(\\Seen)")
print("STORE", typ, d(data))
typ, data = a.store("1:2", "(UNCHANGEDSINCE %d) +FLAGS" % h, "(\\Answered)")
print("CSTORE", typ, d(a.response("MODIFIED")[1]))
print("SEARCH", d(a.search(None, "MODSEQ", str(h + 1))[1]))
print("STATUS", d(a.status("INBOX", "(HIGHESTMODSEQ MAILBOXID)")[1]))
print("OBJ", d(a.fetch("1", "(EMAILID THREADID SAVEDATE)")[1]))
print("SAVED", d(a.search(None, "SAVEDSINCE", time.strftime("%d-%b-%Y"))[1]))
a.logout()
b = conn()
b.select("INBOX")
b.uid("STORE", "2", "+FLAGS", "(\\Flagged)")
b.uid("STORE", "3", "+FLAGS", "(\\Deleted)")
b.expunge()
b.logout()
c = conn()
c.enable("QRESYNC")
typ, data = c._simple_command("SELECT", "INBOX", "(QRESYNC (%s %d))" % (uv, h))
c.state = "SELECTED"
print("RESYNC", typ, d(c.response("VANISHED")[1]), d(c.response("FETCH")[1]))
typ, data = c.uid("FETCH", "1:*", "(FLAGS) (CHANGEDSINCE %d VANISHED)" % h)
print("UIDFETCH", typ, d(data), d(c.response("VANISHED")[1]))
c.logout()
`

func TestPythonImaplibSync(t *testing.T) {
	py := testsupport.RequireTool(t, "python3", "python3")
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	out := run(t, py, "-c", pySync, port(e.nodes[0].addr))
	t.Log(out)
	for _, want := range []string{
		"CONDSTORE", "QRESYNC", "OBJECTID", "SAVEDATE",
		"ENABLE OK",
		"CSTORE OK ['1']", // message 1 changed after the modseq: MODIFIED 1
		"MODSEQ (",
		"HIGHESTMODSEQ ", "MAILBOXID (F",
		"EMAILID (M", "THREADID NIL", "SAVEDATE \"",
		"SAVED ['1 2 3']",
		"RESYNC OK ['(EARLIER) 3']",
		"UID 2 FLAGS (\\\\Answered \\\\Flagged)",
		"UIDFETCH OK",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
