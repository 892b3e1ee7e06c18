package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// cmdConfig prints the effective configuration like postconf, or with
// "check" validates it.
func cmdConfig(_ context.Context, args []string, sio stdio) error {
	fs, g := newFlagSet("config", sio)
	pos, err := parse(fs, g, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		cfg, err := g.loadUnchecked()
		if cfg == nil {
			return err
		}
		fmt.Fprint(sio.out, cfg.Dump())
		return errors.Join(err, cfg.Validate())
	case len(pos) == 1 && pos[0] == "check":
		if _, err := g.load(); err != nil {
			// One problem a line, each naming its key.
			problems := strings.Split(strings.TrimSpace(err.Error()), "\n")
			for _, p := range problems {
				fmt.Fprintln(sio.err, p)
			}
			return &exitError{status: 1, err: fmt.Errorf("%d problems in the configuration", len(problems))}
		}
		fmt.Fprintln(sio.out, "configuration ok")
		return nil
	}
	return fmt.Errorf("%w: mailhost config [check] [--config FILE]", errUsage)
}
