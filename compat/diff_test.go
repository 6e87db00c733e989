package compat

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// users is the base table the cases below change one thing of.
const users = `
tables:
  users:
    columns:
      id: {type: bigint, primary_key: true}
      email: {type: "varchar(255)", nullable: false}
      name: {type: "varchar(100)"}
      age: {type: integer}
`

func mustParse(t *testing.T, name, doc string) *Schema {
	t.Helper()
	s, err := ParseSchema(name, []byte(doc))
	require.NoError(t, err)
	return s
}

// findings lists "severity type path" for each issue of a report.
func findings(r *Report) []string {
	var out []string
	for _, i := range r.Issues {
		out = append(out, string(i.Severity)+" "+i.Type+" "+i.FieldPath)
	}
	return out
}

func TestCompareSchemasFindsEachKindOfChange(t *testing.T) {
	for _, tc := range []struct {
		name    string
		after   string // users with one change (replace applied to the base)
		replace [2]string
		want    []string
		// forward and rollback SQL of the first script, when given.
		forward, rollback string
		overall           string
	}{
		{
			name: "identical schemas give no finding", want: nil, overall: FullyCompatible,
		},
		{
			name: "dropped column is breaking and loses data", replace: [2]string{`      age: {type: integer}` + "\n", ""},
			want:    []string{"breaking column_removed tables.users.columns.age"},
			forward: "ALTER TABLE users DROP COLUMN age;", rollback: "ALTER TABLE users ADD COLUMN age integer;", overall: Incompatible,
		},
		{
			name: "dropped table is breaking", after: "tables:\n  other:\n    columns: {id: {type: int}}\n",
			want: []string{"breaking table_removed tables.users", "additive table_added tables.other"},
		},
		{
			name: "varchar narrowing is breaking with a precheck", replace: [2]string{`"varchar(100)"`, `"varchar(50)"`},
			want:    []string{"breaking column_type_narrowed tables.users.columns.name.type"},
			forward: "ALTER TABLE users ALTER COLUMN name TYPE varchar(50);", rollback: "ALTER TABLE users ALTER COLUMN name TYPE varchar(100);",
		},
		{
			name: "varchar widening is listed as non-breaking", replace: [2]string{`"varchar(255)"`, `"varchar(320)"`},
			want: []string{"non_breaking column_type_widened tables.users.columns.email.type"}, overall: BackwardCompatible,
		},
		{
			name: "integer to bigint is widening", replace: [2]string{`age: {type: integer}`, `age: {type: bigint}`},
			want: []string{"non_breaking column_type_widened tables.users.columns.age.type"},
		},
		{
			name: "bigint to integer is narrowing", replace: [2]string{`id: {type: bigint, primary_key: true}`, `id: {type: int, primary_key: true}`},
			want: []string{"breaking column_type_narrowed tables.users.columns.id.type"},
		},
		{
			name: "a change of type family is breaking and casts", replace: [2]string{`age: {type: integer}`, `age: {type: text}`},
			want:    []string{"breaking column_type_changed tables.users.columns.age.type"},
			forward: "ALTER TABLE users ALTER COLUMN age TYPE text USING age::text;", rollback: "ALTER TABLE users ALTER COLUMN age TYPE integer USING age::integer;",
		},
		{
			name: "nullable to not null without default is breaking", replace: [2]string{`name: {type: "varchar(100)"}`, `name: {type: "varchar(100)", nullable: false}`},
			want:    []string{"breaking column_made_not_null tables.users.columns.name.nullable"},
			forward: "ALTER TABLE users ALTER COLUMN name SET NOT NULL;", rollback: "ALTER TABLE users ALTER COLUMN name DROP NOT NULL;",
		},
		{
			name: "nullable to not null with a default backfills and is potentially breaking", replace: [2]string{`name: {type: "varchar(100)"}`, `name: {type: "varchar(100)", nullable: false, default: "n/a"}`},
			want: []string{"potentially_breaking column_made_not_null tables.users.columns.name.nullable", "non_breaking column_default_added tables.users.columns.name.default"},
			// The default is set first, then the backfill and NOT NULL.
			forward: "ALTER TABLE users ALTER COLUMN name SET DEFAULT 'n/a';", rollback: "ALTER TABLE users ALTER COLUMN name DROP DEFAULT;",
			overall: PotentiallyIncompatible,
		},
		{
			name: "not null to nullable is non-breaking", replace: [2]string{`email: {type: "varchar(255)", nullable: false}`, `email: {type: "varchar(255)"}`},
			want: []string{"non_breaking column_made_nullable tables.users.columns.email.nullable"},
		},
		{
			name: "new nullable column is additive", replace: [2]string{`      age: {type: integer}`, "      age: {type: integer}\n      city: {type: text}"},
			want:    []string{"additive column_added tables.users.columns.city"},
			forward: "ALTER TABLE users ADD COLUMN city text;", rollback: "ALTER TABLE users DROP COLUMN city;", overall: BackwardCompatible,
		},
		{
			name: "new not null column without default is breaking and backfilled", replace: [2]string{`      age: {type: integer}`, "      age: {type: integer}\n      city: {type: text, nullable: false}"},
			want:    []string{"breaking column_added tables.users.columns.city"},
			forward: "ALTER TABLE users ADD COLUMN city text;\nUPDATE users SET city = '' WHERE city IS NULL;\nALTER TABLE users ALTER COLUMN city SET NOT NULL;",
		},
		{
			name: "new not null column with a string default is additive and quotes it", replace: [2]string{`      age: {type: integer}`, "      age: {type: integer}\n      city: {type: text, nullable: false, default: \"O'Hare\"}"},
			want:    []string{"additive column_added tables.users.columns.city"},
			forward: "ALTER TABLE users ADD COLUMN city text NOT NULL DEFAULT 'O''Hare';",
		},
		{
			name: "a function default is not quoted", replace: [2]string{`      age: {type: integer}`, "      age: {type: integer}\n      seen: {type: timestamptz, default: now()}"},
			want:    []string{"additive column_added tables.users.columns.seen"},
			forward: "ALTER TABLE users ADD COLUMN seen timestamptz DEFAULT now();",
		},
		{
			name: "renamed column with similar name and same definition is a rename", replace: [2]string{`email: {type: "varchar(255)", nullable: false}`, `email_address: {type: "varchar(255)", nullable: false}`},
			want:    []string{"breaking column_renamed tables.users.columns.email_address"},
			forward: "ALTER TABLE users RENAME COLUMN email TO email_address;", rollback: "ALTER TABLE users RENAME COLUMN email_address TO email;",
		},
		{
			name: "same definition but unrelated names is a drop and an add, not a rename", replace: [2]string{`age: {type: integer}`, `score: {type: integer}`},
			want: []string{"breaking column_removed tables.users.columns.age", "additive column_added tables.users.columns.score"},
		},
		{
			name: "new unique constraint is breaking with a duplicate precheck", replace: [2]string{`email: {type: "varchar(255)", nullable: false}`, `email: {type: "varchar(255)", nullable: false, unique: true}`},
			want:    []string{"breaking unique_constraint_added tables.users.constraints.unique"},
			forward: "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);", rollback: "ALTER TABLE users DROP CONSTRAINT users_email_key;",
		},
		{
			name: "new check constraint is breaking", after: users + "    constraints: {check: [\"age >= 0\"]}\n",
			want: []string{"breaking check_constraint_added tables.users.constraints.check"},
		},
		{
			name: "new primary key is breaking", replace: [2]string{`id: {type: bigint, primary_key: true}`, `id: {type: bigint, nullable: false}`},
			// Only the removal here: the reverse direction is the next case.
			want: []string{"potentially_breaking primary_key_removed tables.users.constraints.primary_key"},
		},
		{
			name: "new index is additive; a unique one is breaking", after: users + "    indexes:\n      - {name: users_name_idx, columns: [name]}\n      - {name: users_email_uidx, columns: [email], unique: true}\n",
			want: []string{"breaking index_added tables.users.indexes.users_email_uidx", "additive index_added tables.users.indexes.users_name_idx"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			after := tc.after
			if after == "" {
				after = users
				if tc.replace[0] != "" {
					require.Contains(t, users, tc.replace[0], "the case must change the base")
					after = strings.Replace(users, tc.replace[0], tc.replace[1], 1)
				}
			}
			r := CompareSchemas(mustParse(t, "before", users), mustParse(t, "after", after), Options{})
			assert.ElementsMatch(t, tc.want, findings(r))
			if tc.forward != "" {
				require.NotEmpty(t, r.MigrationScripts)
				assert.Equal(t, tc.forward, r.MigrationScripts[0].ForwardSQL)
			}
			if tc.rollback != "" {
				assert.Equal(t, tc.rollback, r.MigrationScripts[0].RollbackSQL)
			}
			if tc.overall != "" {
				assert.Equal(t, tc.overall, r.OverallCompatibility)
			}
		})
	}
}

