package migration

import "fmt"

// Count writes n and the noun, plural unless n is 1: "1 table", "3 tables".
// Summaries, reports and the CLI count with it, so none says "1 tables".
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
