package imapwire

import (
	"strconv"
	"strings"
	"time"
)

func parseFetch(d *Decoder, c *Command) error {
	a := &Fetch{}
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
	it := &a.Items
	if b, _ := d.peek(); b == '(' {
		if err := d.List(func() error { return d.fetchAtt(it) }); err != nil {
			return err
		}
	} else {
		name, err := d.fetchName()
		if err != nil {
			return err
		}
		switch name {
		case "ALL":
			it.Flags, it.InternalDate, it.RFC822Size, it.Envelope = true, true, true, true
		case "FAST":
			it.Flags, it.InternalDate, it.RFC822Size = true, true, true
		case "FULL":
			it.Flags, it.InternalDate, it.RFC822Size, it.Envelope, it.Body = true, true, true, true, true
		default:
			if err := d.fetchAttNamed(it, name); err != nil {
				return err
			}
		}
	}
	return d.Params(func(m string) error {
		switch m {
		case "CHANGEDSINCE":
			if err := d.SP(); err != nil {
				return err
			}
			var err error
			it.ChangedSince, err = d.Number64()
			if it.ChangedSince == 0 {
				it.ChangedSince = 1 << 63 // never 0: 0 means "not asked"; mod-sequence-value 0 matches all
			}
			return err
		case "VANISHED":
			it.Vanished = true
			return nil
		}
		return syntaxf("Unknown FETCH modifier %s", m)
	})
}

// fetchName reads a fetch item's name: up to '[', a space or a bracket.
func (d *Decoder) fetchName() (string, error) {
	t, err := d.token(func(b byte) bool { return isAtomChar(b) && b != '[' && b != '<' }, "a fetch item")
	if err != nil {
		return "", err
	}
	return strings.ToUpper(string(t)), nil
}

func (d *Decoder) fetchAtt(it *FetchItems) error {
	name, err := d.fetchName()
	if err != nil {
		return err
	}
	return d.fetchAttNamed(it, name)
}

func (d *Decoder) fetchAttNamed(it *FetchItems, name string) error {
	switch name {
	case "UID":
		it.UID = true
	case "FLAGS":
		it.Flags = true
	case "INTERNALDATE":
		it.InternalDate = true
	case "RFC822.SIZE":
		it.RFC822Size = true
	case "ENVELOPE":
		it.Envelope = true
	case "BODYSTRUCTURE":
		it.BodyStructure = true
	case "MODSEQ":
		it.ModSeq = true
	case "SAVEDATE":
		it.SaveDate = true
	case "EMAILID":
		it.EmailID = true
	case "THREADID":
		it.ThreadID = true
	case "PREVIEW":
		it.Preview = true
		if b, _ := d.r.Peek(2); len(b) == 2 && b[0] == ' ' && b[1] == '(' {
			d.readByte()
			return d.List(func() error {
				m, err := d.upperAtom()
				if err == nil && m != "LAZY" {
					err = syntaxf("Unknown PREVIEW modifier %s", m)
				}
				return err
			})
		}
	case "RFC822":
		it.Sections = append(it.Sections, Section{Alias: "RFC822"})
	case "RFC822.HEADER":
		it.Sections = append(it.Sections, Section{Alias: "RFC822.HEADER", Specifier: "HEADER", Peek: true})
	case "RFC822.TEXT":
		it.Sections = append(it.Sections, Section{Alias: "RFC822.TEXT", Specifier: "TEXT"})
	case "BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE":
		if b, _ := d.peek(); b != '[' {
			if name == "BODY" {
				it.Body = true
				return nil
			}
			return syntaxf("Expected a section")
		}
		sec := Section{Peek: strings.HasSuffix(name, ".PEEK"), Binary: strings.HasPrefix(name, "BINARY")}
		if err := d.section(&sec); err != nil {
			return err
		}
		if name == "BINARY.SIZE" {
			sec.Peek = true
			it.BinarySize = append(it.BinarySize, sec)
			return nil
		}
		if b, _ := d.peek(); b == '<' {
			d.readByte()
			off, err := d.Number()
			if err != nil {
				return err
			}
			if err := d.expect('.'); err != nil {
				return err
			}
			n, err := d.Number()
			if err != nil {
				return err
			}
			if n == 0 {
				return syntaxf("Partial size 0")
			}
			if err := d.expect('>'); err != nil {
				return err
			}
			sec.Partial = &Partial{Offset: int64(off), Size: int64(n)}
		}
		it.Sections = append(it.Sections, sec)
	default:
		return syntaxf("Unknown fetch item %s", name)
	}
	return nil
}

