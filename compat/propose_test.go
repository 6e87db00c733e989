package compat

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/godwit/godwit/mapping"
)

func schema(t *testing.T, doc string) *Schema {
	t.Helper()
	s, err := ParseSchema("schema.yaml", []byte(doc))
	require.NoError(t, err)
	return s
}

// A snake_case schema moved to PascalCase with a table renamed, a column
// renamed, one that could have become either of two, one dropped, new
// ones with and without a value, and a type widened.
const proposeBefore = `
tables:
  order_line:
    columns:
      order_line_id: {type: bigint, primary_key: true}
      unit_price: {type: "decimal(10,2)"}
      legacy_note: {type: text}
      qty: {type: integer}
      sku: {type: varchar, length: 20}
  customer_account:
    columns:
      account_id: {type: bigint, primary_key: true}
      first_note: {type: varchar, length: 50}
  audit_entry:
    columns:
      entry_id: {type: bigint, primary_key: true}
      body: {type: text}
  old_only:
    columns:
      id: {type: bigint, primary_key: true}
`

const proposeAfter = `
tables:
  OrderLine:
    columns:
      OrderLineId: {type: bigint, primary_key: true}
      Price: {type: "decimal(10,2)"}
      Qty: {type: integer}
      Sku: {type: varchar, length: 40}
      Currency: {type: "char(3)", nullable: false, default: EUR}
      Weight: {type: integer, nullable: false}
      ShippedAt: {type: timestamp}
  CustomerAccount:
    columns:
      AccountId: {type: bigint, primary_key: true}
      NoteA: {type: varchar, length: 50}
      NoteB: {type: varchar, length: 50}
  AuditLog:
    columns:
      EntryId: {type: bigint, primary_key: true}
      Body: {type: text}
  Brand_New:
    columns:
      Id: {type: bigint, primary_key: true}
      Name: {type: text}
`

func TestProposeMappingInfersRulesRenamesDropsAddsAndCasts(t *testing.T) {
	p := ProposeMapping(schema(t, proposeBefore), schema(t, proposeAfter))
	assert.Equal(t, mapping.RulePascal, p.Names, "most names follow PascalCase")
	assert.Equal(t, []string{"old_only"}, p.Gone)
	assert.Equal(t, []string{"Brand_New"}, p.New)
	byName := map[string]ProposedTable{}
	for _, pt := range p.Tables {
		byName[pt.Source] = pt
	}
	require.Len(t, byName, 3)

	audit := byName["audit_entry"]
	assert.Equal(t, "AuditLog", audit.Target, "gone and appeared with the same columns: renamed")
	assert.Contains(t, audit.TargetNote, "confirm")

	line := byName["order_line"]
	assert.Equal(t, "OrderLine", line.Target)
	assert.Empty(t, line.TargetNote, "the names rule names it")
	assert.Equal(t, []ProposedRename{{From: "unit_price", To: "Price", Type: "decimal(10,2)"}}, line.Renames, "the only decimal gone and the only one appeared")
	assert.Equal(t, []string{"legacy_note"}, line.Drop, "no text column appeared")
	assert.Equal(t, []ProposedAdd{
		{Name: "Currency", Type: "char(3)", Expr: "'EUR'"},
		{Name: "ShippedAt", Type: "timestamp", Expr: "NULL"},
		{Name: "Weight", Type: "integer"},
	}, line.Add, "a constant default, NULL when nullable, nothing a person must write")
	assert.Equal(t, []ProposedCast{{Column: "sku", From: "varchar(20)", To: "varchar(40)", Change: TypeWidened}}, line.Cast)

	acct := byName["customer_account"]
	require.Len(t, acct.Renames, 1)
	assert.Equal(t, "first_note", acct.Renames[0].From)
	assert.Empty(t, acct.Renames[0].To, "two varchar(50) appeared: ambiguous")
	assert.Equal(t, []string{"NoteA", "NoteB"}, acct.Renames[0].Candidates)
	require.Len(t, acct.Add, 2, "both candidates stay proposed as adds until a person chooses")
	assert.Contains(t, acct.Add[0].Note, "first_note")
}

func TestProposedMappingIsAMappingSpec(t *testing.T) {
	p := ProposeMapping(schema(t, proposeBefore), schema(t, proposeAfter))
	data, err := yaml.Marshal(p.YAML("legacy", "new"))
	require.NoError(t, err)
	var s mapping.Spec
	require.NoError(t, yaml.Unmarshal(data, &s), "%s", data)
	assert.Equal(t, "PascalCase", s.Names)
	assert.Equal(t, "AuditLog", s.Tables["audit_entry"].To)
	line := s.Tables["order_line"]
	assert.Equal(t, map[string]string{"unit_price": "Price"}, line.Columns)
	assert.Equal(t, "NULL", line.Add["ShippedAt"].Expr, "NULL is the text of an expression, not YAML's null")
	assert.Contains(t, line.Add["Weight"].Expr, "TODO(godwit init)", "a value only a person can write is a placeholder")
	assert.Equal(t, "varchar(40)", line.Cast["sku"].Type)
	assert.Contains(t, s.Tables["customer_account"].Columns["first_note"], "TODO(godwit init): the new name of first_note (varchar(50)): one of NoteA, NoteB")
	assert.Contains(t, string(data), "unit_price: Price # TODO(godwit init): confirm: unit_price is gone and Price appeared, both decimal(10,2)")
}

