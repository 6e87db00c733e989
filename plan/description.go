// Package plan turns a Godwit spec or a migration description into a
// migration plan (ordered phases with estimated duration, risk and
// rollback step), a rollback runbook in Markdown, and, from a description,
// a Godwit spec to run. It knows nothing of Temporal.
package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/godwit/godwit/docread"
)

// Description is a migration description in the Migration Architect
// format (JSON or YAML): a database, service or infrastructure migration.
type Description struct {
	Type        string      `yaml:"type" json:"type"`
	Pattern     string      `yaml:"pattern" json:"pattern,omitempty"`
	Name        string      `yaml:"name" json:"name,omitempty"`
	Source      string      `yaml:"source" json:"source,omitempty"`
	Target      string      `yaml:"target" json:"target,omitempty"`
	Description string      `yaml:"description" json:"description,omitempty"`
	Constraints Constraints `yaml:"constraints" json:"constraints"`
	// Database migrations.
	TablesToMigrate []TableVolume   `yaml:"tables_to_migrate" json:"tables_to_migrate,omitempty"`
	SchemaChanges   []SchemaChanges `yaml:"schema_changes" json:"schema_changes,omitempty"`
	// PerformanceRequirements are kept as written; copy_rate_mb_per_s, when
	// present, sets the rate the copy estimate uses.
	PerformanceRequirements map[string]any     `yaml:"performance_requirements" json:"performance_requirements,omitempty"`
	BusinessContinuity      BusinessContinuity `yaml:"business_continuity" json:"business_continuity"`
	// Service migrations.
	ServiceDetails   *ServiceDetails   `yaml:"service_details" json:"service_details,omitempty"`
	MigrationPhases  []DescribedPhase  `yaml:"migration_phases" json:"migration_phases,omitempty"`
	FeatureFlags     []FeatureFlag     `yaml:"feature_flags" json:"feature_flags,omitempty"`
	Monitoring       Monitoring        `yaml:"monitoring" json:"monitoring"`
	RollbackTriggers []RollbackTrigger `yaml:"rollback_triggers" json:"rollback_triggers,omitempty"`
	// Warnings are what a reader should know about the description that
	// does not stop it: fields Godwit does not know and ignored, figures
	// that disagree. Lines for the user, never part of the plan.
	Warnings []string `yaml:"-" json:"-"`
}

// Constraints are the limits the migration must respect.
type Constraints struct {
	MaxDowntimeMinutes     float64  `yaml:"max_downtime_minutes" json:"max_downtime_minutes,omitempty"`
	DataVolumeGB           float64  `yaml:"data_volume_gb" json:"data_volume_gb,omitempty"`
	Dependencies           []string `yaml:"dependencies" json:"dependencies,omitempty"`
	ComplianceRequirements []string `yaml:"compliance_requirements" json:"compliance_requirements,omitempty"`
	SpecialRequirements    []string `yaml:"special_requirements" json:"special_requirements,omitempty"`
}

// TableVolume is a table to move and its size.
type TableVolume struct {
	Name     string  `yaml:"name" json:"name"`
	RowCount int64   `yaml:"row_count" json:"row_count,omitempty"`
	SizeMB   float64 `yaml:"size_mb" json:"size_mb,omitempty"`
	Critical bool    `yaml:"critical" json:"critical,omitempty"`
}

// SchemaChanges are the changes planned for one table.
type SchemaChanges struct {
	Table   string         `yaml:"table" json:"table"`
	Changes []SchemaChange `yaml:"changes" json:"changes"`
}

// SchemaChange is one planned change: its type and whatever fields the
// team wrote for it (column, from, to, definition...).
type SchemaChange map[string]any

// BusinessContinuity holds the hours to avoid and the window to use.
type BusinessContinuity struct {
	CriticalBusinessHours    *Window `yaml:"critical_business_hours" json:"critical_business_hours,omitempty"`
	PreferredMigrationWindow *Window `yaml:"preferred_migration_window" json:"preferred_migration_window,omitempty"`
}

// Window is a daily time window, "HH:MM" in a time zone.
type Window struct {
	Start    string `yaml:"start" json:"start"`
	End      string `yaml:"end" json:"end"`
	Timezone string `yaml:"timezone" json:"timezone,omitempty"`
}

// ServiceDetails names the legacy and new services of a service migration.
type ServiceDetails struct {
	LegacyService ServiceInfo `yaml:"legacy_service" json:"legacy_service"`
	NewService    ServiceInfo `yaml:"new_service" json:"new_service"`
}

