// Package imapwire is the IMAP protocol on the wire (RFC 3501, RFC 9051
// and the extensions mailhost serves): the reader and parser of client
// commands, the writer of server responses, modified UTF-7, and the value
// types both use. It knows nothing of mailboxes or storage.
package imapwire

import (
	"strconv"
	"strings"
	"time"
)

// NumRange is a range of a sequence set; 0 stands for '*'.
type NumRange struct{ Start, Stop uint32 }

// NumSet is a sequence set (of sequence numbers or UIDs), or "$", the
// saved search result (SearchRes, RFC 5182).
type NumSet struct {
	Ranges    []NumRange
	SearchRes bool
}

// String writes the set in IMAP syntax.
func (s NumSet) String() string {
	if s.SearchRes {
		return "$"
	}
	var b strings.Builder
	for i, r := range s.Ranges {
		if i > 0 {
			b.WriteByte(',')
		}
		writeNum(&b, r.Start)
		if r.Stop != r.Start {
			b.WriteByte(':')
			writeNum(&b, r.Stop)
		}
	}
	return b.String()
}

func writeNum(b *strings.Builder, n uint32) {
	if n == 0 {
		b.WriteByte('*')
		return
	}
	b.WriteString(strconv.FormatUint(uint64(n), 10))
}

// SetOf returns the set of the ascending numbers nums, ranges joined.
func SetOf(nums []uint32) NumSet {
	var s NumSet
	for _, n := range nums {
		if k := len(s.Ranges); k > 0 && s.Ranges[k-1].Stop+1 == n {
			s.Ranges[k-1].Stop = n
			continue
		}
		s.Ranges = append(s.Ranges, NumRange{n, n})
	}
	return s
}

// Partial is the <offset.size> of a section (size -1: to the end, as in
// a response's <offset>).
type Partial struct{ Offset, Size int64 }

// Section is a BODY[...] or BINARY[...] fetch item (RFC 3501 6.4.5,
// RFC 3516), or one of the RFC822 aliases.
type Section struct {
	Part      []int
	Specifier string // "", HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT, MIME
	Fields    []string
	Partial   *Partial
	Peek      bool
	Binary    bool
	// Alias is RFC822, RFC822.HEADER or RFC822.TEXT for those items: the
	// response names the item so.
	Alias string
}

// FetchItems is what a FETCH asks for.
type FetchItems struct {
	UID, Flags, InternalDate, RFC822Size, Envelope bool
	Body, BodyStructure                            bool // BODY (non-extensible), BODYSTRUCTURE
	ModSeq, Preview, SaveDate, EmailID, ThreadID   bool
	Sections                                       []Section
	BinarySize                                     []Section
	ChangedSince                                   uint64 // CONDSTORE modifier
	Vanished                                       bool   // QRESYNC modifier
}

// SearchKey is one search key (RFC 3501 6.4.4, RFC 9051 6.4.4) and the
// keys under it. Name is the key in upper case; AND is a parenthesised
// list, SEQSET a bare sequence set.
type SearchKey struct {
	Name  string
	Field string      // HEADER's field name
	Value string      // the string argument; KEYWORD's flag
	Date  time.Time   // the date argument
	Num   uint64      // LARGER, SMALLER, OLDER, YOUNGER, MODSEQ
	Set   NumSet      // UID, SEQSET
	Sub   []SearchKey // AND: the list; NOT: one; OR: two
}

// SearchArgs is a SEARCH command (also the SORT and THREAD criteria).
type SearchArgs struct {
	Return    []string // RETURN options in upper case; nil: no RETURN
	HasReturn bool
	// Partial is the range of the PARTIAL return option (RFC 5267
	// section 4.4, RFC 9394), nil without it.
	Partial *PartialRange
	Charset string
	Keys    []SearchKey
}

// StoreArgs is a STORE command.
type StoreArgs struct {
	Set            NumSet
	Op             byte // '+', '-' or 0 (replace)
	Silent         bool
	Flags          []string
	UnchangedSince uint64
	HasUnchanged   bool
}

// SelectArgs is a SELECT or EXAMINE command.
type SelectArgs struct {
	Mailbox   string
	CondStore bool
	QResync   *QResync
}

// QResync is SELECT's QRESYNC parameter (RFC 7162 3.2.5).
type QResync struct {
	UIDValidity uint32
	ModSeq      uint64
	KnownUIDs   NumSet
	SeqMatch    *[2]NumSet // known sequence numbers, their UIDs
}

// ListArgs is a LIST (or LSUB) command, with LIST-EXTENDED options
// (RFC 5258) and LIST-STATUS (RFC 5819).
type ListArgs struct {
	Ref      string
	Patterns []string
	// Select: SUBSCRIBED, REMOTE, RECURSIVEMATCH, SPECIAL-USE.
	Select []string
	// Return: SUBSCRIBED, CHILDREN, SPECIAL-USE, STATUS, MYRIGHTS.
	Return []string
	Status []string // the STATUS return option's items
	LSUB   bool
}

// Has reports whether opts holds opt.
func Has(opts []string, opt string) bool {
	for _, o := range opts {
		if o == opt {
			return true
		}
	}
	return false
}

// AppendMessage is one message of an APPEND (RFC 3502 allows several).
type AppendMessage struct {
	Flags []string
	Date  time.Time // zero: none given
	Size  int64
	// Binary: the message came as a literal8 (RFC 3516 4.4).
	Binary bool
}

// Address is one address of an ENVELOPE; a group is written as a start
// (Mailbox the group name, Host empty, Group true) and an end (all empty,
// Group true) (RFC 3501 7.4.2).
type Address struct {
	Name, Route, Mailbox, Host string
	Group                      bool
}

// Envelope is a message's ENVELOPE.
type Envelope struct {
	Date, Subject                      string
	From, Sender, ReplyTo, To, Cc, Bcc []Address
	InReplyTo, MessageID               string
}

// BodyStructure is one part of a BODYSTRUCTURE.
type BodyStructure struct {
	Type, Subtype string
	Params        []string // name, value pairs
	// Single part.
	ID, Description, Encoding string
	Size                      int64
	Lines                     int64 // text/* and message/rfc822
	Envelope                  *Envelope
	Inner                     *BodyStructure // message/rfc822
	MD5                       string
	// Multipart.
	Children []*BodyStructure
	// Extension data.
	Disposition       string
	DispositionParams []string
	Language          []string
	Location          string
}
