package datastore_test

import (
	"testing"

	"github.com/godwit/godwit/datastore"
)

func TestSplitScript(t *testing.T) {
	cases := []struct {
		name   string
		engine datastore.Engine
		script string
		want   []string
	}{
		{"semicolons in quotes and comments", datastore.Postgres,
			"-- a; comment\nALTER TABLE t ADD c text DEFAULT 'a;b';\n/* x; y */ UPDATE t SET \"c;\" = 1;",
			[]string{"-- a; comment\nALTER TABLE t ADD c text DEFAULT 'a;b'", "/* x; y */ UPDATE t SET \"c;\" = 1"}},
		{"dollar-quoted function body", datastore.Postgres,
			"CREATE FUNCTION f() RETURNS trigger AS $body$ BEGIN NEW.a := 1; RETURN NEW; END $body$ LANGUAGE plpgsql;\nSELECT 1;",
			[]string{"CREATE FUNCTION f() RETURNS trigger AS $body$ BEGIN NEW.a := 1; RETURN NEW; END $body$ LANGUAGE plpgsql", "SELECT 1"}},
		{"MySQL trigger body with IF and CASE", datastore.MySQL,
			"CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN\n IF NEW.a IS NULL THEN SET NEW.a = 1; END IF;\n SET NEW.b = CASE WHEN NEW.a > 1 THEN 2 ELSE 3 END;\nEND;\nALTER TABLE t ADD c INT; # done;\n",
			[]string{"CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN\n IF NEW.a IS NULL THEN SET NEW.a = 1; END IF;\n SET NEW.b = CASE WHEN NEW.a > 1 THEN 2 ELSE 3 END;\nEND", "ALTER TABLE t ADD c INT"}},
		{"MySQL backslash escape", datastore.MySQL,
			`UPDATE t SET a = 'it\'s; fine'; SELECT 2`,
			[]string{`UPDATE t SET a = 'it\'s; fine'`, "SELECT 2"}},
		{"SQLite trigger", datastore.SQLite,
			"CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = 1 WHERE id = NEW.id; UPDATE t SET b = 2; END;\nCREATE INDEX i ON t (a);",
			[]string{"CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = 1 WHERE id = NEW.id; UPDATE t SET b = 2; END", "CREATE INDEX i ON t (a)"}},
		{"a transaction's BEGIN is a statement", datastore.SQLite,
			"BEGIN; UPDATE t SET a = 1; COMMIT;",
			[]string{"BEGIN", "UPDATE t SET a = 1", "COMMIT"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := datastore.SplitScript(c.engine, c.script)
			if len(got) != len(c.want) {
				t.Fatalf("got %d statements %+v, want %d", len(got), got, len(c.want))
			}
			for i := range got {
				if got[i].SQL != c.want[i] {
					t.Errorf("statement %d: %q, want %q", i+1, got[i].SQL, c.want[i])
				}
			}
		})
	}
}
