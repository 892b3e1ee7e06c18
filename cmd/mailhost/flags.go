package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"mailhost/config"
)

// errHelp is returned after -h printed a command's flags.
var errHelp = errors.New("help shown")

// globals are the flags every command takes; each maps to a config key.
type globals struct {
	config  string
	keys    map[string]*string // config key -> flag value
	set     map[string]string  // config key -> flag name, for the flags given
	flagKey map[string]string  // flag name -> config key
}

// globalFlags are the flags every command takes, each setting a config key.
func globalFlags() []struct{ flag, key, help string } {
	return []struct{ flag, key, help string }{
		{"data-dir", "data_dir", "data directory (also $MAILHOST_DATA_DIR; default ./data)"},
		{"hostname", "hostname", "the server's host name (myhostname)"},
		{"database-url", "database.url", "PostgreSQL URL (also $DATABASE_URL); empty runs the embedded cluster"},
		{"log-level", "log.level", "debug, info, warn or error"},
		{"log-format", "log.format", "text or json"},
	}
}

func newFlagSet(name string, sio stdio) (*flag.FlagSet, *globals) {
	fs := flag.NewFlagSet("mailhost "+name, flag.ContinueOnError)
	fs.SetOutput(sio.err)
	g := &globals{keys: map[string]*string{}, set: map[string]string{}, flagKey: map[string]string{}}
	fs.StringVar(&g.config, "config", os.Getenv("MAILHOST_CONFIG"), "TOML configuration file (also $MAILHOST_CONFIG)")
	for _, f := range globalFlags() {
		g.keys[f.key] = fs.String(f.flag, "", f.help)
		g.flagKey[f.flag] = f.key
	}
	return fs, g
}

// parse reads flags before, between and after the positional arguments
// ("mailhost domain add example.com --json" and "... --json add ..."
// both work); "--" ends the flags.
func parse(fs *flag.FlagSet, g *globals, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelp
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	fs.Visit(func(fl *flag.Flag) {
		if key, ok := g.flagKey[fl.Name]; ok {
			g.set[key] = "--" + fl.Name
		}
	})
	return pos, nil
}

// load builds the configuration: defaults, file, environment, flags; then
// the mode defaults and validation.
func (g *globals) load() (*config.Config, error) {
	cfg, err := g.loadUnchecked()
	if cfg == nil {
		return nil, err
	}
	// Every problem at once: bad keys of the file, environment and flags,
	// then the checks of the values.
	if err := errors.Join(err, cfg.Validate()); err != nil {
		return nil, err
	}
	return cfg, nil
}

// loadUnchecked builds the configuration without Validate. With keys that
// could not be set it returns the configuration and their errors; only a
// file that cannot be read or parsed returns none.
func (g *globals) loadUnchecked() (*config.Config, error) {
	cfg, err := config.Load(g.config, os.LookupEnv)
	if cfg == nil {
		return nil, err
	}
	errs := []error{err}
	for key, flagName := range g.set {
		errs = append(errs, cfg.SetFrom(key, *g.keys[key], flagName))
	}
	cfg.Finish()
	return cfg, errors.Join(errs...)
}

// commandLogger is the logger of a command other than serve: warnings and
// errors only, so that a command's output is its answer (and cron mails
// nothing after a successful sendmail), unless --log-level asks for more.
func (g *globals) commandLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	if _, given := g.set["log.level"]; given {
		return newLogger(cfg, w)
	}
	quiet := *cfg
	var level slog.Level
	if level.UnmarshalText([]byte(cfg.Log.Level)) != nil || level < slog.LevelWarn {
		quiet.Log.Level = "warn"
	}
	return newLogger(&quiet, w)
}

// newLogger makes the process logger from the log.* keys.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	return newLoggerAt(cfg, w, logLevel(cfg))
}

// logLevel is the level log.level names (validated by config: info when
// it does not parse).
func logLevel(cfg *config.Config) slog.Level {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	return level
}

// newLoggerAt makes a logger in log.format whose level is level, which
// serve keeps as a *slog.LevelVar so that SIGHUP can change it.
func newLoggerAt(cfg *config.Config, w io.Writer, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
