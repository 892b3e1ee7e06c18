// Command pgtest runs a command (the test suite) with $DATABASE_URL set:
// as given when already set, otherwise pointing at a throwaway PostgreSQL
// cluster started for the run (fsync off) and removed afterwards.
//
//	go run ./cmd/pgtest go test ./...
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"mailhost/testdb"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: pgtest COMMAND [ARG...]")
		return 2
	}
	if os.Getenv("DATABASE_URL") == "" {
		c, cleanup, err := testdb.StartCluster(context.Background())
		if err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			return 1
		}
		defer cleanup()
		os.Setenv("DATABASE_URL", c.URL("postgres"))
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	signal.Ignore(syscall.SIGINT) // the child gets ^C too; we stay to clean up
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode()
	case err != nil:
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	return 0
}
