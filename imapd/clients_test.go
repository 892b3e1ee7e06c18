package imapd_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"mailhost/imapd"
	"mailhost/testsupport"
)

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// pyClient drives the server with Python's imaplib over STARTTLS (imap) or
// implicit TLS (imaps).
const pyClient = `
import imaplib, ssl, sys
mode, port, user, pw, msg = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
if mode == "imaps":
    m = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx)
else:
    m = imaplib.IMAP4("127.0.0.1", port)
    if mode == "starttls-required":
        try:
            m.login(user, pw)
            print("LOGIN-ACCEPTED-IN-CLEAR")
        except imaplib.IMAP4.error as e:
            print("refused:", e)
    m.starttls(ssl_context=ctx)
print(m.login(user, pw)[0])
typ, boxes = m.list()
print("LIST", typ, len(boxes), [b.decode() for b in boxes if b"\\Sent" in b])
print("APPEND", m.append("INBOX", "(\\Flagged)", None, msg.encode())[0])
typ, data = m.select("INBOX")
print("SELECT", typ, data[0].decode())
typ, data = m.fetch("1", "(FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
print("FETCH", typ, data[0][0].decode(), data[0][1].decode().strip())
typ, data = m.uid("FETCH", "1:*", "(BODY[])")
print("UIDFETCH", typ, data[0][1] == msg.replace("\n", "\r\n").encode())
print("STORE", m.store("1", "+FLAGS", "(\\Answered)")[1][0].decode())
print("SEARCH", m.search(None, "ANSWERED", "SUBJECT", "hello")[1][0].decode())
print("STATUS", m.status("INBOX", "(MESSAGES UNSEEN UIDNEXT SIZE)")[1][0].decode())
m.close()
print("LOGOUT", m.logout()[0])
`

func TestPythonImaplib(t *testing.T) {
	py := testsupport.RequireTool(t, "python3", "python3")
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	strict := e.startNodeWith(t, func(o *imapd.Options) { o.AllowPlaintextLoopback = false })
	msg := "Subject: hello python\nFrom: a@example.test\n\nbody line\n"
	for _, tc := range []struct{ mode, addr string }{
		{"starttls", e.nodes[0].addr},
		{"imaps", e.nodes[0].tlsAddr},
		{"starttls-required", strict.addr},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			out := run(t, py, "-c", pyClient, tc.mode, port(tc.addr), "bob@example.test", "secret", msg)
			t.Log(out)
			for _, want := range []string{"OK\n", "LIST OK 6", `\\Sent) "/" "Sent"`, "APPEND OK",
				"FETCH OK", "Subject: hello python", "UIDFETCH OK True", "\\Answered", "STATUS INBOX (MESSAGES",
				"SIZE ", "LOGOUT BYE"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q", want)
				}
			}
			if tc.mode == "starttls-required" && !strings.Contains(out, "refused:") {
				t.Errorf("LOGIN in clear text was not refused")
			}
		})
	}
}

func TestCurl(t *testing.T) {
	curl := testsupport.RequireTool(t, "curl", "curl")
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	c := e.dial(t, e.nodes[0], "bob@example.test", "secret", nil)
	appendMsg(t, c, "INBOX", testMsg)
	for _, url := range []string{
		"imap://" + e.nodes[0].addr + "/INBOX;UID=1",
		"imaps://" + e.nodes[0].tlsAddr + "/INBOX;UID=1",
	} {
		out := run(t, curl, "-sS", "-k", "--max-time", "20", "-u", "bob@example.test:secret", url)
		if out != testMsg {
			t.Errorf("curl %s: %q", url, out)
		}
	}
	out := run(t, curl, "-sS", "--max-time", "20", "-u", "bob@example.test:secret", "imap://"+e.nodes[0].addr+"/")
	if !strings.Contains(out, "Sent") || !strings.Contains(out, "INBOX") {
		t.Errorf("curl LIST: %q", out)
	}
	// STARTTLS required by curl (--ssl-reqd).
	out = run(t, curl, "-sS", "-k", "--ssl-reqd", "--max-time", "20", "-u", "bob@example.test:secret",
		"imap://"+e.nodes[0].addr+"/INBOX;UID=1")
	if out != testMsg {
		t.Errorf("curl with STARTTLS: %q", out)
	}
}

func TestMbsyncFullDownload(t *testing.T) {
	mbsync := testsupport.RequireTool(t, "mbsync", "isync")
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	c := e.dial(t, e.nodes[0], "bob@example.test", "secret", nil)
	const n = 30
	for i := 0; i < n; i++ {
		folder := []string{"INBOX", "Sent", "Archive"}[i%3]
		appendMsg(t, c, folder, strings.Replace(testMsg, "Hello there", fmt.Sprintf("message %d", i), 1))
	}
	dir := t.TempDir()
	local := filepath.Join(dir, "mail") + "/"
	if err := os.MkdirAll(local, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`IMAPAccount test
Host 127.0.0.1
Port %s
User bob@example.test
Pass secret
SSLType STARTTLS
CertificateFile %s
AuthMechs PLAIN

IMAPStore remote
Account test

MaildirStore local
Path %s
Inbox %sINBOX
SubFolders Verbatim

Channel all
Far :remote:
Near :local:
Patterns *
Create Near
Sync Pull
SyncState *
`, port(e.nodes[0].addr), e.certFile, local, local)
	cfgFile := filepath.Join(dir, "mbsyncrc")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out := run(t, mbsync, "-c", cfgFile, "-a")
	t.Log(out)
	count := 0
	filepath.WalkDir(local, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (filepath.Base(filepath.Dir(p)) == "cur" || filepath.Base(filepath.Dir(p)) == "new") {
			b, _ := os.ReadFile(p)
			if strings.Contains(string(b), "the quick brown fox") {
				count++
			}
		}
		return nil
	})
	if count != n {
		t.Errorf("mbsync downloaded %d messages, want %d", count, n)
	}
}
