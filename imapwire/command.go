package imapwire

import (
	"strings"
	"time"
)

// Command is one client command. Args holds the command's arguments, of
// a type per command (see the parse table); APPEND's messages are read
// after it with NextAppend.
type Command struct {
	Tag  string
	Name string // upper case, without UID
	UID  bool
	Args any
}

// Argument types of the commands that have more than one argument.
type (
	// Login is LOGIN's arguments.
	Login struct{ User, Password string }
	// Authenticate is AUTHENTICATE's mechanism and initial response.
	Authenticate struct {
		Mech       string
		Initial    string
		HasInitial bool
	}
	// Create is CREATE's mailbox and its USE (RFC 6154).
	Create struct {
		Mailbox    string
		SpecialUse []string
	}
	// Rename is RENAME's arguments.
	Rename struct{ From, To string }
	// Status is STATUS's arguments; Items in upper case.
	Status struct {
		Mailbox string
		Items   []string
	}
	// Append is APPEND's mailbox; the messages follow (NextAppend).
	Append struct{ Mailbox string }
	// Fetch is FETCH's arguments.
	Fetch struct {
		Set   NumSet
		Items FetchItems
	}
	// Copy is COPY's and MOVE's arguments.
	Copy struct {
		Set     NumSet
		Mailbox string
	}
	// ID is ID's parameters, name and value pairs (nil for NIL); a NIL
	// value is "".
	ID struct{ Params []string }
	// SetQuota is SETQUOTA's arguments (refused, but read).
	SetQuota struct {
		Root      string
		Resources []string
	}
)

type parser func(d *Decoder, c *Command) error

var (
	noArgs = func(*Decoder, *Command) error { return nil }
	table  map[string]parser
)

func init() {
	mailboxArg := func(d *Decoder, c *Command) error {
		s, err := d.SPAString()
		c.Args = s
		return err
	}
	table = map[string]parser{
		"CAPABILITY": noArgs, "NOOP": noArgs, "LOGOUT": noArgs, "STARTTLS": noArgs,
		"CHECK": noArgs, "CLOSE": noArgs, "UNSELECT": noArgs, "IDLE": noArgs, "NAMESPACE": noArgs,
		"EXPUNGE": parseExpunge,
		"LOGIN":   parseLogin, "AUTHENTICATE": parseAuthenticate, "ENABLE": parseEnable,
		"SELECT": parseSelect, "EXAMINE": parseSelect,
		"CREATE": parseCreate, "DELETE": mailboxArg, "SUBSCRIBE": mailboxArg, "UNSUBSCRIBE": mailboxArg,
		"RENAME": parseRename, "LIST": parseList, "LSUB": parseList, "STATUS": parseStatus,
		"APPEND": parseAppend, "FETCH": parseFetch, "STORE": parseStore,
		"COPY": parseCopy, "MOVE": parseCopy, "SEARCH": parseSearch, "ID": parseID,
		"SORT": parseSort, "THREAD": parseThread, "CANCELUPDATE": parseCancelUpdate,
		"GETQUOTA": mailboxArg, "GETQUOTAROOT": mailboxArg, "SETQUOTA": parseSetQuota,
		"COMPRESS": func(d *Decoder, c *Command) error {
			if err := d.SP(); err != nil {
				return err
			}
			s, err := d.upperAtom()
			c.Args = s
			return err
		},
	}
}

