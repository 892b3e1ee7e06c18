package pop3d_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"mailhost/testsupport"
)

// Real clients against the real server on loopback: Python's poplib,
// curl and fetchmail.

// crlf is what a client receives for a message stored with LF endings.
func crlf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

type poplibResult struct {
	Welcome       string   `json:"welcome"`
	CapaBeforeTLS []string `json:"capa_before_tls"`
	Capa          []string `json:"capa"`
	Auth          string   `json:"auth"`
	Stat          []int64  `json:"stat"`
	List          []string `json:"list"`
	UIDL          []string `json:"uidl"`
	Messages      []string `json:"messages"`
	Octets        []int64  `json:"octets"`
	Top           []string `json:"top"`
	Quit          string   `json:"quit"`
}

func runPoplib(t *testing.T, mode, addr, user, pw string) poplibResult {
	t.Helper()
	py := testsupport.RequireTool(t, "python3", "python3")
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(py, "testdata/poplib_client.py", mode, host, port, user, pw)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("poplib %s: %v\n%s", mode, err, stderr.String())
	}
	var r poplibResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("poplib output %q: %v", out, err)
	}
	return r
}

func TestPoplib(t *testing.T) {
	msgs := []string{
		message("lf endings", "line one\n.starts with a dot\n\nlast\n"),
		"Subject: crlf endings\r\n\r\nbody\r\n..two dots\r\n",
		// 200 KB: several file buffers (poplib refuses lines over 2048 octets).
		message("big", strings.Repeat(strings.Repeat("0123456789abcdef", 60)+"\n", 200)),
	}
	for _, mode := range []string{"plain", "stls", "ssl", "authplain"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, envOptions{noLoopbackPlaintext: mode != "plain"})
			e.addMailbox(t, alice, "s3cret pw")
			for _, m := range msgs {
				e.deliver(t, alice, m)
			}
			addr := e.plain
			if mode == "ssl" {
				addr = e.tlsAddr
			}
			r := runPoplib(t, mode, addr, alice, "s3cret pw")
			if !strings.HasPrefix(r.Auth, "+OK") {
				t.Fatalf("login: %q", r.Auth)
			}
			if mode == "stls" || mode == "authplain" {
				if !contains(r.CapaBeforeTLS, "STLS") || contains(r.CapaBeforeTLS, "USER") {
					t.Errorf("CAPA before TLS = %q", r.CapaBeforeTLS)
				}
				if contains(r.Capa, "STLS") || !contains(r.Capa, "USER") || !contains(r.Capa, "SASL") {
					t.Errorf("CAPA after STLS = %q", r.Capa)
				}
			}
			var total int64
			for i, m := range msgs {
				want := crlf(m)
				total += int64(len(want))
				got, _ := base64.StdEncoding.DecodeString(r.Messages[i])
				if string(got) != want {
					t.Errorf("message %d: got %q; want %q", i+1, trunc(string(got)), trunc(want))
				}
				if r.Octets[i] != int64(len(want)) {
					t.Errorf("message %d: %d octets received; want %d", i+1, r.Octets[i], len(want))
				}
				if r.List[i] != fmt.Sprintf("%d %d", i+1, len(want)) {
					t.Errorf("LIST line %q; want size %d", r.List[i], len(want))
				}
			}
			if r.Stat[0] != 3 || r.Stat[1] != total {
				t.Errorf("STAT = %v; want 3 %d", r.Stat, total)
			}
			if len(r.UIDL) != 3 || !strings.HasPrefix(r.UIDL[0], "1 ") {
				t.Errorf("UIDL = %q", r.UIDL)
			}
			if len(r.Top) != 4 || r.Top[2] != "Subject: lf endings" {
				t.Errorf("TOP 1 0 = %q", r.Top)
			}
			if u := e.usage(t, alice); u.files != 2 || u.rows != 2 || u.messages != 2 {
				t.Errorf("after DELE 1 and QUIT: %+v", u)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func trunc(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

func TestCurl(t *testing.T) {
	curl := testsupport.RequireTool(t, "curl", "curl")
	e := newEnv(t, envOptions{})
	e.addMailbox(t, alice, "secret")
	m1 := message("curl", "hello\n.dot\n")
	e.deliver(t, alice, m1)
	e.deliver(t, alice, message("two", "x\n"))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"pop3 RETR", []string{"pop3://" + e.plain + "/1"}, crlf(m1)},
		{"pop3 LIST", []string{"pop3://" + e.plain + "/"}, fmt.Sprintf("1 %d\r\n2 %d\r\n", len(crlf(m1)), len(crlf(message("two", "x\n"))))},
		{"pop3 STLS", []string{"--ssl-reqd", "-k", "pop3://" + e.plain + "/1"}, crlf(m1)},
		{"pop3s", []string{"-k", "pop3s://" + e.tlsAddr + "/1"}, crlf(m1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-sS", "--max-time", "20", "--user", alice + ":secret"}, tc.args...)
			out, err := exec.Command(curl, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("curl %v: %v\n%s", args, err, out)
			}
			if string(out) != tc.want {
				t.Fatalf("curl %v:\n%q\nwant\n%q", args, out, tc.want)
			}
		})
	}
	// A wrong password: curl reports the failure.
	out, err := exec.Command(curl, "-sS", "--max-time", "20", "--user", alice+":wrong", "pop3://"+e.plain+"/").CombinedOutput()
	if err == nil {
		t.Fatalf("curl with a wrong password succeeded: %s", out)
	}
}

// fetchmail downloads and deletes every message, as a user's cron job
// would, over POP3S and over POP3 with STLS.
func TestFetchmail(t *testing.T) {
	fetchmail := testsupport.RequireTool(t, "fetchmail", "fetchmail")
	for _, mode := range []string{"pop3s", "stls"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, envOptions{noLoopbackPlaintext: true})
			e.addMailbox(t, alice, "secret")
			var want []string
			for i := 0; i < 25; i++ {
				m := message(fmt.Sprint("message ", i), strings.Repeat(fmt.Sprintf("line %d\n", i), i*50), ".\n")
				want = append(want, m)
				e.deliver(t, alice, m)
			}
			home := t.TempDir()
			outDir := filepath.Join(home, "out")
			os.Mkdir(outDir, 0o700)
			mda := filepath.Join(home, "mda.sh")
			os.WriteFile(mda, []byte("#!/bin/sh\nexec cat > \""+outDir+"/msg.$$\"\n"), 0o700)
			addr := e.plain
			tlsOpts := "sslproto TLS1.2+ no sslcertck"
			if mode == "pop3s" {
				addr = e.tlsAddr
				tlsOpts = "ssl " + tlsOpts
			}
			host, port, _ := net.SplitHostPort(addr)
			rc := fmt.Sprintf("set no bouncemail\npoll %s service %s protocol POP3 auth password timeout 20\n"+
				"  user %q password %q is root here\n  %s\n  fetchall\n  mda %q\n",
				host, port, alice, "secret", tlsOpts, mda)
			rcFile := filepath.Join(home, "fetchmailrc")
			os.WriteFile(rcFile, []byte(rc), 0o600)
			cmd := exec.Command(fetchmail, "-f", rcFile, "--nosyslog", "--nodetach", "--pidfile", filepath.Join(home, "pid"))
			cmd.Env = append(os.Environ(), "HOME="+home, "FETCHMAILHOME="+home)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("fetchmail: %v\n%s", err, out)
			}
			files, _ := os.ReadDir(outDir)
			var got []string
			for _, f := range files {
				b, _ := os.ReadFile(filepath.Join(outDir, f.Name()))
				got = append(got, string(b))
			}
			if len(got) != len(want) {
				t.Fatalf("fetchmail delivered %d messages; want %d\n%s", len(got), len(want), out)
			}
			// fetchmail prepends its Received header and writes LF endings.
			sort.Strings(got)
			for _, w := range want {
				found := false
				for _, g := range got {
					if strings.HasSuffix(g, w) {
						found = true
					}
				}
				if !found {
					t.Fatalf("message %q not delivered intact", trunc(w))
				}
			}
			if u := e.usage(t, alice); u != (usage{}) {
				t.Fatalf("after fetchmail (no keep): %+v; want an empty mailbox", u)
			}
		})
	}
}
