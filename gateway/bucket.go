package gateway

import "github.com/spaolacci/murmur3"

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
	return int(murmur3.Sum32WithSeed(b, 0)%100) + 1
}

// OnNew reports whether key goes to the new side of route at weight (0..100).
func OnNew(route, key string, weight int) bool {
	return Bucket(route, key) <= weight
}