// ReadCommand reads the next command, its arguments and its line end. On
// error, Command holds what could be read (the tag, for the answer);
// the caller then calls DiscardLine unless the error is from the
// connection or a *LiteralError of a non-synchronizing literal.
func (d *Decoder) ReadCommand() (*Command, error) {
	d.n, d.atEOL = 0, false
	c := &Command{}
	first, err := d.peek()
	if err != nil {
		return c, err
	}
	if first == '\r' || first == '\n' {
		return c, syntaxf("Empty command line")
	}
	tag, err := d.token(func(b byte) bool { return isAStringChar(b) && b != '+' }, "a tag")
	if err != nil {
		return c, err
	}
	c.Tag = string(tag)
	if err := d.SP(); err != nil {
		return c, err
	}
	if c.Name, err = d.upperAtom(); err != nil {
		return c, err
	}
	if c.Name == "UID" {
		c.UID = true
		if err := d.SP(); err != nil {
			return c, err
		}
		if c.Name, err = d.upperAtom(); err != nil {
			return c, err
		}
		switch c.Name {
		case "FETCH", "STORE", "COPY", "MOVE", "SEARCH", "EXPUNGE", "SORT", "THREAD":
		default:
			return c, ErrUnknownCommand
		}
	}
	p, ok := table[c.Name]
	if !ok {
		return c, ErrUnknownCommand
	}
	if c.Name == "EXPUNGE" && !c.UID {
		p = noArgs
	}
	if err := p(d, c); err != nil {
		return c, err
	}
	if c.Name == "APPEND" {
		return c, nil // the messages follow
	}
	return c, d.CRLF()
}

func parseExpunge(d *Decoder, c *Command) error {
	if err := d.SP(); err != nil {
		return err
	}
	s, err := d.NumSet()
	c.Args = s
	return err
}

func parseLogin(d *Decoder, c *Command) error {
	var a Login
	var err error
	if a.User, err = d.SPAString(); err != nil {
		return err
	}
	a.Password, err = d.SPAString()
	c.Args = a
	return err
}

func parseAuthenticate(d *Decoder, c *Command) error {
	var a Authenticate
	var err error
	if err = d.SP(); err != nil {
		return err
	}
	if a.Mech, err = d.upperAtom(); err != nil {
		return err
	}
	if b, err := d.peek(); err == nil && b == ' ' {
		d.readByte()
		t, err := d.token(func(b byte) bool { return b > ' ' && b < 0x7f }, "an initial response")
		if err != nil {
			return err
		}
		a.Initial, a.HasInitial = string(t), true
	}
	c.Args = a
	return nil
}

func parseEnable(d *Decoder, c *Command) error {
	var caps []string
	for {
		if err := d.SP(); err != nil {
			return err
		}
		a, err := d.upperAtom()
		if err != nil {
			return err
		}
		caps = append(caps, a)
		if d.AtEOL() {
			c.Args = caps
			return nil
		}
	}
}

func parseSelect(d *Decoder, c *Command) error {
	var a SelectArgs
	var err error
	if a.Mailbox, err = d.SPAString(); err != nil {
		return err
	}
	c.Args = &a
	return d.Params(func(p string) error {
		switch p {
		case "CONDSTORE":
			a.CondStore = true
			return nil
		case "QRESYNC":
			q := &QResync{}
			a.QResync = q
			if err := d.SP(); err != nil {
				return err
			}
			n := 0
			return d.List(func() error {
				var err error
				switch n++; n {
				case 1:
					q.UIDValidity, err = d.Number()
				case 2:
					q.ModSeq, err = d.Number64()
				case 3:
					if b, _ := d.peek(); b == '(' {
						n++
						return d.seqMatch(q)
					}
					q.KnownUIDs, err = d.NumSet()
				case 4:
					return d.seqMatch(q)
				default:
					return syntaxf("Too many QRESYNC parameters")
				}
				return err
			})
		}
		return syntaxf("Unknown SELECT parameter %s", p)
	})
}

func (d *Decoder) seqMatch(q *QResync) error {
	var m [2]NumSet
	if err := d.expect('('); err != nil {
		return err
	}
	var err error
	if m[0], err = d.NumSet(); err != nil {
		return err
	}
	if err = d.SP(); err != nil {
		return err
	}
	if m[1], err = d.NumSet(); err != nil {
		return err
	}
	q.SeqMatch = &m
	return d.expect(')')
}

func parseCreate(d *Decoder, c *Command) error {
	var a Create
	var err error
	if a.Mailbox, err = d.SPAString(); err != nil {
		return err
	}
	c.Args = a
	err = d.Params(func(p string) error {
		if p != "USE" {
			return syntaxf("Unknown CREATE parameter %s", p)
		}
		if err := d.SP(); err != nil {
			return err
		}
		return d.List(func() error {
			f, err := d.Flag()
			a.SpecialUse = append(a.SpecialUse, f)
			return err
		})
	})
	c.Args = a
	return err
}

