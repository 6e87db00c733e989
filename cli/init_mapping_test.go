package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/config"
)

// fillStores answers the stores' placeholders of a spec godwit init wrote,
// as a person would.
func fillStores(spec string) string {
	spec = regexp.MustCompile(`engine: '?TODO\(godwit init\)[^\n]*`).ReplaceAllString(spec, "engine: postgres")
	return regexp.MustCompile(`fromEnv: '?TODO\(godwit init\)[^\n]*`).ReplaceAllString(spec, "fromEnv: SOME_DSN")
}

func TestInitProposesAMappingFromTheMethodsSchemaPair(t *testing.T) {
	before, after := method(t, "database_schema_before.json"), method(t, "database_schema_after.json")
	out, stderr, err := godwit(t, noDial(t), "init", "--before", before, "--after", after)
	require.NoError(t, err, stderr)
	assert.Contains(t, stderr, "stores.legacy.engine", "the stores are the only fields left to fill")
	assert.NotContains(t, stderr, "mappings.", "nothing in the mapping needs a person's answer")

	s, err := config.ParseSpec([]byte(fillStores(out)))
	require.NoError(t, err, "the proposal is a valid spec once its placeholders are filled:\n%s", out)
	m, ok := s.Mappings["schema"]
	require.True(t, ok, "the mapping is named schema")
	assert.Equal(t, "", m.Names, "the pair keeps its names")
	assert.Equal(t, "text", m.Tables["user_profiles"].Cast["bio"].Type)
	assert.Equal(t, "NULL", m.Tables["users"].Add["email_verified_at"].Expr)
	assert.Equal(t, "FALSE", m.Tables["users"].Add["two_factor_enabled"].Expr)
	assert.NotContains(t, m.Tables, "user_preferences", "a new table is not carried")
	assert.Contains(t, out, "# New in the after schema, not written by this mapping (create them with a migration of their own): user_preferences")
	for _, ph := range []string{"provision", "copy", "reconcile"} {
		assert.Contains(t, out, ph+":\n      mapping: schema")
	}
}

func TestInitLeavesWhatItCannotGuessToValidate(t *testing.T) {
	dir := t.TempDir()
	before, after := filepath.Join(dir, "before.yaml"), filepath.Join(dir, "after.yaml")
	require.NoError(t, os.WriteFile(before, []byte(`tables:
  customer_account:
    columns:
      account_id: {type: bigint, primary_key: true}
      first_note: {type: varchar, length: 50}
      unit_price: {type: "decimal(10,2)"}
`), 0o600))
	require.NoError(t, os.WriteFile(after, []byte(`tables:
  CustomerAccount:
    columns:
      AccountId: {type: bigint, primary_key: true}
      NoteA: {type: varchar, length: 50}
      NoteB: {type: varchar, length: 50}
      Price: {type: "decimal(10,2)"}
      Weight: {type: integer, nullable: false}
`), 0o600))
	out, stderr, err := godwit(t, noDial(t), "init", "--before", before, "--after", after)
	require.NoError(t, err, stderr)
	assert.Contains(t, out, "names: PascalCase")
	assert.Contains(t, out, "unit_price: Price # TODO(godwit init): confirm: unit_price is gone and Price appeared, both decimal(10,2)")

	_, err = config.ParseSpec([]byte(fillStores(out)))
	require.Error(t, err, "an ambiguous rename and a NOT NULL column with no value are questions for a person")
	msg := err.Error()
	assert.Contains(t, msg, "mappings.schema.tables.customer_account.columns.first_note (line")
	assert.Contains(t, msg, "is still a placeholder written by godwit init: fill in the new name of first_note (varchar(50)): one of NoteA, NoteB, or move first_note to drop:")
	assert.Contains(t, msg, "mappings.schema.tables.customer_account.add.Weight.expr (line")
	assert.Equal(t, 2, strings.Count(msg, "is still a placeholder"), "nothing else is refused: %s", msg)

	answered := regexp.MustCompile(`expr: '?TODO\(godwit init\): an SQL expression over the source row giving Weight[^']*',`).ReplaceAllString(fillStores(out), `expr: "0",`)
	answered = regexp.MustCompile(`first_note: '?TODO\(godwit init\)[^\n]*`).ReplaceAllString(answered, "first_note: NoteA")
	answered = regexp.MustCompile(`\n\s+NoteA: \{[^\n]*`).ReplaceAllString(answered, "")
	_, err = config.ParseSpec([]byte(answered))
	require.NoError(t, err, "answered:\n%s", answered)
}

func TestInitWantsBeforeAndAfterTogether(t *testing.T) {
	before := method(t, "database_schema_before.json")
	_, _, err := godwit(t, noDial(t), "init", "--before", before)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--before and --after go together")
	_, _, err = godwit(t, noDial(t), "init")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "give --description FILE (a migration description) or --before A.json --after B.json")
}

func TestInitPutsTheMappingIntoADescribedMigration(t *testing.T) {
	before, after := method(t, "database_schema_before.json"), method(t, "database_schema_after.json")
	out, stderr, err := godwit(t, noDial(t), "init", "--description", method(t, "sample_database_migration.json"), "--before", before, "--after", after)
	require.NoError(t, err, stderr)
	assert.Contains(t, out, "mappings:\n  schema:\n    from: legacy")
	assert.Contains(t, out, "copy:\n      mapping: schema")
	assert.NotContains(t, out, "copy:\n      from: legacy", "the mapping replaces the tables list")
}

// Descriptions that say their database (schema export writes it) give the
// stores their engines: only the DSN variables are left to fill in.
func TestInitTakesTheEnginesFromTheDescriptions(t *testing.T) {
	dir := t.TempDir()
	before, after := filepath.Join(dir, "before.json"), filepath.Join(dir, "after.json")
	require.NoError(t, os.WriteFile(before, []byte(`{"database": "sqlite", "tables": {"Customer": {"columns": {"CustomerId": {"type": "integer", "nullable": false}}, "constraints": {"primary_key": ["CustomerId"]}}}}`), 0o600))
	require.NoError(t, os.WriteFile(after, []byte(`{"database": "postgres", "tables": {"customer": {"columns": {"customer_id": {"type": "integer", "nullable": false}}, "constraints": {"primary_key": ["customer_id"]}}}}`), 0o600))
	out, stderr, err := godwit(t, noDial(t), "init", "--before", before, "--after", after)
	require.NoError(t, err, stderr)
	assert.NotContains(t, stderr, "stores.legacy.engine", "the before description says sqlite")
	assert.NotContains(t, stderr, "stores.new.engine", "the after description says postgres")
	assert.Contains(t, stderr, "stores.legacy.dsn.fromEnv", "the DSN variable is still a person's answer")
	s, err := config.ParseSpec([]byte(fillStores(out)))
	require.NoError(t, err, out)
	assert.Equal(t, "sqlite", string(s.Stores["legacy"].Engine))
	assert.Equal(t, "postgres", string(s.Stores["new"].Engine))
}