// ServiceInfo describes one side of a service migration.
type ServiceInfo struct {
	Name        string         `yaml:"name" json:"name,omitempty"`
	Endpoints   []string       `yaml:"endpoints" json:"endpoints,omitempty"`
	CurrentLoad map[string]any `yaml:"current_load" json:"current_load,omitempty"`
	// TargetPerformance is the load the new side must carry, as the
	// method's service samples write it; kept as written.
	TargetPerformance map[string]any `yaml:"target_performance" json:"target_performance,omitempty"`
	Infrastructure    any            `yaml:"infrastructure" json:"infrastructure,omitempty"`
}

// DescribedPhase is a phase as the description names it.
type DescribedPhase struct {
	Phase                  string  `yaml:"phase" json:"phase"`
	Description            string  `yaml:"description" json:"description,omitempty"`
	EstimatedDurationHours float64 `yaml:"estimated_duration_hours" json:"estimated_duration_hours,omitempty"`
}

// FeatureFlag is a traffic flag and its rollout schedule.
type FeatureFlag struct {
	Name              string        `yaml:"name" json:"name"`
	Description       string        `yaml:"description" json:"description,omitempty"`
	InitialPercentage float64       `yaml:"initial_percentage" json:"initial_percentage"`
	RolloutSchedule   []RolloutStep `yaml:"rollout_schedule" json:"rollout_schedule,omitempty"`
}

// RolloutStep is one traffic weight and how long it holds.
type RolloutStep struct {
	Percentage    float64 `yaml:"percentage" json:"percentage"`
	DurationHours float64 `yaml:"duration_hours" json:"duration_hours"`
}

// Monitoring names the metrics to watch and their thresholds.
type Monitoring struct {
	CriticalMetrics []string       `yaml:"critical_metrics" json:"critical_metrics,omitempty"`
	AlertThresholds map[string]any `yaml:"alert_thresholds" json:"alert_thresholds,omitempty"`
}

// RollbackTrigger is a condition that rolls back, alerts or scales.
type RollbackTrigger struct {
	Metric          string  `yaml:"metric" json:"metric"`
	Threshold       any     `yaml:"threshold" json:"threshold"`
	DurationMinutes float64 `yaml:"duration_minutes" json:"duration_minutes,omitempty"`
	Action          string  `yaml:"action" json:"action"`
}

// LoadDescription reads and checks a migration description. Its errors
// name the file, the field path and the line.
func LoadDescription(path string) (*Description, error) {
	var d Description
	doc, err := docread.ReadFile(path, &d)
	if err != nil {
		return nil, err
	}
	if err := doc.Finish(d.check(doc.Errors())); err != nil {
		return nil, err
	}
	d.Warnings = append(doc.WarningLines(), d.warnings()...)
	return &d, nil
}

// ParseDescription decodes and checks a description held in memory.
func ParseDescription(name string, data []byte) (*Description, error) {
	var d Description
	doc, err := docread.Decode(name, data, &d)
	if err != nil {
		return nil, err
	}
	if err := doc.Finish(d.check(doc.Errors())); err != nil {
		return nil, err
	}
	d.Warnings = append(doc.WarningLines(), d.warnings()...)
	return &d, nil
}

var clock = regexp.MustCompile(`^([01]?\d|2[0-3]):[0-5]\d$`)

