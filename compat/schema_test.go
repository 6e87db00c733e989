package compat

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSchemaErrorsNameFieldPathAndFix(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"a misspelt field is named with a suggestion when the description fails",
			"tables:\n  users:\n    columns:\n      id: {tipe: int}\n",
			[]string{"tables.users.columns.id.type (line 4): is required", `tables.users.columns.id.tipe (line 4): unknown field (did you mean "type"?)`}},
		{"wrong type",
			"tables:\n  users:\n    columns:\n      id: {type: int, length: long}\n",
			[]string{`tables.users.columns.id.length (line 4): "long" is a string, but this field needs a number`}},
		{"missing column type",
			"tables:\n  users:\n    columns:\n      id: {nullable: false}\n",
			[]string{"tables.users.columns.id.type (line 4): is required: the column's SQL type"}},
		{"foreign key reference not table(col)",
			"tables:\n  o:\n    columns: {uid: {type: int}}\n    constraints:\n      foreign_key: [{columns: [uid], references: users.id}]\n",
			[]string{`tables.o.constraints.foreign_key[0].references (line 5): "users.id" is not of the form table(column)`}},
		{"constraint on a column that does not exist",
			"tables:\n  o:\n    columns: {uid: {type: int}}\n    constraints:\n      unique: [[uid, code]]\n",
			[]string{`tables.o.constraints.unique[0][1] (line 5): "code" is not a column of table o; columns: uid`}},
		{"nullable primary key",
			"tables:\n  o:\n    columns: {id: {type: int, primary_key: true, nullable: true}}\n",
			[]string{"tables.o.columns.id.nullable (line 3): a primary key column cannot be nullable"}},
		{"not JSON or YAML",
			"{\"tables\": {\"a\": }",
			[]string{"not valid JSON or YAML"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSchema("s.yaml", []byte(tc.doc))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "s.yaml is not valid:")
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestJSONAndYAMLDescriptionsReadTheSame(t *testing.T) {
	j, err := ParseSchema("a.json", []byte(`{"tables": {"t": {"columns": {"id": {"type": "INT", "primary_key": true}, "e": {"type": "varchar", "length": 10, "unique": true}}}}}`))
	require.NoError(t, err)
	y, err := ParseSchema("a.yaml", []byte("tables:\n  t:\n    columns:\n      id: {type: integer}\n      e: {type: varchar(10)}\n    constraints: {primary_key: [id], unique: [[e]]}\n"))
	require.NoError(t, err)
	assert.Empty(t, CompareSchemas(j, y, Options{}).Issues)
}

func TestAForeignKeyToATableOrColumnNotDescribedIsAWarning(t *testing.T) {
	doc := `tables:
  customers:
    columns:
      id: {type: int, primary_key: true}
  orders:
    columns:
      id: {type: int, primary_key: true}
      customer_id: {type: int}
      region_id: {type: int}
    constraints:
      foreign_key:
        - {columns: [customer_id], references: customer(id)}
        - {columns: [customer_id], references: customers(cust_id)}
        - {columns: [region_id], references: customers(id)}
`
	s, err := ParseSchema("after.yaml", []byte(doc))
	require.NoError(t, err, "a description may leave tables out: not an error")
	assert.Equal(t, []string{
		`after.yaml: tables.orders.constraints.foreign_key[0].references (line 12): customer(id) references table customer, which this description does not have (did you mean "customers"?): its foreign key SQL fails unless the database has it (describe it, or correct the name)`,
		`after.yaml: tables.orders.constraints.foreign_key[1].references (line 13): customers(cust_id) references column cust_id, which table customers does not have: its foreign key SQL fails`,
	}, s.Warnings)

	before, err := ParseSchema("before.yaml", []byte("tables:\n  orders:\n    columns:\n      id: {type: int, primary_key: true}\n      customer_id: {type: int}\n      region_id: {type: int}\n"))
	require.NoError(t, err)
	lines := CompareSchemas(before, s, Options{}).Lines()
	assert.Contains(t, lines, "WARNING              "+s.Warnings[0], "check-compat prints it")
}
