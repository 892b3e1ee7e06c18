package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

// versionInfo is what `mailhost version` prints: the module version, the
// commit it was built from (with "+dirty" for uncommitted changes) and
// when, and the Go version, from the build information the Go tool
// embeds.
func versionInfo() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "mailhost (no build information)"
	}
	rev, when, dirty := "unknown", "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty {
		rev += "+dirty"
	}
	out := fmt.Sprintf("mailhost %s\ncommit %s", bi.Main.Version, rev)
	if when != "" {
		out += " (" + when + ")"
	}
	return out + "\n" + bi.GoVersion
}

func cmdVersion(_ context.Context, args []string, sio stdio) error {
	if len(args) != 0 {
		return fmt.Errorf("%w: mailhost version (takes no arguments)", errUsage)
	}
	fmt.Fprintln(sio.out, versionInfo())
	return nil
}
