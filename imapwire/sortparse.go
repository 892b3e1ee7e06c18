package imapwire

import (
	"strconv"
	"strings"
)

// SortArgs is a SORT command (RFC 5256 section 3), with the RETURN
// options of ESORT (RFC 5267 section 3) in Search.Return.
type SortArgs struct {
	// Criteria are the sort criteria in order; Key in upper case.
	Criteria []SortCriterion
	// Search holds the charset, the search keys and the RETURN options
	// (PARTIAL's range in Search.Partial).
	Search SearchArgs
}

// SortCriterion is one sort criterion: a key and REVERSE before it.
type SortCriterion struct {
	Key     string
	Reverse bool
}

// PartialRange is the range of a PARTIAL return option: First and Last
// count from 1 at the start of the result, or, both negative, from -1 at
// its end (RFC 9394 section 3.1); |First| <= |Last|.
type PartialRange struct{ First, Last int32 }

// ThreadArgs is a THREAD command (RFC 5256 section 3).
type ThreadArgs struct {
	// Algorithm is the threading algorithm in upper case.
	Algorithm string
	// Search holds the charset and the search keys.
	Search SearchArgs
}

// parseSort reads
//
//	sort = ["UID" SP] "SORT" [search-return-opts] SP sort-criteria SP search-criteria
//	sort-criteria = "(" sort-criterion *(SP sort-criterion) ")"
//	sort-criterion = ["REVERSE" SP] sort-key
//	search-criteria = charset 1*(SP search-key)
//
// (RFC 5256 section 5, RFC 5267 section 6).
func parseSort(d *Decoder, c *Command) error {
	a := &SortArgs{}
	c.Args = a
	if err := d.SP(); err != nil {
		return err
	}
	b, err := d.peek()
	if err != nil {
		return err
	}
	if b != '(' {
		kw, err := d.upperAtom()
		if err != nil {
			return err
		}
		if kw != "RETURN" {
			return syntaxf("Expected RETURN or sort criteria")
		}
		if err := d.SP(); err != nil {
			return err
		}
		if err := d.searchReturn(&a.Search); err != nil {
			return err
		}
		if err := d.SP(); err != nil {
			return err
		}
	}
	if err := d.List(func() error {
		k, err := d.upperAtom()
		if err != nil {
			return err
		}
		var crit SortCriterion
		if k == "REVERSE" {
			crit.Reverse = true
			if err := d.SP(); err != nil {
				return err
			}
			if k, err = d.upperAtom(); err != nil {
				return err
			}
		}
		crit.Key = k
		a.Criteria = append(a.Criteria, crit)
		return nil
	}); err != nil {
		return err
	}
	if len(a.Criteria) == 0 {
		return syntaxf("Expected a sort criterion")
	}
	return d.searchCriteria(&a.Search)
}

// parsePartialRange reads "first:last", both positive or both negative.
func parsePartialRange(s string) (PartialRange, bool) {
	lo, hi, ok := strings.Cut(s, ":")
	if !ok {
		return PartialRange{}, false
	}
	num := func(s string) (int32, bool) {
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimPrefix(s, "-")
		if s == "" || s[0] < '1' || s[0] > '9' {
			return 0, false
		}
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return 0, false
		}
		if neg {
			n = -n
		}
		return int32(n), true
	}
	a, ok1 := num(lo)
	b, ok2 := num(hi)
	if !ok1 || !ok2 || (a < 0) != (b < 0) {
		return PartialRange{}, false
	}
	if a < 0 && a < b || a > 0 && a > b {
		a, b = b, a // "the order of the range ends does not matter" (RFC 9394 3.1)
	}
	return PartialRange{a, b}, true
}

// parseThread reads
//
//	thread = ["UID" SP] "THREAD" SP thread-alg SP search-criteria
//
// (RFC 5256 section 5).
func parseThread(d *Decoder, c *Command) error {
	a := &ThreadArgs{}
	c.Args = a
	if err := d.SP(); err != nil {
		return err
	}
	alg, err := d.upperAtom()
	if err != nil {
		return err
	}
	a.Algorithm = alg
	return d.searchCriteria(&a.Search)
}

// searchCriteria reads SP charset 1*(SP search-key).
func (d *Decoder) searchCriteria(a *SearchArgs) error {
	if err := d.SP(); err != nil {
		return err
	}
	cs, err := d.AString()
	if err != nil {
		return err
	}
	a.Charset = cs
	for {
		if err := d.SP(); err != nil {
			return err
		}
		k, err := d.searchKey(0)
		if err != nil {
			return err
		}
		a.Keys = append(a.Keys, k)
		if d.AtEOL() {
			return nil
		}
	}
}
