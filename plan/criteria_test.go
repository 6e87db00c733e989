package plan_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/config"
	_ "github.com/godwit/godwit/drivers" // the spec sections of every driver
	"github.com/godwit/godwit/plan"
)

// Each phase's success criterion fits what its driver does: the kind
// alone gave a capture's setup (a provision phase) "the target exists and
// answers its health check", a replication's catch-up (a copy phase) the
// row counts of a copy and its stop (a decommission) the retirement of the
// legacy side.
func TestSuccessCriteriaFitTheirPhase(t *testing.T) {
	for _, tc := range []struct {
		example string
		want    map[string]string // phase name → a criterion it must have
	}{
		{"cdc-demo.yaml", map[string]string{
			"provision":        "the tables customers, order_* of legacy exist in new with their columns and primary keys",
			"capture":          "change capture of customers, order_* is set up on legacy: every change to them from here on is kept for new",
			"copy":             "every table is copied: target row counts equal source row counts",
			"replicate":        "new is caught up with legacy on customers, order_*: the replication lag stays under 2s for 3s",
			"stop-replication": "the capture is gone from legacy: no replication slot, publication, changelog table or capture trigger of this migration is left",
		}},
		// A mapped provision creates the tables under their target names and
		// shapes (a trial's plan said "the tables invoice_line ... of legacy
		// exist in new with their columns", where new has SalesLine).
		{"mapping.yaml", map[string]string{
			"provision": "the tables of mapping shop exist in new as it maps them (audit_* → Audit*, customer_account → CustomerAccount, order_line → SalesLine): renamed, with their computed and cast columns and without the dropped ones, each with its primary key",
			// and a filtered table has fewer rows on the target than on the source
			"copy": "every table is copied: target row counts equal source row counts, counting on the source only the rows the mapping's filters carry (order_line: quantity > 0)",
		}},
		{"expand-contract.yaml", map[string]string{
			"expand":   "writes to users keep its old and new columns in step (dual-write trigger in place)",
			"backfill": "every row of users that matched email_address IS NULL in app has email_address set",
			"contract": "the dual-write triggers on users are removed",
		}},
	} {
		t.Run(tc.example, func(t *testing.T) {
			spec, err := config.LoadSpec(filepath.Join("..", "examples", tc.example))
			require.NoError(t, err)
			p := plan.FromSpec(spec, plan.Options{})
			got := map[string][]string{}
			for i, ph := range p.Phases {
				got[spec.Phases[i].Name] = ph.SuccessCriteria
			}
			for name, want := range tc.want {
				assert.Contains(t, got[name], want, "phase %s", name)
				assert.NotContains(t, got[name], "the target exists and answers its health check", "phase %s", name)
			}
		})
	}
}
