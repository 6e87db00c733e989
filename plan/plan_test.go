package plan

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/compat"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
)

func phase(p *Plan, kind migration.Phase) Phase {
	for _, ph := range p.Phases {
		if ph.Kind == kind {
			return ph
		}
	}
	return Phase{}
}

func TestEstimatesFollowFromVolumeAndRate(t *testing.T) {
	for _, tc := range []struct {
		name          string
		sizeMB, rate  float64
		copyMinutes   float64
		reconcileMins float64
	}{
		{"default rate", 13200, 0, 10, 2}, // 13200 MB / 22 MB/s = 600 s
		{"given rate", 6000, 50, 2, 0.4},  // 6000 / 50 = 120 s; reconcile at 250 MB/s
		{"ten times the data", 132000, 0, 100, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &Description{Type: "database", TablesToMigrate: []TableVolume{{Name: "a", SizeMB: tc.sizeMB}}}
			p := FromDescription(d, Options{CopyRateMBPerSecond: tc.rate})
			assert.InDelta(t, tc.copyMinutes, phase(p, migration.PhaseCopy).EstimatedMinutes, 0.05)
			assert.InDelta(t, tc.reconcileMins, phase(p, migration.PhaseReconcile).EstimatedMinutes, 0.05)
		})
	}
}

func TestRolloutScheduleSetsTheTrafficEstimate(t *testing.T) {
	d := &Description{Type: "service", FeatureFlags: []FeatureFlag{{Name: "f", RolloutSchedule: []RolloutStep{{5, 2}, {50, 3}, {100, 0}}}}}
	assert.Equal(t, 300.0, phase(FromDescription(d, Options{}), migration.PhaseShiftTraffic).EstimatedMinutes)
}

// base is a spec without any risk factor but the decommission it needs for
// some of them; each case adds one.
const base = `name: m
phases:
  - phase: copy
    hook: {run: {command: [c]}, compensate: {command: [u]}}
  - phase: shift-traffic
    approval: {gate: live}
    hook: {run: {command: [s]}, compensate: {command: [b]}}
  - phase: reconcile
    hook: {run: {command: [r]}}
`

func TestEachRiskFactorRaisesTheScore(t *testing.T) {
	spec, err := config.ParseSpec([]byte(base))
	require.NoError(t, err)
	baseline := FromSpec(spec, Options{})
	require.Empty(t, baseline.RiskFactors)
	breaking := &compat.Report{Kind: "schema", Summary: compat.Summary{Breaking: 1}}
	for _, tc := range []struct {
		name   string
		spec   string
		opts   Options
		factor string
	}{
		{"large volume", base, Options{Volumes: &Description{Constraints: Constraints{DataVolumeGB: 200}}}, FactorLargeVolume},
		{"breaking findings", base, Options{Compat: []*compat.Report{breaking}}, FactorBreakingChanges},
		{"no gate before the traffic shift", strings.Replace(base, "    approval: {gate: live}\n", "", 1), Options{}, FactorNoCanary},
		{"a phase without compensation", strings.Replace(base, ", compensate: {command: [u]}", "", 1), Options{}, FactorIrreversible},
		{"no reconcile", strings.Split(base, "  - phase: reconcile")[0], Options{}, FactorNoReconcile},
		{"decommission without a gate", base + "  - phase: decommission\n    hook: {run: {command: [d]}}\n", Options{}, FactorNoDecommissionGate},
		{"window shorter than the estimate", base, Options{Volumes: &Description{
			Constraints:        Constraints{DataVolumeGB: 90},
			BusinessContinuity: BusinessContinuity{PreferredMigrationWindow: &Window{Start: "01:00", End: "01:30"}},
		}}, FactorWindowTooShort},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := config.ParseSpec([]byte(tc.spec))
			require.NoError(t, err)
			p := FromSpec(s, tc.opts)
			assert.Greater(t, p.RiskScore, baseline.RiskScore)
			var factors []string
			for _, f := range p.RiskFactors {
				factors = append(factors, f.Factor)
			}
			assert.Contains(t, factors, tc.factor)
		})
	}
}

func TestDescriptionErrorsNameFieldPath(t *testing.T) {
	_, err := ParseDescription("d.yaml", []byte("type: databse\nfeature_flags:\n  - name: f\n    rollout_schedule: [{percentage: 50}, {percentage: 20}]\nrollback_triggers: [{metric: e, action: panic}]\n"))
	require.Error(t, err)
	for _, want := range []string{
		`type (line 1): "databse" is not a migration type`,
		"feature_flags[0].rollout_schedule[1].percentage (line 4): 20 is lower than the step before (50)",
		`rollback_triggers[0].action (line 5): "panic" is not an action`,
	} {
		assert.Contains(t, err.Error(), want)
	}
}

// limitedCopy is a copy section capped at rps rows per second.
type limitedCopy struct{ rps int }

func (limitedCopy) Check(*config.CheckContext) {}
func (l limitedCopy) RowsPerSecondLimit() int  { return l.rps }

// A copy the spec throttles is estimated at its limit: the trial's
// 201,050 rows at rowsPerSecond 2000 take 1.7 min, which the measured read
// rate alone called 0 min.
func TestMeasuredCopyIsEstimatedAtTheSpecsRowLimit(t *testing.T) {
	spec := &config.Spec{Name: "tracker", Phases: []config.PhaseSpec{
		{Phase: migration.PhaseCopy, Name: "copy", Driver: limitedCopy{rps: 2000}},
		{Phase: migration.PhaseReconcile, Name: "reconcile", Driver: limitedCopy{}},
	}}
	m := &Measurement{VolumeMB: 27, RateMBPerSecond: 18.3, Rows: 201050, Basis: "measured on legacy"}
	p := FromSpec(spec, Options{Measured: m})
	cp := phase(p, migration.PhaseCopy)
	assert.InDelta(t, 1.7, cp.EstimatedMinutes, 1e-9)
	assert.Contains(t, cp.EstimateBasis, "201050 rows at the spec's rowsPerSecond: 2000")
	assert.Contains(t, cp.EstimateBasis, "measured on legacy")
	assert.InDelta(t, 0.0, phase(p, migration.PhaseReconcile).EstimatedMinutes, 1e-9, "a reconcile is not throttled by the copy's limit")

	spec.Phases[0].Driver = limitedCopy{}
	assert.InDelta(t, 0.0, phase(FromSpec(spec, Options{Measured: m}), migration.PhaseCopy).EstimatedMinutes, 1e-9, "no limit: the measured rate")
}
