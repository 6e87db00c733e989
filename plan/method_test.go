package plan_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/compat"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
	. "github.com/godwit/godwit/plan"
)

// The Migration Architect method's sample descriptions, as shipped (see
// docread/testdata/method/README.md).
const (
	methodDatabase = "../docread/testdata/method/assets/sample_database_migration.json"
	methodService  = "../docread/testdata/method/assets/sample_service_migration.json"
)

func TestMethodSampleDescriptionsLoadAsShipped(t *testing.T) {
	for _, path := range []string{methodDatabase, methodService} {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		for name, doc := range map[string][]byte{"as shipped": data, "with a byte-order mark": append([]byte("\xef\xbb\xbf"), data...)} {
			d, err := ParseDescription(path, doc)
			require.NoError(t, err, "%s %s", path, name)
			for _, w := range d.Warnings {
				assert.NotContains(t, w, "unknown field", "every field of the method's format is known")
			}
		}
	}
	d, err := LoadDescription(methodService)
	require.NoError(t, err)
	assert.Equal(t, 1500, d.ServiceDetails.NewService.TargetPerformance["requests_per_second"])
}

func TestUnknownDescriptionFieldIsAWarningInThePlan(t *testing.T) {
	d, err := ParseDescription("d.yaml", []byte("type: service\nowner_team: identity\nmigration_phases:\n  - {phase: preparation, estimated_duration_hours: 1, risk: low}\n"))
	require.NoError(t, err, "a field Godwit does not use must not stop a description")
	require.Len(t, d.Warnings, 2)
	assert.Contains(t, d.Warnings[0], "d.yaml: owner_team (line 2): unknown field")
	assert.Contains(t, d.Warnings[1], "migration_phases[0].risk (line 4): unknown field")
	p := FromDescription(d, Options{})
	assert.Contains(t, p.Warnings, d.Warnings[0], "the plan shows the warnings")
}

func TestPlanAgreesWithCheckCompatOnTheMethodSample(t *testing.T) {
	d, err := LoadDescription(methodDatabase)
	require.NoError(t, err)
	p := FromDescription(d, Options{})
	var breaking []string
	for _, f := range p.RiskFactors {
		if f.Factor == FactorBreakingChanges {
			breaking = append(breaking, f.Detail)
		}
	}
	require.Len(t, breaking, 1)
	assert.Contains(t, breaking[0], "user_profiles: add_constraint bio_length_check", "check-compat calls an added check breaking")
	assert.NotContains(t, breaking[0], "modify_column", "bio varchar(255) -> text is a widening: check-compat calls it non_breaking")
	assert.NotContains(t, breaking[0], "add_column", "nullable columns are additive")
}

func TestDataVolumeConflictIsAWarning(t *testing.T) {
	d, err := LoadDescription(methodDatabase)
	require.NoError(t, err)
	// The tables add up to 5340 MB (5.2 GB); data_volume_gb says 2500.
	require.Len(t, d.Warnings, 1)
	assert.Contains(t, d.Warnings[0], "constraints.data_volume_gb is 2500 GB but tables_to_migrate's size_mb add up to 5.2 GB")
	p := FromDescription(d, Options{})
	assert.Contains(t, p.Warnings, d.Warnings[0])
	for _, ph := range p.Phases {
		if ph.Kind == migration.PhaseCopy {
			assert.Equal(t, "5340 MB at 22.0 MB/s", ph.EstimateBasis, "the tables' sizes win")
		}
	}

	// Without table sizes, data_volume_gb is the volume, and no warning.
	d, err = ParseDescription("d.yaml", []byte("type: database\nconstraints: {data_volume_gb: 2500}\ntables_to_migrate: [{name: users, row_count: 10}]\n"))
	require.NoError(t, err)
	assert.Empty(t, d.Warnings)
	p = FromDescription(d, Options{})
	for _, ph := range p.Phases {
		if ph.Kind == migration.PhaseCopy {
			assert.Equal(t, "2560000 MB at 22.0 MB/s", ph.EstimateBasis)
		}
	}
	assert.Equal(t, "large_volume", p.RiskFactors[0].Factor)
}