// section reads "[" section-spec "]".
func (d *Decoder) section(sec *Section) error {
	if err := d.expect('['); err != nil {
		return err
	}
	t, err := d.token(func(b byte) bool { return b != ']' && b != ' ' && b > ' ' && b < 0x7f && b != '(' }, "")
	if err != nil {
		if b, _ := d.peek(); b == ']' {
			d.readByte()
			return nil
		}
		return err
	}
	spec := strings.ToUpper(string(t))
	for spec != "" {
		numEnd := 0
		for numEnd < len(spec) && '0' <= spec[numEnd] && spec[numEnd] <= '9' {
			numEnd++
		}
		if numEnd == 0 {
			break
		}
		n, err := strconv.Atoi(spec[:numEnd])
		if err != nil || n == 0 || spec[0] == '0' {
			return syntaxf("Bad section part")
		}
		sec.Part = append(sec.Part, n)
		spec = spec[numEnd:]
		if spec == "" {
			break
		}
		if spec[0] != '.' || len(spec) == 1 {
			return syntaxf("Bad section")
		}
		spec = spec[1:]
	}
	if sec.Binary && spec != "" {
		return syntaxf("BINARY takes only part numbers")
	}
	switch spec {
	case "":
	case "HEADER", "TEXT":
	case "MIME":
		if len(sec.Part) == 0 {
			return syntaxf("MIME needs a part")
		}
	case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
		if err := d.SP(); err != nil {
			return err
		}
		if err := d.List(func() error {
			f, err := d.AString()
			sec.Fields = append(sec.Fields, f)
			return err
		}); err != nil {
			return err
		}
		if len(sec.Fields) == 0 {
			return syntaxf("Empty header list")
		}
	default:
		return syntaxf("Bad section %s", spec)
	}
	sec.Specifier = spec
	return d.expect(']')
}

func parseSearch(d *Decoder, c *Command) error {
	a := &SearchArgs{}
	c.Args = a
	if err := d.SP(); err != nil {
		return err
	}
	// RETURN and CHARSET come first; an atom that is neither is the first key.
	for first := true; len(a.Keys) == 0; first = false {
		b, err := d.peek()
		if err != nil {
			return err
		}
		if b == '(' || b == '*' || b == '$' || '0' <= b && b <= '9' {
			break
		}
		kw, err := d.upperAtom()
		if err != nil {
			return err
		}
		switch {
		case kw == "RETURN" && first && !a.HasReturn:
			if err := d.SP(); err != nil {
				return err
			}
			if err := d.searchReturn(a); err != nil {
				return err
			}
		case kw == "CHARSET" && a.Charset == "":
			if err := d.SP(); err != nil {
				return err
			}
			if a.Charset, err = d.AString(); err != nil {
				return err
			}
		default:
			k, err := d.searchKeyNamed(kw, 0)
			if err != nil {
				return err
			}
			a.Keys = append(a.Keys, k)
			continue
		}
		if err := d.SP(); err != nil {
			return err
		}
	}
	if len(a.Keys) == 0 {
		k, err := d.searchKey(0)
		if err != nil {
			return err
		}
		a.Keys = append(a.Keys, k)
	}
	for !d.AtEOL() {
		if err := d.SP(); err != nil {
			return err
		}
		k, err := d.searchKey(0)
		if err != nil {
			return err
		}
		a.Keys = append(a.Keys, k)
	}
	return nil
}

