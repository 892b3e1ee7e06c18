package mtasts

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNoRecord: none of the TXT records of _mta-sts.<domain> is an
// MTA-STS record (they do not start with "v=STSv1").
var ErrNoRecord = errors.New("mta-sts: no v=STSv1 record")

// Record is the "_mta-sts" TXT record of a domain (RFC 8461 3.1).
type Record struct {
	ID string // changes when the policy changes: 1 to 32 letters and digits
}

// ParseRecords picks the MTA-STS record among the TXT records of
// _mta-sts.<domain>: records not starting with "v=STSv1;" are dropped;
// none left is ErrNoRecord; more than one, or one that does not parse,
// is an error too (RFC 8461 3.1: the domain then has no available
// policy).
func ParseRecords(txts []string) (Record, error) {
	var found []string
	for _, t := range txts {
		if strings.HasPrefix(t, "v=STSv1;") || t == "v=STSv1" {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return Record{}, ErrNoRecord
	case 1:
		return ParseRecord(found[0])
	}
	return Record{}, fmt.Errorf("mta-sts: %d v=STSv1 records", len(found))
}

// ParseRecord reads one record: "v=STSv1; id=...;" with optional
// white space around the fields and extension fields after them.
func ParseRecord(txt string) (Record, error) {
	var r Record
	for i, f := range strings.Split(txt, ";") {
		f = strings.Trim(f, " \t")
		if f == "" {
			continue
		}
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return Record{}, fmt.Errorf("mta-sts record: field %q is not key=value", f)
		}
		switch {
		case i == 0 && (k != "v" || v != "STSv1"):
			return Record{}, fmt.Errorf("mta-sts record: starts with %q, want v=STSv1", f)
		case k == "id":
			if !validID(v) {
				return Record{}, fmt.Errorf("mta-sts record: id %q is not 1 to 32 letters and digits", v)
			}
			r.ID = v
		}
	}
	if r.ID == "" {
		return Record{}, errors.New("mta-sts record: no id")
	}
	return r, nil
}

func validID(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