func (d *Description) check(es *docread.Errors) *docread.Errors {
	switch d.Type {
	case "database", "service", "infrastructure":
	case "":
		es.Add("type", "is required: database, service or infrastructure")
	default:
		es.Add("type", "%q is not a migration type: use database, service or infrastructure", d.Type)
	}
	if d.Constraints.DataVolumeGB < 0 {
		es.Add("constraints.data_volume_gb", "must not be negative")
	}
	if d.Constraints.MaxDowntimeMinutes < 0 {
		es.Add("constraints.max_downtime_minutes", "must not be negative")
	}
	for i, t := range d.TablesToMigrate {
		if t.Name == "" {
			es.Add(fmt.Sprintf("tables_to_migrate[%d].name", i), "is required: the table's name")
		}
		if t.RowCount < 0 || t.SizeMB < 0 {
			es.Add(fmt.Sprintf("tables_to_migrate[%d]", i), "row_count and size_mb must not be negative")
		}
	}
	for i, sc := range d.SchemaChanges {
		for j, c := range sc.Changes {
			if _, ok := c["type"].(string); !ok {
				es.Add(fmt.Sprintf("schema_changes[%d].changes[%d].type", i, j), "is required: add_column, modify_column, drop_column, add_constraint, rename_column...")
			}
		}
	}
	for _, w := range []struct {
		path string
		w    *Window
	}{{"business_continuity.critical_business_hours", d.BusinessContinuity.CriticalBusinessHours}, {"business_continuity.preferred_migration_window", d.BusinessContinuity.PreferredMigrationWindow}} {
		if w.w == nil {
			continue
		}
		for _, f := range []struct{ name, v string }{{"start", w.w.Start}, {"end", w.w.End}} {
			if !clock.MatchString(f.v) {
				es.Add(w.path+"."+f.name, "%q is not a time of day: write HH:MM, e.g. \"02:00\"", f.v)
			}
		}
	}
	for i, f := range d.FeatureFlags {
		fp := fmt.Sprintf("feature_flags[%d]", i)
		if f.Name == "" {
			es.Add(fp+".name", "is required")
		}
		last := f.InitialPercentage
		for j, s := range f.RolloutSchedule {
			sp := fmt.Sprintf("%s.rollout_schedule[%d]", fp, j)
			switch {
			case s.Percentage < 0 || s.Percentage > 100:
				es.Add(sp+".percentage", "%g is not a percentage: use 0-100", s.Percentage)
			case s.Percentage < last:
				es.Add(sp+".percentage", "%g is lower than the step before (%g): a rollout only raises the weight; a rollback lowers it", s.Percentage, last)
			}
			if s.DurationHours < 0 {
				es.Add(sp+".duration_hours", "must not be negative")
			}
			last = s.Percentage
		}
	}
	for i, t := range d.RollbackTriggers {
		switch t.Action {
		case "automatic_rollback", "alert_team", "scale_up":
		default:
			es.Add(fmt.Sprintf("rollback_triggers[%d].action", i), "%q is not an action: use automatic_rollback, alert_team or scale_up", t.Action)
		}
		if t.Metric == "" {
			es.Add(fmt.Sprintf("rollback_triggers[%d].metric", i), "is required: the metric the trigger watches, e.g. error_rate")
		}
	}
	for i, p := range d.MigrationPhases {
		if p.Phase == "" {
			es.Add(fmt.Sprintf("migration_phases[%d].phase", i), "is required")
		}
		if p.EstimatedDurationHours < 0 {
			es.Add(fmt.Sprintf("migration_phases[%d].estimated_duration_hours", i), "must not be negative")
		}
	}
	return es
}

// name is a migration name usable as a spec name and workflow ID.
func (d *Description) name() string {
	n := d.Name
	if n == "" {
		n = strings.Trim(d.Source+"-to-"+d.Target, "-")
		if d.Source == "" && d.Target == "" {
			n = d.Type + "-migration"
		}
	}
	if n = slug(n); n == "" {
		n = "migration"
	}
	return n
}

var notNameChars = regexp.MustCompile(`[^a-z0-9._-]+`)

// slug turns free text into a name Godwit accepts for a migration or a
// phase (1-63 of a-z 0-9 . _ -, starting and ending with a letter or
// digit), or "" when nothing of it is left.
func slug(text string) string {
	n := notNameChars.ReplaceAllString(strings.ToLower(text), "-")
	return shorten(strings.Trim(n, "-._"))
}

// maxNameLength is the longest migration, phase or gate name Godwit
// accepts (a DNS label's limit, so names fit in hosts and labels too).
const maxNameLength = 63

// shorten fits a name into maxNameLength: a longer one keeps its start and
// ends in "-" and 8 hex digits of its SHA-256, so two long names that share
// their first 54 characters stay distinct (cutting would merge them).
func shorten(n string) string {
	if len(n) <= maxNameLength {
		return n
	}
	sum := sha256.Sum256([]byte(n))
	suffix := "-" + hex.EncodeToString(sum[:4])
	return strings.TrimRight(n[:maxNameLength-len(suffix)], "-._") + suffix
}

// warnings are what a reader should know about the description's figures:
// data_volume_gb is used only when no table has a size, so a total that
// disagrees with the tables' sizes by more than a tenth is said.
func (d *Description) warnings() []string {
	var mb float64
	for _, t := range d.TablesToMigrate {
		mb += t.SizeMB
	}
	gb := d.Constraints.DataVolumeGB
	if mb == 0 || gb == 0 {
		return nil
	}
	if tables := mb / 1024; math.Abs(tables-gb) > 0.1*math.Max(tables, gb) {
		return []string{fmt.Sprintf("constraints.data_volume_gb is %g GB but tables_to_migrate's size_mb add up to %.1f GB: estimates use the tables' sizes; correct whichever is wrong", gb, tables)}
	}
	return nil
}
