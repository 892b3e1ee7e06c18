package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Key describes one configuration key.
type Key struct {
	Name   string // dotted TOML key: listen.smtp
	Env    string // MAILHOST_LISTEN_SMTP
	Alias  string // another accepted variable, e.g. DATABASE_URL
	Help   string
	Secret bool
	value  reflect.Value
}

// Keys lists every key of c in declaration order; their values are live
// views into c.
func (c *Config) Keys() []Key {
	var out []Key
	walk(reflect.ValueOf(c).Elem(), "", &out)
	return out
}

func walk(v reflect.Value, prefix string, out *[]Key) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := f.Tag.Get("toml")
		if name == "" || !f.IsExported() {
			continue
		}
		full := prefix + name
		if f.Type.Kind() == reflect.Struct {
			walk(v.Field(i), full+".", out)
			continue
		}
		*out = append(*out, Key{
			Name:   full,
			Env:    "MAILHOST_" + strings.ToUpper(strings.ReplaceAll(full, ".", "_")),
			Alias:  f.Tag.Get("env"),
			Help:   f.Tag.Get("help"),
			Secret: f.Tag.Get("secret") == "true",
			value:  v.Field(i),
		})
	}
}

// Set assigns a key from its text form, as found in an environment
// variable or on the command line. Lists are comma or space separated.
func (c *Config) Set(name, text string) error {
	for _, k := range c.Keys() {
		if k.Name == name {
			return k.set(text)
		}
	}
	return &Error{Key: name, Msg: "unknown key"}
}

func (k Key) set(text string) error {
	v := k.value
	bad := func(want string) error {
		return &Error{Key: k.Name, Msg: fmt.Sprintf("must be %s, got %q", want, text)}
	}
	s := strings.TrimSpace(text)
	switch v.Kind() {
	case reflect.String:
		v.SetString(text)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return bad("true or false")
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return bad("a whole number")
		}
		v.SetInt(n)
	case reflect.Uint8, reflect.Uint32:
		n, err := strconv.ParseUint(s, 10, v.Type().Bits())
		if err != nil {
			return bad(fmt.Sprintf("a whole number from 0 to %d", uint64(1)<<v.Type().Bits()-1))
		}
		v.SetUint(n)
	case reflect.Slice:
		v.Set(reflect.ValueOf(splitList(text)))
	default:
		return &Error{Key: k.Name, Msg: "cannot be set from text"}
	}
	return nil
}

func splitList(s string) []string {
	out := []string{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		out = append(out, f)
	}
	return out
}

// Value is the key's current value in TOML syntax, with secrets redacted.
func (k Key) Value() string {
	if k.Secret && !k.value.IsZero() {
		return strconv.Quote(redact(k.value.String()))
	}
	switch k.value.Kind() {
	case reflect.String:
		return strconv.Quote(k.value.String())
	case reflect.Slice:
		parts := make([]string, k.value.Len())
		for i := range parts {
			parts[i] = strconv.Quote(k.value.Index(i).String())
		}
		return "[" + strings.Join(parts, ", ") + "]"
	default:
		return fmt.Sprint(k.value.Interface())
	}
}

// Dump prints every key as "key = value" lines (valid TOML with dotted
// keys), sorted by section, secrets redacted: `mailhost config`.
func (c *Config) Dump() string {
	keys := c.Keys()
	sort.SliceStable(keys, func(i, j int) bool {
		return strings.Count(keys[i].Name, ".") < strings.Count(keys[j].Name, ".")
	})
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k.Name, k.Value())
	}
	return b.String()
}

// redact hides a secret; in a URL only the password part is hidden, so the
// operator still sees which server is used.
func redact(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		at := strings.LastIndex(rest, "@")
		colon := strings.Index(rest, ":")
		if at >= 0 && colon >= 0 && colon < at {
			return s[:i+3] + rest[:colon] + ":REDACTED" + rest[at:]
		}
		if q := strings.Index(s, "password="); q >= 0 {
			end := strings.IndexAny(s[q:], "& ")
			if end < 0 {
				return s[:q] + "password=REDACTED"
			}
			return s[:q] + "password=REDACTED" + s[q+end:]
		}
		return s
	}
	return "REDACTED"
}

// Changed lists the keys whose values differ between old and new, in
// declaration order.
func Changed(old, new *Config) []string {
	var out []string
	nk := new.Keys()
	for i, k := range old.Keys() {
		if !reflect.DeepEqual(k.value.Interface(), nk[i].value.Interface()) {
			out = append(out, k.Name)
		}
	}
	return out
}
