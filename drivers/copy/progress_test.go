package copy

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/godwit/godwit/datacopy"
)

// Tables past the detail's lines are counted: "1 more table", "2 more
// tables".
func TestDetailCountsTheTablesItLeavesOut(t *testing.T) {
	for hidden, want := range map[int]string{1: "… 1 more table to copy", 2: "… 2 more tables to copy"} {
		var p datacopy.Progress
		for i := range detailTables + hidden {
			p.Tables = append(p.Tables, datacopy.TableProgress{Table: fmt.Sprintf("t%d", i), Total: 10})
		}
		assert.Contains(t, Detail(p), want)
	}
}