func (d *Decoder) searchKey(depth int) (SearchKey, error) {
	if depth > maxDepth {
		return SearchKey{}, syntaxf("Search keys nested too deep")
	}
	b, err := d.peek()
	if err != nil {
		return SearchKey{}, err
	}
	switch {
	case b == '(':
		k := SearchKey{Name: "AND"}
		err := d.List(func() error {
			sub, err := d.searchKey(depth + 1)
			k.Sub = append(k.Sub, sub)
			return err
		})
		if err == nil && len(k.Sub) == 0 {
			err = syntaxf("Empty search key list")
		}
		return k, err
	case b == '*' || b == '$' || '0' <= b && b <= '9':
		set, err := d.NumSet()
		return SearchKey{Name: "SEQSET", Set: set}, err
	}
	name, err := d.upperAtom()
	if err != nil {
		return SearchKey{}, err
	}
	return d.searchKeyNamed(name, depth)
}

func (d *Decoder) searchKeyNamed(name string, depth int) (SearchKey, error) {
	k := SearchKey{Name: name}
	var err error
	arg := func() error { return d.SP() }
	switch name {
	case "ALL", "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "NEW", "OLD", "RECENT", "SEEN",
		"UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN", "SAVEDATESUPPORTED":
	case "BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO", "EMAILID", "THREADID":
		if err = arg(); err == nil {
			k.Value, err = d.AString()
		}
	case "KEYWORD", "UNKEYWORD":
		if err = arg(); err == nil {
			k.Value, err = d.Flag()
		}
	case "BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE", "SAVEDBEFORE", "SAVEDON", "SAVEDSINCE":
		if err = arg(); err == nil {
			k.Date, err = d.date()
		}
	case "HEADER":
		if err = arg(); err == nil {
			if k.Field, err = d.AString(); err == nil {
				if err = arg(); err == nil {
					k.Value, err = d.AString()
				}
			}
		}
	case "LARGER", "SMALLER", "OLDER", "YOUNGER":
		if err = arg(); err == nil {
			k.Num, err = d.Number64()
		}
	case "UID":
		if err = arg(); err == nil {
			k.Set, err = d.NumSet()
		}
	case "MODSEQ":
		if err = arg(); err == nil {
			if b, _ := d.peek(); b == '"' { // entry-name entry-type-req
				if _, err = d.quoted(); err == nil {
					if err = arg(); err == nil {
						if _, err = d.upperAtom(); err == nil {
							err = arg()
						}
					}
				}
			}
			if err == nil {
				k.Num, err = d.Number64()
			}
		}
	case "NOT":
		if err = arg(); err == nil {
			var sub SearchKey
			sub, err = d.searchKey(depth + 1)
			k.Sub = []SearchKey{sub}
		}
	case "OR":
		for i := 0; i < 2 && err == nil; i++ {
			if err = arg(); err == nil {
				var sub SearchKey
				sub, err = d.searchKey(depth + 1)
				k.Sub = append(k.Sub, sub)
			}
		}
	default:
		return k, syntaxf("Unknown search key %s", name)
	}
	return k, err
}

// date reads a date ("1-Feb-1994"), bare or quoted.
func (d *Decoder) date() (time.Time, error) {
	var s string
	if b, _ := d.peek(); b == '"' {
		q, err := d.quoted()
		if err != nil {
			return time.Time{}, err
		}
		s = q
	} else {
		t, err := d.token(isAtomChar, "a date")
		if err != nil {
			return time.Time{}, err
		}
		s = string(t)
	}
	t, err := time.Parse("2-Jan-2006", s)
	if err != nil {
		return time.Time{}, syntaxf("Bad date")
	}
	return t, nil
}