// TestCompareSchemasReverseDirections checks the changes whose other
// direction the table above covers.
func TestCompareSchemasReverseDirections(t *testing.T) {
	noPK := strings.Replace(users, `id: {type: bigint, primary_key: true}`, `id: {type: bigint, nullable: false}`, 1)
	serial := strings.Replace(users, `id: {type: bigint, primary_key: true}`, `id: {type: bigint, primary_key: true, auto_increment: true}`, 1)
	for _, tc := range []struct {
		name, before, after string
		want                []string
	}{
		{"primary key added is breaking", noPK, users, []string{"breaking primary_key_added tables.users.constraints.primary_key"}},
		{"auto increment removed is breaking", serial, users, []string{"breaking auto_increment_removed tables.users.columns.id.auto_increment"}},
		{"auto increment added is non-breaking", users, serial, []string{"non_breaking auto_increment_added tables.users.columns.id.auto_increment"}},
		{"unique constraint removed is non-breaking",
			strings.Replace(users, `nullable: false}`, `nullable: false, unique: true}`, 1), users,
			[]string{"non_breaking unique_constraint_removed tables.users.constraints.unique"}},
		{"column-level and table-level unique mean the same",
			strings.Replace(users, `nullable: false}`, `nullable: false, unique: true}`, 1),
			users + "    constraints: {unique: [[email]]}\n", nil},
		{"foreign key added is breaking, removed is not",
			users + "  orders:\n    columns: {id: {type: bigint}, user_id: {type: bigint}}\n    constraints: {foreign_key: [{columns: [user_id], references: \"users(id)\"}]}\n",
			users + "  orders:\n    columns: {id: {type: bigint}, user_id: {type: bigint}}\n    constraints: {foreign_key: [{columns: [id], references: \"users(id)\"}]}\n",
			[]string{"breaking foreign_key_added tables.orders.constraints.foreign_key", "non_breaking foreign_key_removed tables.orders.constraints.foreign_key"}},
		{"view removed is breaking",
			users + "views:\n  v: {definition: SELECT id FROM users, columns: [id]}\n", users,
			[]string{"breaking view_removed views.v"}},
		{"view that loses a column is breaking",
			users + "views:\n  v: {definition: \"SELECT id, name FROM users\", columns: [id, name]}\n",
			users + "views:\n  v: {definition: SELECT id FROM users, columns: [id]}\n",
			[]string{"breaking view_changed views.v"}},
		{"procedure removed is breaking, its parameters changed too",
			users + "procedures: [{name: a, parameters: [x int]}, {name: b, parameters: [x int]}]\n",
			users + "procedures: [{name: b, parameters: [x bigint]}]\n",
			[]string{"breaking procedure_removed procedures.a", "breaking procedure_signature_changed procedures.b.parameters"}},
		{"table renamed with the same columns is a rename",
			users, strings.Replace(users, "  users:", "  app_users:", 1),
			[]string{"breaking table_renamed tables.app_users"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := CompareSchemas(mustParse(t, "before", tc.before), mustParse(t, "after", tc.after), Options{})
			assert.ElementsMatch(t, tc.want, findings(r))
		})
	}
}