func parseRename(d *Decoder, c *Command) error {
	var a Rename
	var err error
	if a.From, err = d.SPAString(); err != nil {
		return err
	}
	a.To, err = d.SPAString()
	c.Args = a
	return err
}

func parseList(d *Decoder, c *Command) error {
	a := &ListArgs{LSUB: c.Name == "LSUB"}
	c.Args = a
	if err := d.SP(); err != nil {
		return err
	}
	if b, err := d.peek(); err == nil && b == '(' && !a.LSUB {
		if err := d.List(func() error {
			o, err := d.upperAtom()
			a.Select = append(a.Select, o)
			return err
		}); err != nil {
			return err
		}
		if a.Select == nil {
			a.Select = []string{}
		}
		if err := d.SP(); err != nil {
			return err
		}
	}
	var err error
	if a.Ref, err = d.AString(); err != nil {
		return err
	}
	if err := d.SP(); err != nil {
		return err
	}
	if b, err := d.peek(); err == nil && b == '(' && !a.LSUB {
		if err := d.List(func() error {
			p, err := d.ListMailbox()
			a.Patterns = append(a.Patterns, p)
			return err
		}); err != nil {
			return err
		}
	} else {
		p, err := d.ListMailbox()
		if err != nil {
			return err
		}
		a.Patterns = []string{p}
	}
	if d.AtEOL() || a.LSUB {
		return nil
	}
	if err := d.SP(); err != nil {
		return err
	}
	kw, err := d.upperAtom()
	if err != nil || kw != "RETURN" {
		return syntaxf("Expected RETURN")
	}
	if err := d.SP(); err != nil {
		return err
	}
	a.Return = []string{}
	return d.List(func() error {
		o, err := d.upperAtom()
		if err != nil {
			return err
		}
		a.Return = append(a.Return, o)
		if o == "STATUS" {
			if err := d.SP(); err != nil {
				return err
			}
			return d.List(func() error {
				it, err := d.upperAtom()
				a.Status = append(a.Status, it)
				return err
			})
		}
		return nil
	})
}

func parseStatus(d *Decoder, c *Command) error {
	var a Status
	var err error
	if a.Mailbox, err = d.SPAString(); err != nil {
		return err
	}
	if err = d.SP(); err != nil {
		return err
	}
	err = d.List(func() error {
		it, err := d.upperAtom()
		a.Items = append(a.Items, it)
		return err
	})
	c.Args = a
	return err
}

func parseAppend(d *Decoder, c *Command) error {
	m, err := d.SPAString()
	c.Args = Append{Mailbox: m}
	return err
}

// NextAppend reads the next message header of an APPEND: flags, date and
// the literal's header; nil at the end of the command (its line end is
// read). The caller checks the size, then reads the data through
// LiteralBody(m.Size, nonSync).
func (d *Decoder) NextAppend(first bool) (m *AppendMessage, nonSync bool, err error) {
	if !first && d.AtEOL() {
		return nil, false, d.CRLF()
	}
	if err := d.SP(); err != nil {
		return nil, false, err
	}
	m = &AppendMessage{}
	b, err := d.peek()
	if err != nil {
		return nil, false, err
	}
	if b == '(' {
		if m.Flags, err = d.FlagList(); err != nil {
			return nil, false, err
		}
		if err := d.SP(); err != nil {
			return nil, false, err
		}
		if b, err = d.peek(); err != nil {
			return nil, false, err
		}
	}
	if b == '"' {
		s, err := d.quoted()
		if err != nil {
			return nil, false, err
		}
		if m.Date, err = ParseDateTime(s); err != nil {
			return nil, false, err
		}
		if err := d.SP(); err != nil {
			return nil, false, err
		}
	}
	if b, _ = d.peek(); b == 'U' || b == 'u' { // UTF8 (~{n}) of RFC 6855
		a, err := d.upperAtom()
		if err != nil || a != "UTF8" {
			return nil, false, syntaxf("Expected a literal")
		}
		if err := d.SP(); err != nil {
			return nil, false, err
		}
		if err := d.expect('('); err != nil {
			return nil, false, err
		}
	}
	m.Size, nonSync, m.Binary, err = d.LiteralHeader()
	return m, nonSync, err
}

