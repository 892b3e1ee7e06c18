package mailsort

import (
	"strconv"
	"strings"
	"time"
)

// SentDate is the sent date of a message (RFC 5256 section 2.2) from its
// Date field value: the date and time in UTC. A zone that cannot be read
// counts as UTC, a time that cannot be read as 00:00:00; a field that is
// missing, or whose day, month or year cannot be read, gives the
// INTERNALDATE. The reading is lenient, as mail in the wild needs: day
// names, comments, the obsolete zones and two-digit years of RFC 5322
// section 4.3, and the "Mon Jan 2 15:04:05 2006" order.
func SentDate(date string, internal time.Time) time.Time {
	if t, ok := parseDate(date); ok {
		return t
	}
	return internal
}

var months = [...]string{"january", "february", "march", "april", "may", "june",
	"july", "august", "september", "october", "november", "december"}

// zones are RFC 5322 section 4.3's obsolete zone names, in minutes east.
// Military single letters count as -0000 there, that is UTC.
var zones = map[string]int{
	"UT": 0, "GMT": 0, "Z": 0, "UTC": 0,
	"EST": -5 * 60, "EDT": -4 * 60, "CST": -6 * 60, "CDT": -5 * 60,
	"MST": -7 * 60, "MDT": -6 * 60, "PST": -8 * 60, "PDT": -7 * 60,
}

// parseDate reads a Date field value; ok is false when no day, month and
// year can be found in it.
func parseDate(v string) (time.Time, bool) {
	day, month, year := 0, 0, -1
	hour, minute, sec := 0, 0, 0
	offset := 0 // minutes east of UTC
	for _, tok := range dateTokens(v) {
		switch {
		case tok[0] == '+' || tok[0] == '-':
			if o, ok := numericZone(tok); ok {
				offset = o
			}
		case strings.IndexByte(tok, ':') >= 0:
			hour, minute, sec = clock(tok)
		case isDigits(tok):
			n, err := strconv.Atoi(tok)
			switch {
			case err != nil:
			case day == 0 && len(tok) <= 2 && n >= 1 && n <= 31:
				day = n
			case year < 0 && len(tok) <= 4:
				year = fullYear(n, len(tok))
			}
		default:
			if m := monthOf(tok); m > 0 && month == 0 {
				month = m
			} else if o, ok := zones[strings.ToUpper(tok)]; ok {
				offset = o
			}
		}
	}
	if day == 0 || month == 0 || year < 0 {
		return time.Time{}, false
	}
	if day > time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
	return t.Add(-time.Duration(offset) * time.Minute), true
}

// dateTokens splits a date into words: comments and commas out, a zone
// written against the time ("10:00:00+0100") split off, and dashes
// next to a month's name taken as spaces.
func dateTokens(v string) []string {
	var b strings.Builder
	depth := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '(':
			depth++
			c = ' '
		case c == ')' && depth > 0:
			depth--
			c = ' '
		case depth > 0 || c == ',':
			c = ' '
		case c == '-' && (i > 0 && isLetter(v[i-1]) || i+1 < len(v) && isLetter(v[i+1])):
			c = ' ' // "3-Dec-2026", as IMAP writes dates
		case (c == '+' || c == '-') && i > 0 && v[i-1] >= '0' && v[i-1] <= '9':
			b.WriteByte(' ')
		}
		b.WriteByte(c)
	}
	return strings.Fields(b.String())
}

// numericZone reads +hhmm or -hhmm; a zone out of range is no zone.
func numericZone(tok string) (int, bool) {
	if len(tok) != 5 || !isDigits(tok[1:]) {
		return 0, false
	}
	h, _ := strconv.Atoi(tok[1:3])
	m, _ := strconv.Atoi(tok[3:5])
	if m > 59 {
		return 0, false
	}
	o := h*60 + m
	if tok[0] == '-' {
		o = -o
	}
	return o, true
}

// clock reads hh:mm[:ss]; a time that cannot be read is 00:00:00 (RFC
// 5256 section 2.2). A leap second counts as :59.
func clock(tok string) (h, m, s int) {
	parts := strings.Split(tok, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, 0, 0
	}
	var n [3]int
	for i, p := range parts {
		if p == "" || len(p) > 2 || !isDigits(p) {
			return 0, 0, 0
		}
		n[i], _ = strconv.Atoi(p)
	}
	if n[0] > 23 || n[1] > 59 || n[2] > 60 {
		return 0, 0, 0
	}
	return n[0], n[1], min(n[2], 59)
}

// fullYear applies RFC 5322 section 4.3: two digits are 19xx from 50 on
// and 20xx below, three digits are added to 1900.
func fullYear(n, digits int) int {
	switch {
	case digits == 2 && n < 50:
		return 2000 + n
	case digits <= 3:
		return 1900 + n
	}
	return n
}

// monthOf returns 1 to 12 for a month's English name or the start of
// it, at least three letters ("Dec", "Sept", "December").
func monthOf(tok string) int {
	if len(tok) < 3 {
		return 0
	}
	l := strings.ToLower(strings.TrimSuffix(tok, "."))
	for i, m := range months {
		if strings.HasPrefix(m, l) {
			return i + 1
		}
	}
	return 0
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
