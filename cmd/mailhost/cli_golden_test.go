package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"mailhost/store"
	"mailhost/testdb"
)

var updateGolden = flag.Bool("update", false, "rewrite the CLI golden files in testdata/cli")

// golden compares got with testdata/cli/NAME (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "cli", name)
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// Help per command and per verb, as a newcomer types it.
func TestCLIHelpGolden(t *testing.T) {
	for _, args := range [][]string{
		{"mailbox", "add", "-h"},
		{"mailbox", "-h"},
		{"token", "-h"},
		{"token", "create", "--help"},
		{"queue", "hold", "-h"},
		{"access", "del", "-h"},
	} {
		t.Run(strings.Join(args, "_"), func(t *testing.T) {
			code, out, errOut := mailhost(t, baseEnv(), "", args...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			golden(t, strings.Join(args, "_")+".golden", out)
		})
	}
}

// What the changing commands print: one line saying what they did.
func TestCLIOutputsGolden(t *testing.T) {
	env, _ := provEnv(t)
	var got strings.Builder
	step := func(stdin string, args ...string) {
		t.Helper()
		got.WriteString("$ mailhost " + strings.Join(args, " ") + "\n" + run1(t, env, stdin, args...))
	}
	step("", "domain", "add", "example.com")
	run1(t, env, "pw-for-root-1234\n", "admin", "add", "root", "--super", "--password-stdin")
	step("pw-for-carol-1234\n", "admin", "add", "carol", "--domain", "example.com", "--password-stdin")
	step("pw-for-ann-1234\n", "mailbox", "add", "ann@example.com", "--password-stdin")
	step("", "alias", "add", "sales@example.com", "ann@example.com")
	run1(t, env, "", "token", "create", "carol", "--name", "provisioning")
	step("", "token", "list")
	step("", "token", "revoke", "1")
	step("", "alias", "del", "sales@example.com")
	step("", "mailbox", "del", "ann@example.com")
	step("", "admin", "del", "carol")
	step("", "domain", "del", "example.com")
	// Times and token prefixes change from run to run.
	out := regexp.MustCompile(`\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(Z| UTC)`).ReplaceAllString(got.String(), "TIME")
	out = regexp.MustCompile(`mh_[\w-]+…`).ReplaceAllString(out, "mh_PREFIX…") // base64url: "-" too
	golden(t, "outputs.golden", out)
}

// A successful sendmail prints nothing (cron mails any output) and a
// provisioning command prints only its answer: the embedded cluster's and
// the mail log's INFO lines appear only with --log-level info.
func TestCLIQuietOnSuccess(t *testing.T) {
	env, _ := provEnv(t)
	run1(t, env, "", "domain", "add", "example.com")
	run1(t, env, "pw-for-ann-1234\n", "mailbox", "add", "ann@example.com", "--password-stdin")
	code, out, errOut := mailhost(t, env, "Subject: hi\n\nhello\n", "sendmail", "ann@example.com")
	if code != 0 || out != "" || errOut != "" {
		t.Errorf("sendmail: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = mailhost(t, env, "Subject: hi\n\nhello\n", "sendmail", "--log-level", "info", "ann@example.com")
	if code != 0 || !strings.Contains(errOut, "msg=accepted") {
		t.Errorf("sendmail --log-level info: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = mailhost(t, env, "", "domain", "list")
	if code != 0 || errOut != "" {
		t.Errorf("domain list: exit %d, stderr %q", code, errOut)
	}
}

// The queue tools show a message by the queue id of its 250 reply and
// log lines, list its copies (rows sharing the id) each under it, and
// take the id, or a row number of the message, to show and hold it.
func TestCLIQueueGolden(t *testing.T) {
	url := testdb.New(t)
	env := baseEnv("DATABASE_URL="+url, "MAILHOST_DATA_DIR="+dataDir(t))
	run1(t, env, "", "migrate")
	st, err := store.Open(context.Background(), url, store.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	msg := func(qid, sender, origin, rcpt string) store.QueuedMessage {
		return store.QueuedMessage{QueueID: qid, Sender: sender, Origin: origin,
			Body:       []byte("Subject: report\r\nFrom: <ann@example.com>\r\n\r\nthe body\r\n"),
			Recipients: []store.QueuedRecipient{{Address: rcpt, Domain: "remote.example"}}}
	}
	const qid, other = "0662A9B1C4D2E1A3F07C", "0662A9B1C4D2F00000B0"
	rows, err := st.Enqueue(context.Background(), msg(qid, "ann@example.com", "smtp", "bob@remote.example"),
		msg(qid, "SRS0=x1=AB=example.com=ann@example.com", "forward", "cy@remote.example"),
		msg(other, "", "bounce", "dee@remote.example"))
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	step := func(args ...string) {
		t.Helper()
		got.WriteString("$ mailhost " + strings.Join(args, " ") + "\n" + run1(t, env, "", args...))
	}
	step("queue", "list")
	step("queue", "show", qid)
	step("queue", "hold", strings.ToLower(qid))
	step("queue", "list", "--state", "hold")
	step("queue", "show", strconv.FormatInt(rows[2], 10))
	step("queue", "delete", qid)
	step("queue", "list")
	out := regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \w+`).ReplaceAllString(got.String(), "TIME")
	out = regexp.MustCompile(`\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d`).ReplaceAllString(out, "ARRIVAL            ")
	out = regexp.MustCompile(`row: \d+`).ReplaceAllString(out, "row: N")
	out = regexp.MustCompile(`\(row \d+\)`).ReplaceAllString(out, "(row N)")
	golden(t, "queue.golden", out)
}
