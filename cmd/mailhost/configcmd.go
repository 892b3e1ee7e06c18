package main

import (
	"context"
	"fmt"
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
		if err != nil {
			return err
		}
		fmt.Fprint(sio.out, cfg.Dump())
		return cfg.Validate()
	case len(pos) == 1 && pos[0] == "check":
		if _, err := g.load(); err != nil {
			return err
		}
		fmt.Fprintln(sio.out, "configuration ok")
		return nil
	}
	return fmt.Errorf("%w: mailhost config [check] [--config FILE]", errUsage)
}
