package managesieve_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"mailhost/testsupport"
)

func TestGreetingAndCapabilities(t *testing.T) {
	e := newEnv(t, options{})
	c, greeting := e.dial(t)
	for _, want := range []string{`"IMPLEMENTATION" "mailhost"`, `"SASL" "PLAIN LOGIN"`, `"STARTTLS"`,
		`"VERSION" "1.0"`, `"MAXREDIRECTS" "4"`, "fileinto", "vacation-seconds", "include"} {
		if !strings.Contains(greeting, want) {
			t.Errorf("greeting lacks %s:\n%s", want, greeting)
		}
	}
	if !strings.HasSuffix(greeting, "OK \"mailhost ManageSieve ready.\"\r\n") {
		t.Errorf("greeting ends %q", greeting)
	}
	if r := c.send("CAPABILITY\r\n"); !strings.Contains(r, `"SIEVE"`) || !strings.HasSuffix(r, "OK \"Capability completed.\"\r\n") {
		t.Errorf("CAPABILITY: %q", r)
	}
	if r := c.send("LISTSCRIPTS\r\n"); !strings.HasPrefix(r, "NO") {
		t.Errorf("LISTSCRIPTS before login: %q", r)
	}
	if r := c.send("NOOP \"abc\"\r\n"); r != "OK (TAG \"abc\") \"Done.\"\r\n" {
		t.Errorf("NOOP: %q", r)
	}
	if r := c.send("FROB\r\n"); !strings.HasPrefix(r, "NO") {
		t.Errorf("unknown command: %q", r)
	}
	if r := c.send("LOGOUT\r\n"); !strings.HasPrefix(r, "OK") {
		t.Errorf("LOGOUT: %q", r)
	}
}

// Without TLS a password may not travel: no SASL mechanism is offered and
// AUTHENTICATE is refused until STARTTLS, as on the other protocols.
func TestTLSBeforeAuth(t *testing.T) {
	e := newEnv(t, options{noLoopbackPlaintext: true})
	e.addMailbox(t, "alice@example.test", "secret")
	c, greeting := e.dial(t)
	if !strings.Contains(greeting, "\"SASL\" \"\"\r\n") {
		t.Errorf("SASL offered before TLS:\n%s", greeting)
	}
	if r := c.send("AUTHENTICATE \"PLAIN\" \"" + plain("alice@example.test", "secret") + "\"\r\n"); !strings.HasPrefix(r, "NO (ENCRYPT-NEEDED)") {
		t.Fatalf("AUTHENTICATE before TLS: %q", r)
	}
	caps := c.starttls(e.certFile)
	if !strings.Contains(caps, `"SASL" "PLAIN LOGIN"`) || strings.Contains(caps, `"STARTTLS"`) {
		t.Errorf("capabilities after STARTTLS:\n%s", caps)
	}
	if r := c.send("AUTHENTICATE \"PLAIN\" \"" + plain("alice@example.test", "wrong") + "\"\r\n"); !strings.HasPrefix(r, "NO") {
		t.Fatalf("wrong password: %q", r)
	}
	// Without an initial response: an empty challenge, then the response as a literal.
	io.WriteString(c.conn, "AUTHENTICATE \"PLAIN\"\r\n")
	if line, err := c.r.ReadString('\n'); err != nil || line != "\"\"\r\n" {
		t.Fatalf("challenge: %q %v", line, err)
	}
	if r := c.send(literal(plain("alice@example.test", "secret")) + "\r\n"); r != "OK \"Logged in.\"\r\n" {
		t.Fatalf("login with a literal response: %q", r)
	}
	if r := c.send("CAPABILITY\r\n"); strings.Contains(r, `"SASL"`) || !strings.Contains(r, `"OWNER" "alice@example.test"`) {
		t.Errorf("capabilities after login:\n%s", r)
	}
}

