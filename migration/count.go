package migration

import (
	"fmt"
	"strings"
)

// Count writes n and the noun, plural unless n is 1: "1 table", "3 tables",
// "2 batches". Summaries, reports and the CLI count with it, so none says
// "1 tables". The noun's last word takes the plural ("2 foreign keys").
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %s", n, Plural(noun))
}

// Plural is noun's plural, by the English rule for the nouns Godwit
// counts: -s, or -es after s, x, z, ch and sh ("batches", "indexes").
func Plural(noun string) string {
	for _, end := range []string{"s", "x", "z", "ch", "sh"} {
		if strings.HasSuffix(noun, end) {
			return noun + "es"
		}
	}
	return noun + "s"
}

// SummaryNames is how many names a phase summary lists before it says how
// many more there are: a summary is one line of `godwit status`, and the
// tables of a 300-table migration made it several screens long.
const SummaryNames = 12

// Names joins names with ", ", at most max of them, then "and N more":
// "a, b, c and 297 more".
func Names(names []string, max int) string {
	if max <= 0 || len(names) <= max {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:max], ", "), len(names)-max)
}

// StepWords is how a phase's step reads after the phase: "step 2 of 5"
// for a phase run as steps, but a fan-out's progress as it is ("148 of
// 300 units done, 8 running", not "step 148 of 300 units done").
func StepWords(step string) string {
	if strings.Contains(step, " units done") {
		return step
	}
	return "step " + step
}
