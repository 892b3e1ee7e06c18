package inflate

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"

	"mailhost/testsupport"
)

// sample is mail-like text with some binary, so that every level makes
// matches, literals and (for random bytes) stored blocks.
func sample(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	words := strings.Fields("From: To: Subject: Received: by with ESMTP id for the message body of mail host example.org IMAP FETCH")
	for b.Len() < n {
		if rng.IntN(50) == 0 {
			for range rng.IntN(400) {
				b.WriteByte(byte(rng.Uint32()))
			}
			continue
		}
		b.WriteString(words[rng.IntN(len(words))])
		if rng.IntN(10) == 0 {
			b.WriteString("\r\n")
		} else {
			b.WriteByte(' ')
		}
	}
	return b.Bytes()[:n]
}

func compress(t testing.TB, level int, parts ...[]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, level)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		w.Write(p)
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// readAll reads r with reads of size n.
func readAll(r io.Reader, n int) ([]byte, error) {
	var out []byte
	buf := make([]byte, n)
	for {
		k, err := r.Read(buf)
		out = append(out, buf[:k]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if k == 0 {
			return out, errors.New("Read returned 0 bytes and no error")
		}
	}
}

func TestRoundTripLevels(t *testing.T) {
	data := sample(300_000)
	for level := flate.HuffmanOnly; level <= flate.BestCompression; level++ {
		for _, flush := range []bool{false, true} {
			var z []byte
			if flush {
				z = compress(t, level, data[:10], data[10:5000], data[5000:5001], data[5001:])
			} else {
				z = compress(t, level, data)
			}
			for _, size := range []int{1, 7, 4096, 1 << 20} {
				got, err := readAll(NewReader(bytes.NewReader(z)), size)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("level %d flush %v reads of %d: %d bytes (want %d), err %v", level, flush, size, len(got), len(data), err)
				}
			}
		}
	}
}

func TestEmptyAndStored(t *testing.T) {
	for _, tc := range []struct {
		name string
		z    []byte
		want string
	}{
		{"empty fixed block", []byte{0x03, 0x00}, ""},
		{"stored block", []byte{0x01, 0x05, 0x00, 0xfa, 0xff, 'h', 'e', 'l', 'l', 'o'}, "hello"},
		{"empty stored then fixed", append([]byte{0x00, 0x00, 0x00, 0xff, 0xff}, 0x03, 0x00), ""},
		// Fixed block: 'a', then length 3 distance 1 ("aaa"), end.
		{"fixed block with a match", []byte{0x4b, 0x04, 0x02, 0x00}, "aaaa"},
	} {
		got, err := io.ReadAll(NewReader(bytes.NewReader(tc.z)))
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

type vectors struct {
	Chunks [][]byte
	Cases  []struct {
		Name     string
		Segments [][]byte
		Final    []byte
	}
}

// zlibVectors runs testdata/zlibvectors.py: streams of zlib with
// Z_PARTIAL_FLUSH and Z_SYNC_FLUSH, one segment per chunk.
func zlibVectors(t *testing.T) vectors {
	py := testsupport.RequireTool(t, "python3", "python3")
	out, err := exec.Command(py, "testdata/zlibvectors.py").Output()
	if err != nil {
		t.Fatalf("zlibvectors.py: %v", err)
	}
	var v vectors
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Cases) == 0 {
		t.Fatal("no cases")
	}
	return v
}

func TestZlibVectors(t *testing.T) {
	v := zlibVectors(t)
	want := bytes.Join(v.Chunks, nil)
	for _, c := range v.Cases {
		z := append(bytes.Join(c.Segments, nil), c.Final...)
		got, err := readAll(NewReader(bytes.NewReader(z)), 4096)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes (want %d), %v", c.Name, len(got), len(want), err)
		}
	}
}

var errBlocked = errors.New("read past the bytes sent so far")

// stingy gives only the bytes sent so far, then errBlocked, as a
// connection would block waiting for the client.
type stingy struct{ data []byte }

func (s *stingy) ReadByte() (byte, error) {
	if len(s.data) == 0 {
		return 0, errBlocked
	}
	c := s.data[0]
	s.data = s.data[1:]
	return c, nil
}