func TestRenameDetectionCanBeTurnedOff(t *testing.T) {
	after := strings.Replace(users, `email: {`, `email_address: {`, 1)
	r := CompareSchemas(mustParse(t, "b", users), mustParse(t, "a", after), Options{NoRenames: true})
	assert.ElementsMatch(t, []string{
		"breaking column_removed tables.users.columns.email",
		// NOT NULL without default: breaking as an addition too.
		"breaking column_added tables.users.columns.email_address",
	}, findings(r))
}

func TestConstraintNamesAreStableAndBounded(t *testing.T) {
	long := strings.Repeat("a", 40)
	n1 := objectName(long, []string{long + "x"}, "key")
	n2 := objectName(long, []string{long + "y"}, "key")
	assert.LessOrEqual(t, len(n1), 63)
	assert.NotEqual(t, n1, n2, "two long names must stay distinct")
	assert.Equal(t, n1, objectName(long, []string{long + "x"}, "key"), "the same constraint gets the same name")
	assert.Equal(t, checkName("t", "a  >= 0"), checkName("t", "a >= 0"), "whitespace does not change a check's name")
}

func TestQuotesIdentifiersThatNeedIt(t *testing.T) {
	assert.Equal(t, "users", ident("users"))
	assert.Equal(t, `"user"`, ident("user"))
	assert.Equal(t, `"Order Items"`, ident("Order Items"))
	assert.Equal(t, `"a""b"`, ident(`a"b`))
}

