package copy

import (
	"fmt"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/glob"
)

// checkFullCopy checks a fullCopy list: table names or patterns.
func checkFullCopy(c *config.CheckContext, field string, tables []string) {
	for i, p := range tables {
		if err := datastore.ValidatePattern(p); err != nil {
			c.Errorf(fmt.Sprintf("%s[%d]", field, i), "%v", err)
		}
	}
}

// matchesAny reports whether name matches one of the patterns.
func matchesAny(name string, patterns []string) bool {
	for _, p := range patterns {
		if ok, _ := glob.Match(p, name); ok {
			return true
		}
	}
	return false
}

// fullCopied names the tables a run copied in full (no key).
func fullCopied(res datacopy.Result) []string {
	var out []string
	for _, t := range res.Tables {
		if t.FullCopy {
			out = append(out, t.Table)
		}
	}
	return out
}