type stingyBuffered struct{ stingy }

func (s *stingyBuffered) Buffered() int { return len(s.data) }

// TestInteractive sends a client's commands one flushed segment at a
// time: each command must come out whole before the next is sent, both
// when the input tells how much it has buffered and when it does not.
func TestInteractive(t *testing.T) {
	v := zlibVectors(t)
	for _, c := range v.Cases {
		for _, buffered := range []bool{false, true} {
			var in *stingy
			var zr *Reader
			if buffered {
				sb := &stingyBuffered{}
				in, zr = &sb.stingy, NewReader(sb)
			} else {
				in = &stingy{}
				zr = NewReader(in)
			}
			for i, seg := range c.Segments {
				in.data = append(in.data, seg...)
				got := make([]byte, len(v.Chunks[i]))
				if _, err := io.ReadFull(zr, got); err != nil {
					t.Fatalf("%s (Buffered %v): command %d: %v", c.Name, buffered, i, err)
				}
				if !bytes.Equal(got, v.Chunks[i]) {
					t.Fatalf("%s: command %d: got %q", c.Name, i, got)
				}
			}
		}
	}
}

// flaky fails every other ReadByte with a timeout, as a connection with a
// read deadline would: outside block headers, or (inHeader) only inside
// them.
type flaky struct {
	data     []byte
	n        int
	zr       *Reader
	inHeader bool
}

var errTimeout = errors.New("timeout")

func (f *flaky) ReadByte() (byte, error) {
	f.n++
	if f.n%2 == 0 && f.zr.inHeader == f.inHeader {
		return 0, errTimeout
	}
	if len(f.data) == 0 {
		return 0, io.EOF
	}
	c := f.data[0]
	f.data = f.data[1:]
	return c, nil
}

// TestInputErrors: an input error between or inside codes is returned
// and reading goes on after it; inside a block header it stays.
func TestInputErrors(t *testing.T) {
	data := sample(50_000)
	for level := flate.HuffmanOnly; level <= flate.BestCompression; level++ {
		in := &flaky{data: compress(t, level, data[:100], data[100:])}
		in.zr = NewReader(in)
		var got []byte
		buf := make([]byte, 1000)
		timeouts := 0
		for {
			n, err := in.zr.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err == errTimeout {
				timeouts++
				continue
			}
			if err != nil {
				t.Fatalf("level %d: %v", level, err)
			}
		}
		if !bytes.Equal(got, data) || timeouts == 0 {
			t.Errorf("level %d: %d bytes (want %d), %d timeouts", level, len(got), len(data), timeouts)
		}
	}
	in := &flaky{data: compress(t, flate.BestCompression, data), inHeader: true}
	in.zr = NewReader(in)
	buf := make([]byte, 1000)
	for i := range 3 {
		if n, err := in.zr.Read(buf); n != 0 || err != errTimeout {
			t.Fatalf("read %d after an error in a header: %d bytes, %v", i, n, err)
		}
	}
}

// TestInteractivePipe is TestInteractive over an io.Pipe behind a
// bufio.Reader, as a server reads a connection: the client writes the
// next command only after the server has read the last one.
func TestInteractivePipe(t *testing.T) {
	v := zlibVectors(t)
	for _, c := range v.Cases {
		pr, pw := io.Pipe()
		zr := NewReader(bufio.NewReader(pr))
		answered := make(chan struct{})
		go func() {
			for _, seg := range c.Segments {
				if _, err := pw.Write(seg); err != nil {
					return
				}
				if _, ok := <-answered; !ok {
					return
				}
			}
			pw.Write(c.Final)
			pw.Close()
		}()
		for i, chunk := range v.Chunks {
			got := make([]byte, len(chunk))
			if _, err := io.ReadFull(zr, got); err != nil || !bytes.Equal(got, chunk) {
				t.Fatalf("%s: command %d: %q, %v", c.Name, i, got, err)
			}
			answered <- struct{}{}
		}
		if rest, err := io.ReadAll(zr); err != nil || len(rest) != 0 {
			t.Fatalf("%s: after the last command: %q, %v", c.Name, rest, err)
		}
		close(answered)
	}
}

func TestInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		z    []byte
		want string
	}{
		{"block type 3", []byte{0x07}, "block type 3"},
		{"stored length complement", []byte{0x01, 0x05, 0x00, 0x00, 0x00}, "complement"},
		{"distance too far back", []byte{0x03, 0x02, 0x00}, "too far back"},
		{"fixed length code 286", []byte{0x4b, 0x1c, 0x03, 0x00, 0x00}, "length code 286"},
		// Dynamic: HLIT 257, HDIST 1, HCLEN 4, all four code length
		// code lengths 0.
		{"no codes", []byte{0x05, 0x00, 0x00, 0x00}, "no codes"},
		// HCLEN 4 lengths 1,1,1 for 16,17,18: over-subscribed.
		{"over-subscribed", []byte{0x05, 0x00, 0x92, 0x00}, "over-subscribed"},
		// lengths 2,2,2 for 16,17,18: incomplete.
		{"incomplete", []byte{0x05, 0x00, 0x24, 0x01}, "incomplete"},
		// Code length code: 0 and 16 of one bit; the first length is a
		// repeat (16).
		{"repeat with none before", []byte{0x05, 0x00, 0x02, 0x24}, "none before"},
		// 0 and 18 of one bit; 258 zero lengths by two 18s.
		{"no end-of-block code", []byte{0x05, 0x00, 0x80, 0xe4, 0x7f, 0x1b}, "end-of-block"},
		{"lengths past the codes", []byte{0x05, 0x00, 0x80, 0xe4, 0xff, 0x1f}, "past the declared"},
		{"truncated", []byte{0x4b, 0x04}, "unexpected EOF"},
		{"nothing", nil, "unexpected EOF"},
	} {
		got, err := io.ReadAll(NewReader(bytes.NewReader(tc.z)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %q, %v; want an error with %q", tc.name, got, err, tc.want)
		}
		if err != nil && err != io.ErrUnexpectedEOF && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v does not wrap ErrInvalid", tc.name, err)
		}
	}
}

// TestGarbage: random and damaged streams give errors or data, never a
// panic or a Read of 0 bytes without an error.
func TestGarbage(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	good := compress(t, 6, sample(20_000))
	for i := range 3000 {
		var z []byte
		if i%2 == 0 {
			z = make([]byte, rng.IntN(200))
			for j := range z {
				z[j] = byte(rng.Uint32())
			}
		} else {
			z = bytes.Clone(good[:rng.IntN(len(good))])
			for range 1 + rng.IntN(4) {
				if len(z) > 0 {
					z[rng.IntN(len(z))] ^= byte(1 + rng.IntN(255))
				}
			}
		}
		readAll(NewReader(bytes.NewReader(z)), 1+rng.IntN(5000))
	}
}

// FuzzInflate compares with compress/flate: where both decode the input
// without error, they give the same bytes.
func FuzzInflate(f *testing.F) {
	f.Add(compress(f, 6, []byte("a1 LOGIN user pass\r\n"), []byte("a2 SELECT INBOX\r\n")))
	f.Add([]byte{0x4b, 0x04, 0x02, 0x00})
	f.Fuzz(func(t *testing.T, z []byte) {
		const limit = 1 << 20
		ours, errOurs := readAll(io.LimitReader(NewReader(bytes.NewReader(z)), limit), 1000)
		theirs, errTheirs := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(z)), limit))
		if errOurs == nil && errTheirs == nil && !bytes.Equal(ours, theirs) {
			t.Fatalf("inflate gives %d bytes, compress/flate %d", len(ours), len(theirs))
		}
	})
}

func BenchmarkRead(b *testing.B) {
	data := sample(1 << 20)
	z := compress(b, flate.DefaultCompression, data)
	buf := make([]byte, 32<<10)
	zr := NewReader(bytes.NewReader(z))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		zr.Reset(bytes.NewReader(z))
		n := 0
		for {
			k, err := zr.Read(buf)
			n += k
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if n != len(data) {
			b.Fatalf("%d bytes", n)
		}
	}
}
