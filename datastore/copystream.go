package datastore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// tupleScanner passes a PostgreSQL binary COPY stream through to w while
// following its framing (a header, then per tuple an int16 field count and
// per field an int32 length and that many bytes, then a -1 trailer). It
// counts the tuples and keeps the raw key fields of the last one, so a
// batch bounded only by LIMIT learns its size and its last key from the
// data itself, without a query of its own. Only the framing is read: the
// values are never decoded, apart from the last tuple's key at the end.
type tupleScanner struct {
	w     io.Writer
	keyAt []int // column position of each key column, in key order

	state  scanState
	need   int    // bytes still wanted by the current state
	acc    []byte // a header part being gathered across writes
	fields int    // fields in the current tuple
	field  int    // current field
	keyIdx int    // index into key of the current field's key column, -1 if not a key

	tuples int64
	key    [][]byte // raw key fields of the last tuple started
	maxKey int      // the greatest of keyAt: a tuple must have more fields
	null   []bool
	err    error
}

type scanState int

const (
	scanHeader    scanState = iota // signature, flags, extension length
	scanExtension                  // header extension, skipped
	scanCount                      // a tuple's field count
	scanLength                     // a field's length
	scanData                       // a field's bytes
	scanTrailer                    // the -1 field count was read
)

// binarySignature starts every binary COPY stream.
const binarySignature = "PGCOPY\n\xff\r\n\x00"

func newTupleScanner(w io.Writer, keyAt []int) *tupleScanner {
	return &tupleScanner{w: w, keyAt: keyAt, state: scanHeader, need: len(binarySignature) + 8,
		key: make([][]byte, len(keyAt)), null: make([]bool, len(keyAt)), maxKey: maxKeyAt(keyAt)}
}

// Write forwards p and follows the framing; a malformed stream fails the
// write, which stops the source's COPY.
func (s *tupleScanner) Write(p []byte) (int, error) {
	if s.err == nil {
		s.err = s.scan(p)
	}
	if s.err != nil {
		return 0, s.err
	}
	return s.w.Write(p)
}

func (s *tupleScanner) scan(p []byte) error {
	for len(p) > 0 {
		if s.state == scanCount && len(s.acc) == 0 {
			// The usual case: PostgreSQL sends a tuple a message, so p
			// starts with whole tuples, read here without the state machine.
			n, err := s.wholeTuples(p)
			if err != nil {
				return err
			}
			if p = p[n:]; len(p) == 0 {
				return nil
			}
		}
		if s.state == scanTrailer {
			return errors.New("binary COPY: data after the trailer")
		}
		if s.state == scanData || s.state == scanExtension {
			k := min(s.need, len(p))
			if s.state == scanData && s.keyIdx >= 0 {
				s.key[s.keyIdx] = append(s.key[s.keyIdx], p[:k]...)
			}
			s.need -= k
			p = p[k:]
			if s.need == 0 {
				if s.state == scanExtension {
					s.state, s.need = scanCount, 2
				} else {
					s.nextField()
				}
			}
			continue
		}
		// A fixed-size part: gather it whole (it may span two writes).
		var part []byte
		if len(s.acc) == 0 && len(p) >= s.need {
			part, p = p[:s.need], p[s.need:]
		} else {
			k := min(s.need-len(s.acc), len(p))
			s.acc = append(s.acc, p[:k]...)
			p = p[k:]
			if len(s.acc) < s.need {
				continue
			}
			part = s.acc
		}
		if err := s.part(part); err != nil {
			return err
		}
		s.acc = s.acc[:0]
	}
	return nil
}

// wholeTuples reads the complete tuples at the start of p (the scanner
// between tuples) and returns how many bytes they took; the rest, a
// partial tuple or the trailer, is left to the state machine.
func (s *tupleScanner) wholeTuples(p []byte) (int, error) {
	done := 0
	for {
		q := p[done:]
		if len(q) < 2 {
			return done, nil
		}
		n := int(int16(binary.BigEndian.Uint16(q)))
		if n < 0 {
			return done, nil // the trailer (or a bad count): the state machine says which
		}
		if n <= s.maxKey {
			return done, fmt.Errorf("binary COPY: a tuple of %d fields", n)
		}
		off := 2
		for f := 0; f < n; f++ {
			if len(q) < off+4 {
				return done, nil
			}
			l := int(int32(binary.BigEndian.Uint32(q[off:])))
			off += 4
			if l < -1 {
				return done, fmt.Errorf("binary COPY: field length %d", l)
			}
			if l > 0 {
				if len(q) < off+l {
					return done, nil
				}
				off += l
			}
		}
		// The tuple is whole: take its key fields.
		s.tuples++
		at := 2
		k := 0
		for f := 0; f < n && k < len(s.keyAt); f++ {
			l := int(int32(binary.BigEndian.Uint32(q[at:])))
			at += 4
			for i, kf := range s.keyAt {
				if kf == f {
					s.null[i] = l < 0
					s.key[i] = append(s.key[i][:0], q[at:at+max(l, 0)]...)
					k++
				}
			}
			at += max(l, 0)
		}
		done += off
	}
}

