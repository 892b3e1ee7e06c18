package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mailhost/testdb"
)

// bin is the mailhost binary built once for these tests.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mailhost-bin-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "mailhost")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build mailhost: %v\n%s", err, out)
		os.Exit(1)
	}
	code := testdb.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// dataDir is a fresh data directory that the vmail account can reach
// (t.TempDir's parent is root-only).
func dataDir(t *testing.T) string {
	t.Helper()
	base, err := os.MkdirTemp("", "mailhost-data-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	return filepath.Join(base, "data")
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// baseEnv is the environment of a mailhost under test: no inherited
// database or mailhost settings, every listener off unless set.
func baseEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATABASE_URL=") && !strings.HasPrefix(kv, "MAILHOST_") {
			env = append(env, kv)
		}
	}
	for _, l := range []string{"SMTP", "SUBMISSION", "SUBMISSIONS", "IMAP", "IMAPS", "POP3", "POP3S", "HTTP", "MANAGESIEVE"} {
		env = append(env, "MAILHOST_LISTEN_"+l+"=off")
	}
	return append(env, extra...)
}

// mailhost runs a command to completion and returns its exit code,
// stdout and stderr.
func mailhost(t *testing.T, env []string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// running is a `mailhost serve` under test.
type running struct {
	cmd    *exec.Cmd
	http   string
	log    *syncBuffer   // its stdout and stderr, written while it runs
	exited chan struct{} // closed when it has exited and been waited for
	err    error         // of cmd.Wait; read only after exited is closed
}

// syncBuffer is a bytes.Buffer safe for a running command writing to it
// while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startServe(t *testing.T, env []string, args ...string) *running {
	t.Helper()
	addr := freePort(t)
	for _, kv := range env { // a test that needs the port first chooses it
		if a, ok := strings.CutPrefix(kv, "MAILHOST_LISTEN_HTTP="); ok && a != "off" {
			addr = a
		}
	}
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Env = append(env, "MAILHOST_LISTEN_HTTP="+addr)
	r := &running{cmd: cmd, http: addr, log: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = r.log, r.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.err = cmd.Wait(); close(r.exited) }()
	t.Cleanup(func() {
		select {
		case <-r.exited:
		default:
			cmd.Process.Kill()
			<-r.exited
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if code, _ := r.health(); code == 200 {
			return r
		}
		select {
		case <-r.exited:
			t.Fatalf("serve exited early: %v\n%s", r.err, r.log)
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("serve never became healthy:\n%s", r.log)
	return nil
}

func (r *running) health() (int, string) {
	resp, err := http.Get("http://" + r.http + "/healthz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// stop sends SIGTERM and returns the exit code.
func (r *running) stop(t *testing.T) int {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not stop after SIGTERM:\n%s", r.log)
	}
	return r.cmd.ProcessState.ExitCode()
}

// postgresFor lists postgres processes whose command line names dir.
func postgresFor(dir string) []string {
	var found []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		cl := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cl, "postgres") && strings.Contains(cl, dir) {
			found = append(found, cl)
		}
	}
	return found
}
