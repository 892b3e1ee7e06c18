package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"

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
	var errs []error
	if path != "" {
		err := c.loadFile(path)
		var ce *Error
		if err != nil && !errors.As(err, &ce) {
			return nil, err // unreadable or not TOML at all
		}
		errs = append(errs, err)
	}
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
	// With bad keys the configuration is returned too, so that Validate
	// can report the rest: the caller stops on the joined errors.
	return &c, errors.Join(errs...)
}

// loadFile decodes the TOML file at path into c key by key, so that one
// bad value does not hide the others: every unknown key and every value of
// the wrong type is reported, each by its key. Only a file that cannot be
// read or parsed stops at once.
func (c *Config) loadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	var top map[string]toml.Primitive
	md, err := toml.Decode(string(data), &top)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return fmt.Errorf("config: %s: line %d: %s", path, pe.Position.Line, pe.Message)
		}
		return fmt.Errorf("config: %s: %w", path, err)
	}
	return errors.Join(c.decodeTable(&md, top, reflect.ValueOf(c).Elem(), "", path)...)
}

// decodeTable decodes the keys of one TOML table into the struct v, whose
// fields are named by their toml tags; a field of struct type is a table
// of its own.
func (c *Config) decodeTable(md *toml.MetaData, table map[string]toml.Primitive, v reflect.Value, prefix, path string) []error {
	fields := map[string]reflect.Value{}
	for i := 0; i < v.NumField(); i++ {
		if name := v.Type().Field(i).Tag.Get("toml"); name != "" && v.Type().Field(i).IsExported() {
			fields[name] = v.Field(i)
		}
	}
	names := make([]string, 0, len(table))
	for name := range table {
		names = append(names, name)
	}
	sort.Strings(names)
	var errs []error
	for _, name := range names {
		full := prefix + name
		f, ok := fields[name]
		switch {
		case !ok:
			errs = append(errs, &Error{Key: full, Source: path, Msg: "unknown key"})
		case f.Kind() == reflect.Struct:
			var sub map[string]toml.Primitive
			if err := md.PrimitiveDecode(table[name], &sub); err != nil {
				errs = append(errs, &Error{Key: full, Source: path, Msg: "must be a table ([" + full + "])"})
				continue
			}
			errs = append(errs, c.decodeTable(md, sub, f, full+".", path)...)
		default:
			// Decode into a copy, so a bad value leaves the default.
			val := reflect.New(f.Type())
			if err := md.PrimitiveDecode(table[name], val.Interface()); err != nil {
				errs = append(errs, &Error{Key: full, Source: path, Msg: typeMessage(f.Type(), err)})
				continue
			}
			f.Set(val.Elem())
			c.sources[full] = path
		}
	}
	return errs
}

// typeMessage says what a key takes, for a value of the wrong type.
func typeMessage(t reflect.Type, err error) string {
	switch t.Kind() {
	case reflect.String:
		return "must be a string (in quotes)"
	case reflect.Bool:
		return "must be true or false"
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint8, reflect.Uint32:
		return "must be a whole number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return "must be a list of strings, such as [\"a\", \"b\"]"
		}
	}
	return "wrong type: " + err.Error()
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
