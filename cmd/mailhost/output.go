package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"mailhost/admin"
)

// provisioning is what every provisioning command (domain, mailbox, alias,
// admin, token) shares: its flags, the service and the output format.
type provisioning struct {
	fs    *flag.FlagSet
	g     *globals
	json  *bool
	verbs map[string][]string // verb -> the command's own flags it accepts
	sio   stdio
	svc   *admin.Service
	db    *database
}

func newProvisioning(name string, sio stdio, verbs map[string][]string) *provisioning {
	fs, g := newFlagSet(name, sio)
	p := &provisioning{fs: fs, g: g, verbs: verbs, sio: sio}
	p.json = fs.Bool("json", false, "print JSON instead of a table")
	return p
}

// parse reads the flags and returns the verb and its arguments, refusing
// flags the verb does not take.
func (p *provisioning) parse(args []string, usage string) (string, []string, error) {
	// -h prints the help of the verb given (help.go), else the verbs; a
	// bad flag gets only its error (the flag package calls Usage for both).
	p.fs.Usage = func() {
		if !asksHelp(args) {
			return
		}
		for _, a := range args {
			if _, ok := p.verbs[a]; ok {
				p.verbHelp(p.sio.out, a)
				return
			}
		}
		p.commandHelp(p.sio.out, usage)
	}
	pos, err := parse(p.fs, p.g, args)
	if err != nil {
		return "", nil, err
	}
	if len(pos) == 0 {
		return "", nil, fmt.Errorf("%w: %s", errUsage, usage)
	}
	allowed, ok := p.verbs[pos[0]]
	if !ok {
		return "", nil, fmt.Errorf("%w: unknown subcommand %q; %s", errUsage, pos[0], usage)
	}
	var bad []string
	p.fs.Visit(func(f *flag.Flag) {
		if f.Name == "json" || f.Name == "config" || isGlobal(f.Name) {
			return
		}
		for _, a := range allowed {
			if a == f.Name {
				return
			}
		}
		bad = append(bad, "--"+f.Name)
	})
	if bad != nil {
		return "", nil, fmt.Errorf("%w: %s %s does not take %s", errUsage, strings.TrimPrefix(p.fs.Name(), "mailhost "), pos[0], strings.Join(bad, ", "))
	}
	return pos[0], pos[1:], nil
}

// asksHelp reports whether args hold -h, -help or --help before any "--".
func asksHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help", "--h":
			return true
		}
	}
	return false
}

func isGlobal(name string) bool {
	for _, f := range globalFlags() {
		if f.flag == name {
			return true
		}
	}
	return false
}

