package datastore

import (
	"reflect"
	"testing"
)

func TestOnlineForms(t *testing.T) {
	var my mysqlDialect
	for stmt, want := range map[string][]string{
		"ALTER TABLE users ADD COLUMN age INT;": {"ALTER TABLE users ADD COLUMN age INT, ALGORITHM=INSTANT",
			"ALTER TABLE users ADD COLUMN age INT, ALGORITHM=INPLACE, LOCK=NONE", "ALTER TABLE users ADD COLUMN age INT;"},
		"alter online table t drop column a": {"alter online table t drop column a, ALGORITHM=INSTANT",
			"alter online table t drop column a, ALGORITHM=INPLACE, LOCK=NONE", "alter online table t drop column a"},
		// The author's own choice, other statements, and what a clause
		// cannot follow stay as written.
		"ALTER TABLE t ADD INDEX i (a), ALGORITHM=COPY":     {"ALTER TABLE t ADD INDEX i (a), ALGORITHM=COPY"},
		"ALTER TABLE t ADD INDEX i (a), LOCK = SHARED":      {"ALTER TABLE t ADD INDEX i (a), LOCK = SHARED"},
		"CREATE INDEX i ON t (a)":                           {"CREATE INDEX i ON t (a)"},
		"ALTER TABLE t ADD COLUMN b INT -- note":            {"ALTER TABLE t ADD COLUMN b INT -- note"},
		"ALTER TABLE t REMOVE PARTITIONING":                 {"ALTER TABLE t REMOVE PARTITIONING"},
		"UPDATE t SET lock_count = 1 WHERE algorithm = 'x'": {"UPDATE t SET lock_count = 1 WHERE algorithm = 'x'"},
	} {
		if got := my.onlineForms(stmt); !reflect.DeepEqual(got, want) {
			t.Errorf("onlineForms(%q) = %q, want %q", stmt, got, want)
		}
	}
	for _, d := range []dialect{postgresDialect{}, sqliteDialect{}} {
		if got := d.onlineForms("ALTER TABLE t ADD COLUMN b INT"); len(got) != 1 {
			t.Errorf("%T: %q, want the statement as written", d, got)
		}
	}
}
