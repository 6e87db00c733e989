package reconcile

import (
	"crypto/md5"
	"encoding/binary"
	"hash"
	"hash/crc32"
	"math/big"
	"math/bits"
)

// hashKind is how a row's canonical text becomes its 64-bit hash; both
// sides of a check use the same one.
type hashKind int

const (
	// hashMD5 is the first 60 bits of MD5: PostgreSQL, MySQL and Go all
	// have it.
	hashMD5 hashKind = iota
	// hashCRC is CRC-32 × CRC-32C of the text (crcHash). MariaDB computes
	// both in C for half what MD5 and its hex conversion cost; PostgreSQL
	// (no CRC before version 18) renders the text and Go hashes it, which
	// costs less than PostgreSQL's own md5.
	hashCRC
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crcHash is the row hash of hashCRC: the product of the text's CRC-32
// and CRC-32C. A CRC is affine over GF(2): had the two been concatenated
// and combined by exclusive or, two rows that swap values of the same
// length (status 'paid' and 'void') would leave the range's checksum
// unchanged. The product is not linear, so they do not; two independent
// polynomials keep collisions near 2^-60 like MD5's 60 bits.
func crcHash(b []byte) uint64 {
	return uint64(crc32.ChecksumIEEE(b)) * uint64(crc32.Checksum(b, castagnoli))
}

// md5Writer hashes a row's canonical text.
type md5Writer struct{ h hash.Hash }

func newMD5() md5Writer { return md5Writer{h: md5.New()} }

func (w md5Writer) WriteString(s string) { _, _ = w.h.Write([]byte(s)) }

// sum60 is the first 15 hex digits of the digest as an integer, as
// ('x' || substr(md5(t), 1, 15))::bit(60)::bigint computes it.
func (w md5Writer) sum60() uint64 {
	var d [md5.Size]byte
	return binary.BigEndian.Uint64(w.h.Sum(d[:0])[:8]) >> 4
}

// checksum is a range's row count and the exact sum of its row hashes, as
// both sides compute it (the sum in decimal, as the databases return it).
type checksum struct {
	Count int64
	Sum   string
}

// acc sums 60-bit hashes without overflow (128 bits hold 2^68 rows), or
// with xor set combines them by exclusive or, as BIT_XOR does.
type acc struct {
	n      int64
	hi, lo uint64
	xor    bool
}

func (a *acc) add(h uint64) {
	a.n++
	if a.xor {
		a.lo ^= h
		return
	}
	var carry uint64
	a.lo, carry = bits.Add64(a.lo, h, 0)
	a.hi += carry
}

// merge adds b's rows to a, as if each had been added to a.
func (a *acc) merge(b acc) {
	a.n += b.n
	if a.xor {
		a.lo ^= b.lo
		return
	}
	var carry uint64
	a.lo, carry = bits.Add64(a.lo, b.lo, 0)
	a.hi += b.hi + carry
}

func (a *acc) checksum() checksum {
	v := new(big.Int).SetUint64(a.hi)
	v.Lsh(v, 64)
	v.Or(v, new(big.Int).SetUint64(a.lo))
	return checksum{Count: a.n, Sum: v.String()}
}
