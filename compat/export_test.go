package compat

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// shopDDL is a small shop in each engine's own DDL: keys, a unique
// constraint, defaults, a foreign key with an action, an index, a view, and
// (PostgreSQL) a check constraint.
func shopDDL(engine datastore.Engine) []string {
	switch engine {
	case datastore.Postgres:
		return []string{
			`CREATE TABLE users (id bigserial PRIMARY KEY, email varchar(255) NOT NULL UNIQUE,
				name text DEFAULT 'it''s me', age integer, active boolean NOT NULL DEFAULT true,
				created_at timestamptz NOT NULL DEFAULT now())`,
			`CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
				amount numeric(10,2) NOT NULL CHECK (amount >= 0), doc jsonb)`,
			`CREATE INDEX orders_user_idx ON orders (user_id)`,
			`CREATE VIEW adults AS SELECT id, email FROM users WHERE age >= 18`,
			`CREATE FUNCTION order_total(uid bigint) RETURNS numeric LANGUAGE sql AS 'SELECT sum(amount) FROM orders WHERE user_id = uid'`,
		}
	case datastore.MySQL:
		return []string{
			`CREATE TABLE users (id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE,
				name VARCHAR(100) DEFAULT 'it''s me', age INT, active TINYINT(1) NOT NULL DEFAULT 1,
				created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP) ENGINE=InnoDB`,
			`CREATE TABLE orders (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, amount DECIMAL(10,2) NOT NULL, doc JSON,
				CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE) ENGINE=InnoDB`,
			`CREATE INDEX orders_user_idx ON orders (user_id, amount)`,
			`CREATE VIEW adults AS SELECT id, email FROM users WHERE age >= 18`,
			`CREATE FUNCTION order_total(uid BIGINT) RETURNS DECIMAL(12,2) READS SQL DATA RETURN (SELECT sum(amount) FROM orders WHERE user_id = uid)`,
		}
	}
	return []string{
		`CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE,
			name TEXT DEFAULT 'it''s me', age INTEGER, active BOOLEAN NOT NULL DEFAULT 1,
			created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)`,
		`CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
			amount DECIMAL(10,2) NOT NULL, doc JSON)`,
		`CREATE INDEX orders_user_idx ON orders (user_id)`,
		`CREATE VIEW adults AS SELECT id, email FROM users WHERE age >= 18`,
	}
}

// exportToFile exports the store's schema to a JSON file, as `godwit
// schema export` does, and returns its path.
func exportToFile(t *testing.T, s *datastore.Store, name string) string {
	t.Helper()
	schema, _, err := ExportSchema(context.Background(), s, ExportOptions{})
	require.NoError(t, err)
	data, err := json.MarshalIndent(schema, "", "  ")
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, data, 0o644))
	return path
}

func TestExportedSchemaComparesWithItsDatabase(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.New(t, engine)
			dbtest.Exec(t, db.Store, shopDDL(engine)...)

			file, err := LoadSchema(exportToFile(t, db.Store, "before.json"))
			require.NoError(t, err, "an exported description must load")
			users, orders := file.Tables["users"], file.Tables["orders"]
			assert.Equal(t, []string{"id"}, users.Constraints.PrimaryKey)
			assert.Equal(t, []ColumnList{{"email"}}, users.Constraints.Unique)
			assert.True(t, users.Columns["id"].AutoIncrement)
			assert.Equal(t, "it's me", users.Columns["name"].Default)
			assert.False(t, users.Columns["email"].nullable())
			assert.Equal(t, "varchar", columnType(users.Columns["email"]).Name)
			assert.Equal(t, 255, columnType(users.Columns["email"]).Length)
			assert.Equal(t, "boolean", columnType(users.Columns["active"]).Name)
			assert.Equal(t, SQLType{Name: "numeric", Family: "decimal", Precision: 10, Scale: 2}, columnType(orders.Columns["amount"]))
			require.Len(t, orders.Constraints.ForeignKey, 1)
			assert.Equal(t, ForeignKey{Columns: []string{"user_id"}, References: "users(id)", OnDelete: "CASCADE"}, orders.Constraints.ForeignKey[0])
			require.Contains(t, file.Views, "adults")
			assert.Equal(t, []string{"id", "email"}, file.Views["adults"].Columns)
			var indexes []string
			for _, ix := range orders.Indexes {
				indexes = append(indexes, ix.Name)
			}
			assert.Contains(t, indexes, "orders_user_idx")
			if engine == datastore.Postgres {
				assert.Equal(t, []string{"amount >= (0)::numeric"}, orders.Constraints.Check)
			}
			if engine != datastore.SQLite {
				require.Len(t, file.Procedures, 1)
				assert.Equal(t, "order_total", file.Procedures[0].Name)
			}

			live, _, err := ExportSchema(ctx, db.Store, ExportOptions{})
			require.NoError(t, err)
			same := CompareSchemas(file, live, Options{Dialect: Postgres})
			assert.Equal(t, FullyCompatible, same.OverallCompatibility, "file and database describe the same schema: %v", same.Lines())
			assert.Empty(t, same.Issues)

			dbtest.Exec(t, db.Store, "ALTER TABLE users DROP COLUMN name")
			after, _, err := ExportSchema(ctx, db.Store, ExportOptions{})
			require.NoError(t, err)
			r := CompareSchemas(file, after, Options{Dialect: Postgres})
			assert.True(t, r.Breaking(), "a dropped column is breaking: %v", r.Lines())
			var dropped *Issue
			for i, is := range r.Issues {
				if is.FieldPath == "tables.users.columns.name" {
					dropped = &r.Issues[i]
				}
			}
			require.NotNil(t, dropped, "the drop is reported: %v", r.Lines())
			assert.Equal(t, Breaking, dropped.Severity)
		})
	}
}

func TestExportSelectsTables(t *testing.T) {
	db := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, db.Store, shopDDL(datastore.SQLite)...)
	s, _, err := ExportSchema(context.Background(), db.Store, ExportOptions{Tables: []string{"ord*"}, SchemaVersion: "7"})
	require.NoError(t, err)
	assert.Equal(t, []string{"orders"}, slices.Sorted(maps.Keys(s.Tables)))
	assert.Equal(t, "7", s.SchemaVersion)
	assert.Empty(t, s.Tables["orders"].Constraints.ForeignKey, "a key to a table left out is left out")
}
