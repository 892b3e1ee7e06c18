package imapwire

// The parts of the Contexts extension (RFC 5267 section 4) on the wire:
// the RETURN options of SEARCH and SORT with PARTIAL's range, and
// CANCELUPDATE.

// searchReturn reads the RETURN options' list of SEARCH or SORT (RFC 4466
// search-return-opts): atoms in upper case, PARTIAL with its range (RFC
// 5267 section 4.4, RFC 9394 section 3.1) into a.Partial. A second
// PARTIAL is a syntax error; the command decides what the others mean.
func (d *Decoder) searchReturn(a *SearchArgs) error {
	a.HasReturn, a.Return = true, []string{}
	return d.List(func() error {
		o, err := d.upperAtom()
		if err != nil {
			return err
		}
		a.Return = append(a.Return, o)
		if o != "PARTIAL" {
			return nil
		}
		if err := d.SP(); err != nil {
			return err
		}
		t, err := d.token(isAtomChar, "a partial range")
		if err != nil {
			return err
		}
		p, ok := parsePartialRange(string(t))
		if !ok || a.Partial != nil {
			return syntaxf("Invalid PARTIAL range")
		}
		a.Partial = &p
		return nil
	})
}

// parseCancelUpdate reads
//
//	command-select =/ "CANCELUPDATE" 1*(SP quoted)
//
// (RFC 5267 section 5): the tags of the contexts to end, as []string.
func parseCancelUpdate(d *Decoder, c *Command) error {
	var tags []string
	for {
		if err := d.SP(); err != nil {
			return err
		}
		if b, err := d.peek(); err != nil {
			return err
		} else if b != '"' {
			return syntaxf("Expected a quoted tag")
		}
		t, err := d.quoted()
		if err != nil {
			return err
		}
		tags = append(tags, t)
		c.Args = tags
		if d.AtEOL() {
			return nil
		}
	}
}
