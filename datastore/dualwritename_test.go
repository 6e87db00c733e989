package datastore

import (
	"strings"
	"testing"
)

func TestDualWriteNamesCarryTheTagWithinTheLimit(t *testing.T) {
	tag := DualWriteTag("orders-migration")
	if len(tag) != 8 {
		t.Fatalf("tag %q: want 8 hex digits", tag)
	}
	long := strings.Repeat("a_very_long_table_name_", 3) // 69 characters
	for _, c := range []struct {
		name         string
		tag, table   string
		event        string
		wantTag      string
		wantUntagged bool
	}{
		{"tagged", tag, "users", "_ins", tag, false},
		{"untagged, as before tags", "", "users", "_ins", "", true},
		{"an untagged table named like a tag is no tag", "", "m_0123abcd_users", "", "", true},
		{"tagged, long table", tag, long, "_upd", tag, false},
		{"untagged, long table", "", long, "", "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := dualWriteName(c.tag, c.table, c.event)
			if len(n) > 60 {
				t.Errorf("%s is %d characters: PostgreSQL keeps 63, and the function shares the name", n, len(n))
			}
			if got := tagOf(n); got != c.wantTag {
				t.Errorf("tagOf(%s) = %q, want %q", n, got, c.wantTag)
			}
			if untagged := strings.HasPrefix(n, DualWritePrefix); untagged != c.wantUntagged {
				t.Errorf("%s: untagged prefix = %v, want %v", n, untagged, c.wantUntagged)
			}
			if !strings.HasSuffix(n, c.event) {
				t.Errorf("%s lost its event %q", n, c.event)
			}
		})
	}
	if a, b := dualWriteName(tag, long+"x", ""), dualWriteName(tag, long+"y", ""); a == b {
		t.Errorf("two long tables share the trigger name %s", a)
	}
	if DualWriteTag("orders") == DualWriteTag("billing") {
		t.Error("two migrations share a tag")
	}
}