// splitOf is the expand–contract form of the report's one rename script.
func splitOf(t *testing.T, r *Report) *RenameSplit {
	t.Helper()
	for _, s := range r.MigrationScripts {
		if s.FieldPath == "tables.users.columns.email_address" {
			return s.ExpandContract
		}
	}
	t.Fatalf("no script for the rename in %+v", r.MigrationScripts)
	return nil
}

// A rename's script carries its online form: add the new column nullable,
// then at contract make it NOT NULL (when it was) and drop the old one.
// A rename with a constraint, or one SQLite could only make by rebuilding
// the table, has none: the expand phase refuses it, naming why.
func TestARenameCarriesItsExpandContractForm(t *testing.T) {
	after := strings.Replace(users, `email: {`, `email_address: {`, 1)
	s := splitOf(t, CompareSchemas(mustParse(t, "b", users), mustParse(t, "a", after), Options{}))
	require.NotNil(t, s)
	assert.Equal(t, RenameSplit{Table: "users", From: "email", To: "email_address",
		ExpandSQL:         "ALTER TABLE users ADD COLUMN email_address varchar(255);",
		ExpandRollbackSQL: "ALTER TABLE users DROP COLUMN email_address;",
		ContractSQL:       "ALTER TABLE users ALTER COLUMN email_address SET NOT NULL;\nALTER TABLE users DROP COLUMN email;",
	}, *s)
	s = splitOf(t, CompareSchemas(mustParse(t, "b", users), mustParse(t, "a", after), Options{Dialect: MySQL}))
	require.NotNil(t, s)
	assert.Equal(t, "ALTER TABLE users ADD COLUMN email_address varchar(255) NULL;", s.ExpandSQL)
	assert.Equal(t, "ALTER TABLE users MODIFY COLUMN email_address varchar(255) NOT NULL;\nALTER TABLE users DROP COLUMN email;", s.ContractSQL)

	assert.Nil(t, splitOf(t, CompareSchemas(mustParse(t, "b", users), mustParse(t, "a", after), Options{Dialect: SQLite})),
		"SQLite cannot add NOT NULL in place")
	nullable := strings.Replace(users, `nullable: false`, `nullable: true`, 1)
	s = splitOf(t, CompareSchemas(mustParse(t, "b", nullable), mustParse(t, "a", strings.Replace(nullable, `email: {`, `email_address: {`, 1)), Options{Dialect: SQLite}))
	require.NotNil(t, s)
	assert.Equal(t, "ALTER TABLE users DROP COLUMN email;", s.ContractSQL)

	unique := users + "    constraints: {unique: [[email]]}\n"
	assert.Nil(t, splitOf(t, CompareSchemas(mustParse(t, "b", unique), mustParse(t, "a", strings.Replace(strings.Replace(unique, `email: {`, `email_address: {`, 1), "[[email]]", "[[email_address]]", 1)), Options{})),
		"a constraint goes with the rename")
}