func TestProposeMappingKeepsAsIsWhenNamesAreUnchanged(t *testing.T) {
	s := schema(t, proposeBefore)
	p := ProposeMapping(s, s)
	assert.Equal(t, "", p.Names)
	for _, pt := range p.Tables {
		assert.Equal(t, pt.Source, pt.Target)
		assert.Empty(t, pt.Renames)
		assert.Empty(t, pt.Add)
		assert.Empty(t, pt.Drop)
		assert.Empty(t, pt.Cast)
	}
}

// A table renamed whose columns changed too (Chinook's invoice_line
// became SalesLine with unit_price renamed Price and LineTotal added) is
// paired by its primary key and most of its columns, not reported gone
// with its successor "new, create it with a migration of its own"; two
// tables that share only a key name stay apart.
func TestProposeMappingPairsARenamedTableWhoseColumnsChanged(t *testing.T) {
	before := schema(t, `
tables:
  invoice_line:
    columns:
      invoice_line_id: {type: integer, primary_key: true}
      invoice_id: {type: integer}
      track_id: {type: integer}
      unit_price: {type: "decimal(10,2)"}
      quantity: {type: integer}
  old_only:
    columns:
      id: {type: bigint, primary_key: true}
      note: {type: text}
`)
	after := schema(t, `
tables:
  SalesLine:
    columns:
      InvoiceLineId: {type: integer, primary_key: true}
      InvoiceId: {type: integer}
      TrackId: {type: integer}
      Price: {type: "decimal(10,2)"}
      Quantity: {type: integer}
      LineTotal: {type: "decimal(12,2)"}
  BrandNew:
    columns:
      Id: {type: bigint, primary_key: true}
      Label: {type: text}
`)
	p := ProposeMapping(before, after)
	assert.Equal(t, []string{"old_only"}, p.Gone, "only the key name in common: not a rename")
	assert.Equal(t, []string{"BrandNew"}, p.New)
	var line *ProposedTable
	for i := range p.Tables {
		if p.Tables[i].Source == "invoice_line" {
			line = &p.Tables[i]
		}
	}
	require.NotNil(t, line, "invoice_line is proposed: %+v", p)
	assert.Equal(t, "SalesLine", line.Target)
	assert.Contains(t, line.TargetNote, "confirm: invoice_line is gone and SalesLine appeared with the same primary key")
	assert.Equal(t, []ProposedRename{{From: "unit_price", To: "Price", Type: "decimal(10,2)"}}, line.Renames)
	require.Len(t, line.Add, 1)
	assert.Equal(t, "LineTotal", line.Add[0].Name)
}

// A column renamed into a wider type (Chinook's track.milliseconds
// integer became DurationMs bigint) is proposed as a rename with a cast,
// not as a dropped column and an added one whose value a person must
// write; a narrower or converted type is not guessed.
func TestProposeMappingRenamesAColumnWhoseTypeWidened(t *testing.T) {
	before := schema(t, `
tables:
  track:
    columns:
      track_id: {type: integer, primary_key: true}
      milliseconds: {type: integer, nullable: false}
      label: {type: varchar, length: 40}
`)
	after := schema(t, `
tables:
  Track:
    columns:
      TrackId: {type: integer, primary_key: true}
      DurationMs: {type: bigint, nullable: false}
      Title: {type: varchar, length: 20}
`)
	p := ProposeMapping(before, after)
	require.Len(t, p.Tables, 1)
	tr := p.Tables[0]
	assert.Equal(t, []ProposedRename{{From: "milliseconds", To: "DurationMs", Type: "integer", ToType: "bigint"}}, tr.Renames)
	assert.Equal(t, []ProposedCast{{Column: "milliseconds", From: "integer", To: "bigint", Change: TypeWidened}}, tr.Cast)
	assert.Equal(t, []string{"label"}, tr.Drop, "varchar(40) into varchar(20) narrows: not guessed")
	out, err := yaml.Marshal(p.YAML("legacy", "new"))
	require.NoError(t, err)
	assert.Contains(t, string(out), "milliseconds: DurationMs # TODO(godwit init): confirm: milliseconds is gone and DurationMs appeared, integer widened to bigint")
}

// Two dropped columns that both widen into one new column (Chinook's
// track.bytes and track.milliseconds, both integer, and DurationMs bigint)
// are not guessed between, but the new column's add says which they are.
func TestProposeMappingNamesTheColumnsThatMayHaveWidenedIntoANewOne(t *testing.T) {
	before := schema(t, `
tables:
  track:
    columns:
      track_id: {type: integer, primary_key: true}
      milliseconds: {type: integer, nullable: false}
      bytes: {type: integer}
`)
	after := schema(t, `
tables:
  Track:
    columns:
      TrackId: {type: integer, primary_key: true}
      DurationMs: {type: bigint, nullable: false}
`)
	p := ProposeMapping(before, after)
	require.Len(t, p.Tables, 1)
	tr := p.Tables[0]
	assert.Empty(t, tr.Renames)
	assert.ElementsMatch(t, []string{"bytes", "milliseconds"}, tr.Drop)
	require.Len(t, tr.Add, 1)
	assert.Contains(t, tr.Add[0].Note, "or the new name of bytes or milliseconds (integer, widened to bigint)")
}
