package main

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"mailhost/testdb"
	"mailhost/testsupport"
)

// The README's run command: the embedded default comes up healthy on a
// private cluster, stops cleanly on SIGTERM with nothing left running, and
// a second start reuses the data.
func TestServeEmbeddedDefault(t *testing.T) {
	data := dataDir(t)
	env := baseEnv("MAILHOST_DATA_DIR=" + data)
	r := startServe(t, env)
	if code, body := r.health(); code != 200 || body != `{"status":"ok","database":"ok"}` {
		t.Fatalf("healthz = %d %s", code, body)
	}
	if ps := postgresFor(data); len(ps) == 0 {
		t.Fatal("no postgres process for the data dir")
	}
	if _, err := os.Stat(filepath.Join(data, "tls", "cert.pem")); err != nil {
		t.Errorf("no generated certificate: %v", err)
	}
	if os.Geteuid() == 0 {
		assertRunsAsVmail(t, r, data, "postgres")
	}
	if code := r.stop(t); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0\n%s", code, r.log)
	}
	if ps := postgresFor(data); len(ps) != 0 {
		t.Fatalf("postgres left running after stop: %q", ps)
	}
	if !strings.Contains(r.log.String(), "initialising embedded postgres") {
		t.Errorf("first start did not initialise a cluster:\n%s", r.log)
	}

	r = startServe(t, env)
	if strings.Contains(r.log.String(), "initialising") || strings.Contains(r.log.String(), "migration applied") {
		t.Errorf("second start did not reuse the data:\n%s", r.log)
	}
	if code := r.stop(t); code != 0 {
		t.Fatalf("second run exit status %d", code)
	}
}

// As root, mailhost switches to the vmail uid/gid after binding, and the
// files it made are vmail's.
func assertRunsAsVmail(t *testing.T, r *running, data string, more ...string) {
	t.Helper()
	status, err := os.ReadFile("/proc/" + strconv.Itoa(r.cmd.Process.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "Uid:") || strings.HasPrefix(line, "Gid:") {
			if f := strings.Fields(line); len(f) != 5 || f[1] != "5000" || f[2] != "5000" || f[3] != "5000" {
				t.Errorf("%s: want 5000 for real, effective and saved", line)
			}
		}
	}
	paths := []string{data, filepath.Join(data, "vmail"), filepath.Join(data, "tls", "key.pem")}
	for _, m := range more {
		paths = append(paths, filepath.Join(data, m))
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != 5000 || st.Gid != 5000 {
			t.Errorf("%s owned by %d:%d, want vmail 5000:5000", p, st.Uid, st.Gid)
		}
	}
	fi, _ := os.Stat(filepath.Join(data, "vmail"))
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("maildir root mode %v, want 0700", fi.Mode().Perm())
	}
}

// CLI commands work with or without serve running on the same data dir.
func TestCLIBesideServe(t *testing.T) {
	data := dataDir(t)
	env := baseEnv()
	// Without serve: the command starts the cluster for its duration.
	code, out, errOut := mailhost(t, env, "", "migrate", "--data-dir", data)
	if code != 0 || !strings.Contains(out, "applied 0001_schema") {
		t.Fatalf("migrate = %d %q %q", code, out, errOut)
	}
	if ps := postgresFor(data); len(ps) != 0 {
		t.Fatalf("CLI left postgres running: %q", ps)
	}
	r := startServe(t, append(env, "MAILHOST_DATA_DIR="+data))
	// Flags after the arguments work as well as before.
	code, out, errOut = mailhost(t, env, "", "migrate", "--status", "--data-dir", data)
	if code != 0 || !strings.Contains(out, "0001") || hasPending(out) {
		t.Fatalf("migrate --status = %d %q %q", code, out, errOut)
	}
	if c, _ := r.health(); c != 200 {
		t.Fatal("the CLI command stopped the cluster serve uses")
	}
	if code := r.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if ps := postgresFor(data); len(ps) != 0 {
		t.Fatalf("postgres left running: %q", ps)
	}
}

// With DATABASE_URL, migrations wait for `migrate` or run at serve start.
func TestExternalDatabase(t *testing.T) {
	url := testdb.NewEmpty(t)
	data := dataDir(t)
	env := baseEnv("DATABASE_URL="+url, "MAILHOST_DATA_DIR="+data)
	code, out, _ := mailhost(t, env, "", "migrate", "--status")
	if code != 0 || !hasPending(out) {
		t.Fatalf("status on an empty database = %d %q", code, out)
	}
	r := startServe(t, env)
	if !strings.Contains(r.log.String(), "migration applied") {
		t.Errorf("serve did not apply migrations:\n%s", r.log)
	}
	if os.Geteuid() == 0 {
		assertRunsAsVmail(t, r, data)
	}
	if code := r.stop(t); code != 0 {
		t.Fatalf("exit %d\n%s", code, r.log)
	}
	code, out, _ = mailhost(t, env, "", "migrate", "--status")
	if code != 0 || hasPending(out) {
		t.Fatalf("status after serve = %d %q", code, out)
	}
	code, out, _ = mailhost(t, env, "", "migrate")
	if code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate = %d %q", code, out)
	}
}

// hasPending reports whether `migrate --status` lists a migration not
// applied yet: "pending" in its APPLIED column (a migration's name may
// contain the word, as 0005_pending_files does).
func hasPending(status string) bool {
	for _, line := range strings.Split(status, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[2] == "pending" {
			return true
		}
	}
	return false
}

// /healthz says 503 while the database is unreachable, and ok again after.
func TestHealthzReportsDatabaseDown(t *testing.T) {
	data := dataDir(t)
	r := startServe(t, baseEnv("MAILHOST_DATA_DIR="+data))
	stop := []string{pgCtl(t), "stop", "-m", "immediate", "-D", filepath.Join(data, "postgres")}
	if os.Geteuid() == 0 { // the cluster belongs to vmail
		stop = append([]string{"runuser", "-u", owner(t, data), "--"}, stop...)
	}
	if out, err := exec.Command(stop[0], stop[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl stop: %v %s", err, out)
	}
	if code, body := r.health(); code != 503 || body != `{"status":"unavailable","database":"unreachable"}` {
		t.Fatalf("healthz with the database down = %d %s", code, body)
	}
	if code := r.stop(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM with the database down\n%s", code, r.log)
	}
}

func pgCtl(t *testing.T) string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return p
	}
	if len(dirs) == 0 {
		testsupport.Missing(t, "pg_ctl", "postgresql")
	}
	return dirs[len(dirs)-1]
}

// owner is the name of the account that owns path.
func owner(t *testing.T, path string) string {
	fi, err := os.Stat(filepath.Join(path, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	u, err := user.LookupId(strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Uid)))
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}
