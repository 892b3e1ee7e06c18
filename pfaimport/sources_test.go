package pfaimport

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailhost/testdb"
	"mailhost/testsupport"
)

// loadSQL runs the statements of testdata files (split at ";\n") on db.
func loadSQL(t *testing.T, db *sql.DB, files ...string) {
	t.Helper()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, stmt := range strings.Split(string(b), ";\n") {
			if strings.TrimSpace(stripComments(stmt)) == "" {
				continue
			}
			if _, err := db.Exec(stmt); err != nil {
				t.Fatalf("%s: %v\n%s", f, err, stmt)
			}
		}
	}
}

func stripComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// postgresSource is a Postfix Admin database on the tests' PostgreSQL
// cluster, loaded with the schema and the fixtures; it returns its DSN.
func postgresSource(t *testing.T) string {
	t.Helper()
	dsn := testdb.NewEmpty(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	loadSQL(t, db, "pfa-postgres.sql", "pfa-fixtures.sql")
	return dsn
}

// mariadbSource starts a private MariaDB server (Debian's mariadb-server)
// on a Unix socket in a temporary directory, loads the schema and the
// fixtures, and returns the DSN; the server is stopped at cleanup.
func mariadbSource(t *testing.T) string {
	t.Helper()
	mariadbd := testsupport.RequireTool(t, "mariadbd", "mariadb-server")
	installDB := testsupport.RequireTool(t, "mariadb-install-db", "mariadb-server")
	dir, err := os.MkdirTemp("", "pfa-mariadb-") // short: a socket path has 108 bytes at most
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data, sock := filepath.Join(dir, "data"), filepath.Join(dir, "sock")
	user := []string{}
	if os.Geteuid() == 0 {
		user = []string{"--user=root"}
	}
	install := exec.Command(installDB, append([]string{"--no-defaults", "--datadir=" + data, "--auth-root-authentication-method=normal",
		"--skip-test-db"}, user...)...)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	srv := exec.Command(mariadbd, append([]string{"--no-defaults", "--datadir=" + data, "--socket=" + sock,
		"--skip-networking", "--pid-file=" + filepath.Join(dir, "pid"), "--log-error=" + filepath.Join(dir, "err.log"),
		"--innodb-buffer-pool-size=16M", "--innodb-log-file-size=8M"}, user...)...)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { srv.Wait(); close(done) }()
	t.Cleanup(func() {
		srv.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			srv.Process.Kill()
			<-done
		}
	})
	root := fmt.Sprintf("mysql:root@unix(%s)/?multiStatements=true", sock)
	var db *sql.DB
	testsupport.Eventually(t, 60*time.Second, "mariadbd accepting connections", func() bool {
		s, err := OpenSource(context.Background(), root, "")
		if err != nil {
			return false
		}
		db = s.db
		return true
	})
	if _, err := db.Exec("CREATE DATABASE postfixadmin CHARACTER SET utf8mb4"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	dsn := fmt.Sprintf("mysql:root@unix(%s)/postfixadmin", sock)
	s, err := OpenSource(context.Background(), dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	loadSQL(t, s.db, "pfa-mysql.sql", "pfa-fixtures.sql")
	return dsn
}
