package imapwire

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestReadSortThread(t *testing.T) {
	all := []SearchKey{{Name: "ALL"}}
	for _, tc := range []struct {
		in   string
		name string
		uid  bool
		args any
	}{
		{"a SORT (SUBJECT) UTF-8 ALL\r\n", "SORT", false,
			&SortArgs{Criteria: []SortCriterion{{Key: "SUBJECT"}}, Search: SearchArgs{Charset: "UTF-8", Keys: all}}},
		{"a uid sort (reverse arrival displayFrom) \"US-ASCII\" UNSEEN FROM x\r\n", "SORT", true,
			&SortArgs{Criteria: []SortCriterion{{Key: "ARRIVAL", Reverse: true}, {Key: "DISPLAYFROM"}},
				Search: SearchArgs{Charset: "US-ASCII", Keys: []SearchKey{{Name: "UNSEEN"}, {Name: "FROM", Value: "x"}}}}},
		{"a SORT RETURN (MIN COUNT) (DATE) UTF-8 1:5\r\n", "SORT", false,
			&SortArgs{Criteria: []SortCriterion{{Key: "DATE"}}, Search: SearchArgs{HasReturn: true, Return: []string{"MIN", "COUNT"},
				Charset: "UTF-8", Keys: []SearchKey{{Name: "SEQSET", Set: NumSet{Ranges: []NumRange{{1, 5}}}}}}}},
		{"a UID SORT RETURN (PARTIAL 10:1 COUNT) (SIZE) UTF-8 ALL\r\n", "SORT", true,
			&SortArgs{Criteria: []SortCriterion{{Key: "SIZE"}},
				Search: SearchArgs{HasReturn: true, Return: []string{"PARTIAL", "COUNT"}, Partial: &PartialRange{1, 10}, Charset: "UTF-8", Keys: all}}},
		{"a SORT RETURN (PARTIAL -1:-20) (SIZE) UTF-8 ALL\r\n", "SORT", false,
			&SortArgs{Criteria: []SortCriterion{{Key: "SIZE"}},
				Search: SearchArgs{HasReturn: true, Return: []string{"PARTIAL"}, Partial: &PartialRange{-1, -20}, Charset: "UTF-8", Keys: all}}},
		{"a SORT RETURN () (TO) UTF-8 ALL\r\n", "SORT", false,
			&SortArgs{Criteria: []SortCriterion{{Key: "TO"}}, Search: SearchArgs{HasReturn: true, Return: []string{}, Charset: "UTF-8", Keys: all}}},
		{"a THREAD REFERENCES UTF-8 ALL\r\n", "THREAD", false,
			&ThreadArgs{Algorithm: "REFERENCES", Search: SearchArgs{Charset: "UTF-8", Keys: all}}},
		{"a UID THREAD orderedsubject {5}\r\nUTF-8 SINCE 1-Feb-1994 (OR SEEN DELETED)\r\n", "THREAD", true,
			&ThreadArgs{Algorithm: "ORDEREDSUBJECT", Search: SearchArgs{Charset: "UTF-8", Keys: []SearchKey{
				{Name: "SINCE", Date: time.Date(1994, 2, 1, 0, 0, 0, 0, time.UTC)},
				{Name: "AND", Sub: []SearchKey{{Name: "OR", Sub: []SearchKey{{Name: "SEEN"}, {Name: "DELETED"}}}}}}}}},
	} {
		d := decoder(tc.in)
		d.Continue = func() error { return nil }
		d.MaxLiteral = 100
		c, err := d.ReadCommand()
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if c.Name != tc.name || c.UID != tc.uid || !reflect.DeepEqual(c.Args, tc.args) {
			t.Errorf("%q: got %s uid=%v %#v", tc.in, c.Name, c.UID, c.Args)
		}
	}
}

func TestReadSortThreadErrors(t *testing.T) {
	for _, in := range []string{
		"a SORT\r\n",
		"a SORT () UTF-8 ALL\r\n",
		"a SORT (DATE)\r\n",
		"a SORT (DATE) UTF-8\r\n",
		"a SORT (DATE) UTF-8 \r\n",
		"a SORT (REVERSE) UTF-8 ALL\r\n",
		"a SORT DATE UTF-8 ALL\r\n",
		"a SORT RETURN (PARTIAL 0:5) (DATE) UTF-8 ALL\r\n",
		"a SORT RETURN (PARTIAL -1:5) (DATE) UTF-8 ALL\r\n",
		"a SORT RETURN (PARTIAL 1:5 PARTIAL 1:2) (DATE) UTF-8 ALL\r\n",
		"a SORT RETURN (PARTIAL) (DATE) UTF-8 ALL\r\n",
		"a THREAD REFERENCES\r\n",
		"a THREAD REFERENCES UTF-8\r\n",
		"a THREAD (REFERENCES) UTF-8 ALL\r\n",
	} {
		_, err := decoder(in).ReadCommand()
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: %v", in, err)
		}
	}
}
