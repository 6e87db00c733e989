package cutover

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// One change and one object are singular in a cut-over's summaries ("1
// changes applied", "(1 objects)" before); more are plural.
func TestSummariesCountInTheSingularForOne(t *testing.T) {
	one := moved{held: 20 * time.Millisecond, early: 1}
	assert.Contains(t, one.cutOverSummary("users", "triggers"), "writes held for 20ms, 1 change applied in the catch-up (1 before the hold)")
	assert.Contains(t, one.backOnLegacySummary("users", "new", 1), "1 change made on new applied to legacy (1 before the hold, 0 while writes were held); reverse capture removed from new (1 object)")

	many := moved{early: 1000, applied: 234}
	assert.Contains(t, many.cutOverSummary("users", "triggers"), "1,234 changes applied in the catch-up")
	assert.Contains(t, many.backOnLegacySummary("users", "new", 5), "1,234 changes made on new applied to legacy (1000 before the hold, 234 while writes were held); reverse capture removed from new (5 objects)")
}
