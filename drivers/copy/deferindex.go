package copy

import (
	"context"
	"fmt"
	"strings"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/mapping"
	"github.com/godwit/godwit/migration"
)

// checkDeferIndexes decides, when the spec is checked, whether the copy
// may load its tables without their indexes (datacopy.Options
// .DeferIndexes): not when told deferIndexes: false, nor beside a
// background replication (an earlier phase's, still running during this
// one), which writes the same tables and needs their key for its upserts.
// The decision travels in the section (IndexesDeferrable): a run checked
// before this option existed has it false and keeps its indexes.
func checkDeferIndexes(c *config.CheckContext, s *Spec) {
	bg := backgroundBefore(c)
	on := s.DeferIndexes == nil || *s.DeferIndexes
	if bg != "" && s.DeferIndexes != nil && *s.DeferIndexes {
		c.Errorf("deferIndexes", "cannot be true here: phase %s's replication runs in the background beside this copy and writes its tables, which must keep their key: leave deferIndexes out", bg)
	}
	s.IndexesDeferrable = on && bg == ""
}

// backgroundBefore names the latest phase before this one whose
// replication goes on in the background ("" when none).
func backgroundBefore(c *config.CheckContext) string {
	name := ""
	for i := range c.Spec.Phases {
		p := &c.Spec.Phases[i]
		if p == c.Phase {
			break
		}
		if b, ok := p.Driver.(config.Background); ok && b.InBackground() {
			name = p.Name
		}
	}
	return name
}

// indexesNote is the summary's note on the tables whose key and indexes
// were built after their load ("" when none were), named as on the target,
// where they were built: a mapped table by its mapping's target name.
func indexesNote(res datacopy.Result, mapped map[string]mapping.Table) string {
	var parts []string
	for _, t := range res.Tables {
		if t.IndexesAfterLoad > 0 {
			name := t.Table
			if m, ok := mapped[t.Table]; ok && m.Target != "" {
				name = m.Target
			}
			parts = append(parts, fmt.Sprintf("%s (%s)", name, indexCount(t.IndexesAfterLoad)))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "; key and indexes built after the load: " + strings.Join(parts, ", ")
}

func indexCount(n int) string { return migration.Count(n, "index") }

// restoreDeferred builds the indexes a stopped copy left deferred on
// tables (the compensation: an emptied table takes them at once). It
// returns a note per table built, and per table it could not build with
// what is missing, for the summary.
func restoreDeferred(ctx context.Context, to *datastore.Store, tables []string) (built, failed []string, err error) {
	for _, t := range tables {
		d, err := to.IndexesDeferred(ctx, t)
		if err != nil {
			return built, failed, err
		}
		if d == nil {
			continue
		}
		if err := to.RestoreIndexes(ctx, t, d, nil); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v; still to build:\n%s", t, err, d.Statements(t)))
			continue
		}
		built = append(built, t)
	}
	return built, failed, nil
}