// EndAppendUTF8 reads the ")" after a UTF8 (~{n}) message.
func (d *Decoder) EndAppendUTF8() error { return d.expect(')') }

// ParseDateTime parses an IMAP date-time ("02-Jan-2006 15:04:05 -0700").
func ParseDateTime(s string) (time.Time, error) {
	s = strings.TrimLeft(s, " ")
	t, err := time.Parse("_2-Jan-2006 15:04:05 -0700", s)
	if err != nil {
		t, err = time.Parse("2-Jan-2006 15:04:05 -0700", s)
	}
	if err != nil {
		return time.Time{}, syntaxf("Bad date-time")
	}
	return t, nil
}

func parseCopy(d *Decoder, c *Command) error {
	var a Copy
	var err error
	if err = d.SP(); err != nil {
		return err
	}
	if a.Set, err = d.NumSet(); err != nil {
		return err
	}
	a.Mailbox, err = d.SPAString()
	c.Args = a
	return err
}

func parseStore(d *Decoder, c *Command) error {
	a := &StoreArgs{}
	c.Args = a
	var err error
	if err = d.SP(); err != nil {
		return err
	}
	if a.Set, err = d.NumSet(); err != nil {
		return err
	}
	if err = d.SP(); err != nil {
		return err
	}
	if b, _ := d.peek(); b == '(' {
		if err := d.List(func() error {
			m, err := d.upperAtom()
			if err != nil {
				return err
			}
			if m != "UNCHANGEDSINCE" {
				return syntaxf("Unknown STORE modifier %s", m)
			}
			if err := d.SP(); err != nil {
				return err
			}
			a.UnchangedSince, err = d.Number64()
			a.HasUnchanged = true
			return err
		}); err != nil {
			return err
		}
		if err = d.SP(); err != nil {
			return err
		}
	}
	if b, _ := d.peek(); b == '+' || b == '-' {
		a.Op = b
		d.readByte()
	}
	item, err := d.upperAtom()
	if err != nil {
		return err
	}
	switch item {
	case "FLAGS":
	case "FLAGS.SILENT":
		a.Silent = true
	default:
		return syntaxf("Expected FLAGS")
	}
	if err = d.SP(); err != nil {
		return err
	}
	if b, _ := d.peek(); b == '(' {
		a.Flags, err = d.FlagList()
		return err
	}
	a.Flags = []string{}
	for {
		f, err := d.Flag()
		if err != nil {
			return err
		}
		a.Flags = append(a.Flags, f)
		if d.AtEOL() {
			return nil
		}
		if err := d.SP(); err != nil {
			return err
		}
	}
}

func parseID(d *Decoder, c *Command) error {
	a := ID{}
	c.Args = a
	if err := d.SP(); err != nil {
		return err
	}
	if b, _ := d.peek(); b != '(' {
		_, isNil, err := d.NString()
		if err != nil || !isNil {
			return syntaxf("Expected NIL or a list")
		}
		return nil
	}
	a.Params = []string{}
	err := d.List(func() error {
		k, err := d.String()
		if err != nil {
			return err
		}
		if err := d.SP(); err != nil {
			return err
		}
		v, _, err := d.NString()
		a.Params = append(a.Params, k, v)
		return err
	})
	c.Args = a
	return err
}

func parseSetQuota(d *Decoder, c *Command) error {
	var a SetQuota
	var err error
	if a.Root, err = d.SPAString(); err != nil {
		return err
	}
	if err = d.SP(); err != nil {
		return err
	}
	err = d.List(func() error {
		r, err := d.upperAtom()
		if err != nil {
			return err
		}
		if err := d.SP(); err != nil {
			return err
		}
		_, err = d.Number64()
		a.Resources = append(a.Resources, r)
		return err
	})
	c.Args = a
	return err
}
