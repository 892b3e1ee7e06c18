package sieve

import (
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"
)

// parseZone reads RFC 5260's zone: "+hhmm" or "-hhmm".
func parseZone(s string) (*time.Location, bool) {
	if len(s) != 5 || (s[0] != '+' && s[0] != '-') {
		return nil, false
	}
	h, err1 := strconv.Atoi(s[1:3])
	m, err2 := strconv.Atoi(s[3:5])
	if err1 != nil || err2 != nil || h > 23 || m > 59 {
		return nil, false
	}
	off := h*3600 + m*60
	if s[0] == '-' {
		off = -off
	}
	return time.FixedZone(s, off), true
}

// fieldDate reads a date out of a field value; for Received the date is
// after the last ';' (RFC 5260 4.1, RFC 5321 4.4).
func fieldDate(name, v string) (time.Time, bool) {
	if strings.EqualFold(name, "received") {
		i := strings.LastIndexByte(v, ';')
		if i < 0 {
			return time.Time{}, false
		}
		v = v[i+1:]
	}
	t, err := mail.ParseDate(strings.TrimSpace(v))
	return t, err == nil
}

func (t testDate) eval(r *run) (bool, error) {
	part := strings.ToLower(r.expand(t.part))
	if !dateParts[part] {
		return false, nil
	}
	loc := r.in.Location
	if loc == nil {
		loc = time.UTC
	}
	if t.zone != nil {
		z, ok := parseZone(r.expand(*t.zone))
		if !ok {
			return false, nil
		}
		loc = z
	}
	var vals []string
	if t.current {
		now := r.in.Now
		if now.IsZero() {
			now = time.Now()
		}
		vals = []string{datePart(now.In(loc), part)}
	} else {
		name := r.expand(t.header)
		for _, v := range r.fieldValues([]string{name}, t.index, t.last) {
			d, ok := fieldDate(name, v)
			if !ok {
				continue
			}
			if !t.original {
				d = d.In(loc)
			}
			vals = append(vals, datePart(d, part))
		}
	}
	ok, vars, err := t.m.match(r, vals)
	r.matched(ok, vars)
	return ok, err
}

// datePart formats one date-part of RFC 5260 4.2.
func datePart(d time.Time, part string) string {
	switch part {
	case "year":
		return fmt.Sprintf("%04d", d.Year())
	case "month":
		return fmt.Sprintf("%02d", int(d.Month()))
	case "day":
		return fmt.Sprintf("%02d", d.Day())
	case "date":
		return d.Format("2006-01-02")
	case "julian":
		// Modified Julian Day: days since 1858-11-17.
		base := time.Date(1858, 11, 17, 0, 0, 0, 0, d.Location())
		day := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, d.Location())
		return strconv.Itoa(int(day.Sub(base).Hours()+0.5) / 24)
	case "hour":
		return fmt.Sprintf("%02d", d.Hour())
	case "minute":
		return fmt.Sprintf("%02d", d.Minute())
	case "second":
		return fmt.Sprintf("%02d", d.Second())
	case "time":
		return d.Format("15:04:05")
	case "iso8601":
		return d.Format("2006-01-02T15:04:05-07:00")
	case "std11":
		return d.Format("Mon, 02 Jan 2006 15:04:05 -0700")
	case "zone":
		return d.Format("-0700")
	case "weekday":
		return strconv.Itoa(int(d.Weekday()))
	}
	return ""
}