func TestInitKeepsTheMethodSampleOrder(t *testing.T) {
	d, err := LoadDescription(methodService)
	require.NoError(t, err)
	out, err := InitSpec(d, Options{})
	require.NoError(t, err)
	spec, err := config.ParseSpec(fillPlaceholders(out))
	require.NoError(t, err, string(out))
	var got []string
	for _, p := range spec.Phases {
		got = append(got, p.Name+":"+string(p.Phase))
	}
	// preparation, intercept, gradual_migration, validation, decommission:
	// validation stays after the traffic moved (as a reconcile, which may
	// come there) instead of being moved first.
	assert.Equal(t, []string{
		"provision:provision", "intercept:shift-traffic", "gradual_migration:shift-traffic",
		"reconcile:reconcile", "decommission:decommission",
	}, got)
	assert.Contains(t, string(out), "validation: estimated 24.0h")
	assert.Contains(t, string(out), "runs as reconcile, not validate")
}

func TestLongNamesAreShortenedWithAHash(t *testing.T) {
	long := strings.Repeat("a", 60)
	d1, err := ParseDescription("d.yaml", []byte("type: database\nname: "+long+"-first\n"))
	require.NoError(t, err)
	d2, err := ParseDescription("d.yaml", []byte("type: database\nname: "+long+"-second\n"))
	require.NoError(t, err)
	n1, n2 := FromDescription(d1, Options{}).Name, FromDescription(d2, Options{}).Name
	assert.Len(t, n1, 63)
	assert.Regexp(t, `^a{54}-[0-9a-f]{8}$`, n1)
	assert.NotEqual(t, n1, n2, "two long names that share their start stay distinct")
	d, err := LoadDescription(methodDatabase)
	require.NoError(t, err)
	n := FromDescription(d, Options{}).Name
	assert.LessOrEqual(t, len(n), 63)
	assert.Regexp(t, `^postgresql-13-production-database-to-postgresql-15-clo-[0-9a-f]{8}$`, n)
}

func TestRunbookTicksBreakingOnlyWithAReportAndCarriesItsRollbackSQL(t *testing.T) {
	d, err := LoadDescription(methodService)
	require.NoError(t, err)
	d.ServiceDetails = nil // no missing endpoints: only the report speaks of breaking changes
	before, err := compat.LoadSchema("../docread/testdata/method/assets/database_schema_before.json")
	require.NoError(t, err)
	after, err := compat.LoadSchema("../docread/testdata/method/assets/database_schema_after.json")
	require.NoError(t, err)

	without := FromDescription(d, Options{}).Runbook()
	assert.Contains(t, without, "- [ ] no breaking change left unacknowledged (no check-compat report was given", "nothing shows it without a report")
	assert.NotContains(t, without, "Schema rollback SQL")

	clean := FromDescription(d, Options{Compat: []*compat.Report{compat.CompareSchemas(before, before, compat.Options{Before: "a.json", After: "a.json"})}}).Runbook()
	assert.Contains(t, clean, "- [x] no breaking change left unacknowledged (checked by check-compat: schema comparison a.json → a.json)")

	r := compat.CompareSchemas(before, after, compat.Options{Before: "before.json", After: "after.json"})
	rb := FromDescription(d, Options{Compat: []*compat.Report{r}}).Runbook()
	assert.Contains(t, rb, "- [ ] no breaking change left unacknowledged (checked by check-compat")
	assert.Contains(t, rb, "## Schema rollback SQL (schema comparison before.json → after.json)")
	assert.Contains(t, rb, "```sql\nDROP TABLE user_preferences;")
	assert.Contains(t, rb, "- Precheck (rows the rollback would fail on or cut; 0 means safe): `SELECT count(*) FROM user_profiles WHERE char_length(bio) > 255;`")
	assert.Contains(t, rb, "**Data loss:**")
	// The rollbacks come in reverse order: the last forward step first.
	first := strings.Index(rb, "### Undo ")
	require.Positive(t, first)
	assert.Contains(t, rb[first:], fmt.Sprintf("### Undo %d:", len(r.MigrationScripts)))
	assert.Less(t, strings.Index(rb, fmt.Sprintf("### Undo %d:", len(r.MigrationScripts))), strings.Index(rb, "### Undo 1:"))
}