// open loads the configuration and opens the database (applying pending
// migrations, so a fresh installation can be provisioned before serve).
func (p *provisioning) open(ctx context.Context) error {
	cfg, err := p.g.load()
	if err != nil {
		return err
	}
	log := p.g.commandLogger(cfg, p.sio.err)
	db, err := openDatabase(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	p.db = db
	p.svc = newAdminService(cfg, db.Store, nil, log)
	return nil
}

func (p *provisioning) close(ctx context.Context) {
	if p.db != nil {
		p.db.close(ctx)
	}
}

// set reports whether a flag was given.
func (p *provisioning) set(name string) bool {
	found := false
	p.fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// printJSON writes v as indented JSON.
func (p *provisioning) printJSON(v any) error {
	enc := json.NewEncoder(p.sio.out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// table prints rows under a header, aligned.
func (p *provisioning) table(header []string, rows [][]string) error {
	w := tabwriter.NewWriter(p.sio.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	return w.Flush()
}

// record prints one object as "key: value" lines, or JSON.
func (p *provisioning) record(v any, fields [][2]string) error {
	if *p.json {
		return p.printJSON(v)
	}
	w := tabwriter.NewWriter(p.sio.out, 0, 4, 1, ' ', 0)
	for _, f := range fields {
		fmt.Fprintf(w, "%s:\t%s\n", f[0], f[1])
	}
	return w.Flush()
}

// done reports a change made by the command: a sentence in text mode
// ("deleted mailbox ann@example.com"), {"done": ...} with --json. Scripts
// read the exit status; people read this line.
func (p *provisioning) done(err error, format string, args ...any) error {
	if err != nil {
		return problemText(err)
	}
	what := fmt.Sprintf(format, args...)
	if *p.json {
		return p.printJSON(map[string]string{"done": what})
	}
	_, err = fmt.Fprintln(p.sio.out, what)
	return err
}

// all fetches every page of a list (or up to limit items when limit > 0).
func all[T any](limit int, fetch func(admin.ListParams) (admin.List[T], error), q string) ([]T, error) {
	var out []T
	p := admin.ListParams{Q: q, Limit: admin.MaxLimit}
	for {
		if limit > 0 && limit-len(out) < p.Limit {
			p.Limit = limit - len(out)
		}
		page, err := fetch(p)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if page.NextCursor == "" || (limit > 0 && len(out) >= limit) {
			return out, nil
		}
		p.Cursor = page.NextCursor
	}
}

// readSecret reads a password: the first line of stdin with
// --password-stdin, else from a prompt on a terminal (twice, to confirm).
// ok is false when neither is possible.
func readSecret(sio stdio, fromStdin bool, prompt string) (pw string, ok bool, err error) {
	if fromStdin {
		pw, err := readPassword(sio.in)
		return pw, err == nil, err
	}
	f, isFile := sio.in.(*os.File)
	if !isFile || !term.IsTerminal(int(f.Fd())) {
		return "", false, nil
	}
	fmt.Fprint(sio.err, prompt+": ")
	a, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(sio.err)
	if err != nil {
		return "", false, err
	}
	fmt.Fprint(sio.err, "again: ")
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(sio.err)
	if err != nil {
		return "", false, err
	}
	if string(a) != string(b) {
		return "", false, errors.New("the passwords do not match")
	}
	if len(a) == 0 {
		return "", false, errors.New("empty password")
	}
	return string(a), true, nil
}

// sizeFlag is a byte count flag accepting K, M, G, T suffixes (powers of 1024).
type sizeFlag struct {
	v   int64
	set bool
}

func (s *sizeFlag) String() string { return strconv.FormatInt(s.v, 10) }

func (s *sizeFlag) Set(text string) error {
	n, err := parseSize(text)
	if err != nil {
		return err
	}
	s.v, s.set = n, true
	return nil
}

func parseSize(text string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(text))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if t != "" {
		if i := strings.IndexByte("KMGT", t[len(t)-1]); i >= 0 {
			mult = 1 << (10 * (i + 1))
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size such as 1048576, 512M or 2G", text)
	}
	return n * mult, nil
}

// boolFlag is a tri-state boolean flag (--active=false), unset by default.
type boolFlag struct {
	v   bool
	set bool
}

func (b *boolFlag) String() string   { return strconv.FormatBool(b.v) }
func (b *boolFlag) IsBoolFlag() bool { return true }
func (b *boolFlag) Set(text string) error {
	v, err := strconv.ParseBool(text)
	if err != nil {
		return err
	}
	b.v, b.set = v, true
	return nil
}

// intFlag is an integer flag that knows whether it was given.
type intFlag struct {
	v   int64
	set bool
}

func (i *intFlag) String() string { return strconv.FormatInt(i.v, 10) }
func (i *intFlag) Set(text string) error {
	v, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return err
	}
	i.v, i.set = v, true
	return nil
}

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// human formats a byte count for tables; 0 is "unlimited" where it means that.
func human(n int64, zero string) string {
	if n == 0 && zero != "" {
		return zero
	}
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", f), "0"), ".") + " " + units[i]
}

func limitText(used int64, max int32) string {
	if max == 0 {
		return fmt.Sprintf("%d/unlimited", used)
	}
	return fmt.Sprintf("%d/%d", used, max)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// problemText turns a service error into the one-line CLI message.
func problemText(err error) error {
	var ve *admin.ValidationError
	if errors.As(err, &ve) {
		parts := make([]string, len(ve.Fields))
		for i, f := range ve.Fields {
			parts[i] = f.Field + ": " + f.Detail
		}
		sort.Strings(parts)
		return errors.New(strings.Join(parts, "; "))
	}
	return err
}

var _ io.Writer = (*tabwriter.Writer)(nil)
