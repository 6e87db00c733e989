// Package suggest finds the name a user probably meant: the edit distance
// between two names and the nearest of a list of known names, for the
// "did you mean" in error messages of the spec, the documents and mappings.
package suggest

import (
	"fmt"
	"slices"
	"strings"
)

// Typo is how many edits away a known name may be and still be offered as
// what the user meant.
const Typo = 2

// Distance is the Levenshtein edit distance between a and b (bytes; names
// are ASCII identifiers).
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// Closest returns the known name nearest to got, ignoring case, when it is
// at most maxEdits edits away; "" when none is. Ties go to the
// alphabetically first, so the answer does not depend on the order of known.
func Closest(got string, known []string, maxEdits int) string {
	sorted := slices.Clone(known)
	slices.Sort(sorted)
	best, bestDist := "", maxEdits+1
	lower := strings.ToLower(got)
	for _, k := range sorted {
		if d := Distance(lower, strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// DidYouMean returns ` (did you mean "x"?)` for the known name within Typo
// edits of got, or "" when there is none: ready to append to a message.
func DidYouMean(got string, known []string) string {
	return Phrase(Closest(got, known, Typo))
}

// Phrase returns ` (did you mean "name"?)`, or "" for an empty name.
func Phrase(name string) string {
	if name == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", name)
}
