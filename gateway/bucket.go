package gateway

import (
	"encoding/binary"
	"math/bits"
)

// Bucket returns the request's bucket, 1..100, for key on route. It is the
// Unleash normalisedValue: murmur3 32-bit, seed 0, over route + ":" + key,
// then % 100 + 1. The same key always lands in the same bucket (across
// restarts and gateway replicas), so a user on new at 5% is still on new at
// 25%: new is chosen when bucket <= weight, a set that only grows with the
// weight.
func Bucket(route, key string) int {
	// Built in a stack buffer: no allocation per request for usual keys.
	var buf [128]byte
	b := append(buf[:0], route...)
	b = append(b, ':')
	b = append(b, key...)
	return int(murmur3Sum32(b, 0)%100) + 1
}

// bucketBytes is Bucket for a key in bytes (the gateway's own request loop).
func bucketBytes(route string, key []byte) int {
	var buf [128]byte
	b := append(buf[:0], route...)
	b = append(b, ':')
	b = append(b, key...)
	return int(murmur3Sum32(b, 0)%100) + 1
}

// OnNew reports whether key goes to the new side of route at weight (0..100).
func OnNew(route, key string, weight int) bool {
	return Bucket(route, key) <= weight
}

// murmur3Sum32 is MurmurHash3 x86 32-bit. github.com/spaolacci/murmur3 is
// the reference (the tests compare the two over many keys), but its
// Sum32WithSeed reads blocks through unsafe pointer arithmetic that Go's
// checkptr rejects under -race, and in native byte order (wrong on
// big-endian machines); this version reads little-endian, as the algorithm
// and Unleash's JavaScript define it, and allocates nothing.
func murmur3Sum32(data []byte, seed uint32) uint32 {
	const c1, c2 = 0xcc9e2d51, 0x1b873593
	h := seed
	n := len(data) / 4 * 4
	for i := 0; i < n; i += 4 {
		k := binary.LittleEndian.Uint32(data[i:])
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
		h = bits.RotateLeft32(h, 13)
		h = h*5 + 0xe6546b64
	}
	var k uint32
	switch tail := data[n:]; len(tail) {
	case 3:
		k ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		k ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		k ^= uint32(tail[0])
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
	}
	h ^= uint32(len(data))
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}