func TestScriptCommands(t *testing.T) {
	e := newEnv(t, options{maxScripts: 2})
	e.addMailbox(t, "alice@example.test", "secret")
	c, _ := e.dial(t)
	if r := c.send("AUTHENTICATE \"PLAIN\" \"" + plain("alice@example.test", "secret") + "\"\r\n"); r != "OK \"Logged in.\"\r\n" {
		t.Fatalf("login: %q", r)
	}
	good := "require \"fileinto\";\r\nif header :contains \"subject\" \"x\" {\r\n  fileinto \"X\";\r\n}\r\n"
	bad := "require \"fileinto\";\r\nkeep;\r\nfrobnicate;\r\n"
	for _, step := range []struct{ send, want string }{
		{"CHECKSCRIPT " + literal(bad) + "\r\n", "NO \"line 3: unknown command \\\"frobnicate\\\"\"\r\n"},
		{"PUTSCRIPT \"bad\" " + literal(bad) + "\r\n", "NO \"line 3: unknown command \\\"frobnicate\\\"\"\r\n"},
		{"CHECKSCRIPT " + literal(good) + "\r\n", "OK \"Script is valid.\"\r\n"},
		{"HAVESPACE \"main\" 100\r\n", "OK \"Putscript would succeed.\"\r\n"},
		{"HAVESPACE \"main\" 100000\r\n", "NO (QUOTA/MAXSIZE) \"Script too large (at most 4096 octets).\"\r\n"},
		{"PUTSCRIPT \"main\" " + literal(good) + "\r\n", "OK \"Putscript completed.\"\r\n"},
		{"PUTSCRIPT \"other\" {6}\r\nkeep;\n\r\n", "OK \"Putscript completed.\"\r\n"},
		{"PUTSCRIPT \"third\" \"keep;\"\r\n", "NO (QUOTA/MAXSCRIPTS) \"At most 2 scripts.\"\r\n"},
		{"SETACTIVE \"nope\"\r\n", "NO (NONEXISTENT) \"There is no script by that name.\"\r\n"},
		{"SETACTIVE \"main\"\r\n", "OK \"Setactive completed.\"\r\n"},
		{"LISTSCRIPTS\r\n", "\"main\" ACTIVE\r\n\"other\"\r\nOK \"Listscripts completed.\"\r\n"},
		{"GETSCRIPT \"main\"\r\n", "{" + itoa(len(good)) + "}\r\n" + good + "\r\nOK \"Getscript completed.\"\r\n"},
		{"DELETESCRIPT \"main\"\r\n", "NO (ACTIVE) \"You may not delete the active script.\"\r\n"},
		{"RENAMESCRIPT \"other\" \"main\"\r\n", "NO (ALREADYEXISTS) \"A script with the new name already exists.\"\r\n"},
		{"RENAMESCRIPT \"other\" \"spare\"\r\n", "OK \"Renamescript completed.\"\r\n"},
		{"DELETESCRIPT \"spare\"\r\n", "OK \"Deletescript completed.\"\r\n"},
		{"DELETESCRIPT \"spare\"\r\n", "NO (NONEXISTENT) \"There is no script by that name.\"\r\n"},
		{"PUTSCRIPT \"big\" {5000+}\r\n" + strings.Repeat("#", 5000) + "\r\n", "NO (QUOTA/MAXSIZE) \"Script too large (at most 4096 octets).\"\r\n"},
		{"PUTSCRIPT \"a\x01b\" \"keep;\"\r\n", "NO \"Invalid script name (UTF-8, no control characters or '/', at most 128 octets).\"\r\n"},
		{"SETACTIVE \"\"\r\n", "OK \"Setactive completed.\"\r\n"},
		{"LISTSCRIPTS\r\n", "\"main\"\r\nOK \"Listscripts completed.\"\r\n"},
		{"UNAUTHENTICATE\r\n", "OK \"Unauthenticate completed.\"\r\n"},
		{"LISTSCRIPTS\r\n", "NO \"Authenticate first.\"\r\n"},
	} {
		if got := c.send(step.send); got != step.want {
			t.Fatalf("%q:\n got %q\nwant %q", step.send, got, step.want)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestSieveConnect drives the server with sieve-connect (Debian package
// sieve-connect): STARTTLS, PLAIN, upload, list, activate, download.
func TestSieveConnect(t *testing.T) {
	bin := testsupport.RequireTool(t, "sieve-connect", "sieve-connect")
	e := newEnv(t, options{noLoopbackPlaintext: true})
	id := e.addMailbox(t, "alice@example.test", "secret")
	dir := t.TempDir()
	local := filepath.Join(dir, "filter.sieve")
	script := "require \"fileinto\";\nif header :contains \"subject\" \"news\" { fileinto \"News\"; }\n"
	if err := os.WriteFile(local, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(e.addr, ":")
	run := func(args ...string) string {
		t.Helper()
		base := []string{"--server", host, "--port", port, "--user", "alice@example.test", "--passwordfd", "3",
			"--notlsverify", "--authmech", "PLAIN"}
		cmd := exec.Command(bin, append(base, args...)...)
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.ExtraFiles = []*os.File{r}
		go func() { w.WriteString("secret\n"); w.Close() }()
		out, err := cmd.CombinedOutput()
		r.Close()
		if err != nil {
			t.Fatalf("sieve-connect %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("--upload", "--localsieve", local, "--remotesieve", "filter")
	run("--activate", "--remotesieve", "filter")
	if out := run("--list"); !strings.Contains(out, `"filter" ACTIVE`) {
		t.Errorf("list: %q", out)
	}
	back := filepath.Join(dir, "back.sieve")
	run("--download", "--remotesieve", "filter", "--localsieve", back)
	if b, err := os.ReadFile(back); err != nil || string(b) != script {
		t.Errorf("downloaded %q, %v", b, err)
	}
	s, err := e.st.SieveScript(context.Background(), id, "filter")
	if err != nil || !s.Active || s.Content != script {
		t.Fatalf("stored: %+v %v", s, err)
	}
	// A script with an error is refused with its line.
	badFile := filepath.Join(dir, "bad.sieve")
	os.WriteFile(badFile, []byte("keep;\nfrob;\n"), 0o600)
	cmd := exec.Command(bin, "--server", host, "--port", port, "--user", "alice@example.test", "--passwordfd", "3",
		"--notlsverify", "--authmech", "PLAIN", "--upload", "--localsieve", badFile, "--remotesieve", "bad")
	r, w, _ := os.Pipe()
	cmd.ExtraFiles = []*os.File{r}
	go func() { w.WriteString("secret\n"); w.Close() }()
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "line 2") {
		t.Errorf("bad upload: %v\n%s", err, out)
	}
}

// TestPythonClient speaks ManageSieve from Python's socket and ssl modules:
// STARTTLS, AUTHENTICATE PLAIN with a challenge, PUTSCRIPT with a literal,
// SETACTIVE, LISTSCRIPTS, GETSCRIPT, LOGOUT.
func TestPythonClient(t *testing.T) {
	py := testsupport.RequireTool(t, "python3", "python3")
	e := newEnv(t, options{noLoopbackPlaintext: true})
	e.addMailbox(t, "alice@example.test", "secret")
	out, err := exec.Command(py, "testdata/client.py", e.addr, "alice@example.test", "secret").CombinedOutput()
	if err != nil {
		t.Fatalf("client.py: %v\n%s", err, out)
	}
	for _, want := range []string{"login OK", `"vac" ACTIVE`, "getscript ok"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