// part handles a complete fixed-size part of the stream.
func (s *tupleScanner) part(b []byte) error {
	switch s.state {
	case scanHeader:
		if string(b[:len(binarySignature)]) != binarySignature {
			return errors.New("binary COPY: bad signature")
		}
		ext := int(binary.BigEndian.Uint32(b[len(binarySignature)+4:]))
		if ext > 0 {
			s.state, s.need = scanExtension, ext
		} else {
			s.state, s.need = scanCount, 2
		}
	case scanCount:
		n := int16(binary.BigEndian.Uint16(b))
		if n == -1 {
			s.state, s.need = scanTrailer, 0
			return nil
		}
		if int(n) <= s.maxKey {
			return fmt.Errorf("binary COPY: a tuple of %d fields", n)
		}
		s.tuples++
		s.fields, s.field = int(n), -1
		for i := range s.key {
			s.key[i], s.null[i] = s.key[i][:0], false
		}
		s.nextField()
	case scanLength:
		n := int32(binary.BigEndian.Uint32(b))
		if n == -1 {
			if s.keyIdx >= 0 {
				s.null[s.keyIdx] = true
			}
			s.nextField()
			return nil
		}
		if n < 0 {
			return fmt.Errorf("binary COPY: field length %d", n)
		}
		s.state, s.need = scanData, int(n)
		if n == 0 {
			s.nextField()
		}
	}
	return nil
}

// nextField moves to the next field's length, or the next tuple.
func (s *tupleScanner) nextField() {
	s.field++
	if s.field == s.fields {
		s.state, s.need = scanCount, 2
		return
	}
	s.state, s.need, s.keyIdx = scanLength, 4, -1
	for i, at := range s.keyAt {
		if at == s.field {
			s.keyIdx = i
		}
	}
}

func maxKeyAt(at []int) int {
	m := -1
	for _, a := range at {
		m = max(m, a)
	}
	return m
}

// complete reports whether the stream ended with its trailer.
func (s *tupleScanner) complete() bool { return s.state == scanTrailer }

// lastKey decodes the last tuple's key fields into canonical values (nil
// when there was no tuple).
func (s *tupleScanner) lastKey(t *Table) ([]any, error) {
	if s.tuples == 0 {
		return nil, nil
	}
	out := make([]any, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		if s.null[i] {
			return nil, fmt.Errorf("key %s: NULL in a primary key", k)
		}
		c := t.Column(k)
		v, err := decodeBinaryKey(c.Type.Kind, s.key[i])
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", k, err)
		}
		if out[i], err = Canonical(c.Type, v); err != nil {
			return nil, fmt.Errorf("key %s: %w", k, err)
		}
	}
	return out, nil
}

// pgEpoch is where PostgreSQL's binary dates and timestamps count from.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// decodeBinaryKey reads a key value of a literalKind kind in PostgreSQL's
// binary format.
func decodeBinaryKey(k Kind, b []byte) (any, error) {
	bad := func() (any, error) { return nil, fmt.Errorf("%w: %d bytes of binary %s", ErrBadValue, len(b), k) }
	switch k {
	case KindSmallInt, KindInt, KindBigInt:
		switch len(b) {
		case 2:
			return int64(int16(binary.BigEndian.Uint16(b))), nil
		case 4:
			return int64(int32(binary.BigEndian.Uint32(b))), nil
		case 8:
			return int64(binary.BigEndian.Uint64(b)), nil
		}
		return bad()
	case KindDate:
		if len(b) != 4 {
			return bad()
		}
		d := int32(binary.BigEndian.Uint32(b))
		if d == math.MaxInt32 || d == math.MinInt32 {
			return nil, fmt.Errorf("%w: an infinite date cannot be a checkpoint", ErrBadValue)
		}
		return pgEpoch.AddDate(0, 0, int(d)), nil
	case KindTimestamp, KindTimestampTZ:
		if len(b) != 8 {
			return bad()
		}
		us := int64(binary.BigEndian.Uint64(b))
		if us == math.MaxInt64 || us == math.MinInt64 {
			return nil, fmt.Errorf("%w: an infinite timestamp cannot be a checkpoint", ErrBadValue)
		}
		// Through time.Unix: a Duration (±292 years) overflows for dates far from 2000.
		return time.Unix(pgEpoch.Unix()+us/1e6, (us%1e6)*1e3).UTC(), nil
	case KindText, KindVarchar:
		return string(b), nil
	case KindUUID:
		if len(b) != 16 {
			return bad()
		}
		return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
	}
	return nil, fmt.Errorf("%w: %s key in binary COPY", ErrBadValue, k)
}
