// Package pgcluster runs a private PostgreSQL cluster under mailhost's data
// directory: the embedded default when no database URL is configured. It
// uses the machine's PostgreSQL server binaries, listens only on a Unix
// socket, and is shared by every mailhost process given the same directory:
// the first one starts it, the last one to leave stops it.
package pgcluster

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ErrNoBinaries says the PostgreSQL server programs are not installed.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH or under /usr/lib/postgresql/*/bin; install them with: apt-get install postgresql")

// FindBinaries returns the directory holding initdb, pg_ctl and postgres:
// from PATH first, else the newest /usr/lib/postgresql/<version>/bin.
func FindBinaries() (string, error) {
	return findBinaries("/usr/lib/postgresql/*/bin")
}

func findBinaries(pattern string) (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		dir := filepath.Dir(resolve(p))
		if hasServer(dir) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob(pattern)
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if hasServer(d) {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

func resolve(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

func hasServer(dir string) bool {
	for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
		if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
			return false
		}
	}
	return true
}

// version reads the major version out of /usr/lib/postgresql/<v>/bin.
func version(binDir string) float64 {
	v, _ := strconv.ParseFloat(strings.TrimSpace(filepath.Base(filepath.Dir(binDir))), 64)
	return v
}
