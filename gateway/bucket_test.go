package gateway

import (
	"strconv"
	"testing"

	"github.com/spaolacci/murmur3"
)

func TestBucketMatchesUnleashVectors(t *testing.T) {
	cases := []struct {
		name       string
		group, key string
		want       int
	}{
		{"unleash vector gr1:123", "gr1", "123", 73},
		{"unleash vector groupX:999", "groupX", "999", 25},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Bucket(c.group, c.key); got != c.want {
				t.Fatalf("Bucket(%q, %q) = %d, want %d", c.group, c.key, got, c.want)
			}
		})
	}
}

func TestBucketRaisingWeightKeepsEveryoneOnNew(t *testing.T) {
	weights := []int{0, 1, 5, 25, 50, 75, 100}
	for i := 0; i < 20000; i++ {
		key := "user-" + strconv.Itoa(i)
		wasNew := false
		for _, w := range weights {
			on := OnNew("users", key, w)
			if wasNew && !on {
				t.Fatalf("key %s left new when the weight rose to %d", key, w)
			}
			wasNew = on
		}
		if !OnNew("users", key, 100) || OnNew("users", key, 0) {
			t.Fatalf("key %s: weight 100 must mean new and 0 legacy", key)
		}
	}
}

func TestBucketProportionWithinOnePoint(t *testing.T) {
	const keys = 100000
	for _, w := range []int{1, 5, 25, 50, 99} {
		onNew := 0
		for i := 0; i < keys; i++ {
			if OnNew("checkout", strconv.Itoa(i), w) {
				onNew++
			}
		}
		got := float64(onNew) * 100 / keys
		if got < float64(w)-1 || got > float64(w)+1 {
			t.Errorf("weight %d: %.2f%% of %d keys on new, want within 1 point", w, got, keys)
		}
	}
}

func TestBucketDependsOnRoute(t *testing.T) {
	// The route is part of the hash so that the same users are not always
	// the first to move on every route.
	same := 0
	for i := 0; i < 1000; i++ {
		k := strconv.Itoa(i)
		if Bucket("a", k) == Bucket("b", k) {
			same++
		}
	}
	if same > 50 {
		t.Fatalf("%d of 1000 keys share a bucket across routes, want about 10", same)
	}
}

func TestMurmur3MatchesReferenceLibrary(t *testing.T) {
	inputs := []string{"", "a", "ab", "abc", "abcd", "abcde", "users:user-42", "gr1:123"}
	for i := 0; i < 5000; i++ {
		inputs = append(inputs, "route-"+strconv.Itoa(i%7)+":"+strconv.Itoa(i*7919))
	}
	for _, in := range inputs {
		// The streaming API over a fresh heap slice stays aligned, which
		// checkptr (on under -race) requires of the library's block reads.
		h := murmur3.New32WithSeed(0)
		_, _ = h.Write(append([]byte(nil), in...))
		if got, want := murmur3Sum32([]byte(in), 0), h.Sum32(); got != want {
			t.Fatalf("murmur3(%q) = %d, reference %d", in, got, want)
		}
	}
}
