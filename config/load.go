package config

import (
	"errors"
	"fmt"
	"os"

	"github.com/BurntSushi/toml"
)

// Error is an invalid or unknown configuration value. It names the key,
// where the value came from, and what is allowed.
type Error struct {
	Key    string
	Source string // "config.toml", "$MAILHOST_X", "--flag"; may be empty
	Msg    string
}

func (e *Error) Error() string {
	if e.Source != "" {
		return fmt.Sprintf("config: %s (from %s): %s", e.Key, e.Source, e.Msg)
	}
	return fmt.Sprintf("config: %s: %s", e.Key, e.Msg)
}

// Load builds the configuration from the defaults, the TOML file at path
// (skipped when path is empty), and the environment (getenv is os.LookupEnv
// in production). Flags are applied afterwards with SetFrom; then Finish
// and Validate.
func Load(path string, getenv func(string) (string, bool)) (*Config, error) {
	c := Default()
	c.sources = map[string]string{}
	if path != "" {
		if err := c.loadFile(path); err != nil {
			return nil, err
		}
	}
	var errs []error
	for _, k := range c.Keys() {
		for _, name := range []string{k.Alias, k.Env} { // MAILHOST_* wins over the alias
			if name == "" {
				continue
			}
			if v, ok := getenv(name); ok {
				errs = append(errs, c.SetFrom(k.Name, v, "$"+name))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) loadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	md, err := toml.Decode(string(data), c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return fmt.Errorf("config: %s: line %d: %s", path, pe.Position.Line, pe.Message)
		}
		return fmt.Errorf("config: %s: %w", path, err)
	}
	var errs []error
	for _, k := range md.Undecoded() {
		errs = append(errs, &Error{Key: k.String(), Source: path, Msg: "unknown key"})
	}
	for _, k := range md.Keys() {
		c.sources[k.String()] = path
	}
	return errors.Join(errs...)
}

// SetFrom is Set, remembering where the value came from for error messages.
func (c *Config) SetFrom(name, text, source string) error {
	if err := c.Set(name, text); err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			ce.Source = source
		}
		return err
	}
	if c.sources == nil {
		c.sources = map[string]string{}
	}
	c.sources[name] = source
	return nil
}

// source says where a key's value came from, for error messages.
func (c *Config) source(key string) string {
	return c.sources[key]
}
