package plan_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/config"
	_ "github.com/godwit/godwit/drivers" // the typed drivers' spec sections
	"github.com/godwit/godwit/migration"
	. "github.com/godwit/godwit/plan"
)

// TestInitWritesTypedDriversThatValidateOnceFilledIn: the spec init writes
// names each field it could not derive, with its hint, and nothing else;
// with those filled in it is valid and holds the description's values.
func TestInitWritesTypedDriversThatValidateOnceFilledIn(t *testing.T) {
	for _, tc := range []struct {
		file  string
		todo  []string // path: hint start
		fills map[string]string
		check func(t *testing.T, s *config.Spec)
	}{
		{
			file: "testdata/database.json",
			todo: []string{
				"stores.legacy.dsn.fromEnv: the name of the worker's environment variable holding the DSN of MySQL 5.7 orders",
				"stores.new.dsn.fromEnv: the name of the worker's environment variable holding the DSN of PostgreSQL 15",
			},
			fills: map[string]string{"DSN of MySQL": "LEGACY_DSN", "DSN of PostgreSQL": "NEW_DSN"},
			check: func(t *testing.T, s *config.Spec) {
				assert.Equal(t, "mysql", s.Stores["legacy"].Engine)
				assert.Equal(t, "LEGACY_DSN", s.Stores["legacy"].DSN.FromEnv)
				require.NotNil(t, s.Window)
				assert.Equal(t, "Europe/Paris", s.Window.Timezone)
				assert.Equal(t, "01:00", s.Window.Preferred[0].Start)
				assert.Equal(t, "20:00", s.Window.BusinessHours[0].End)
				kinds := map[string]string{}
				for _, p := range s.Phases {
					kinds[string(p.Phase)] = p.DriverKey()
				}
				assert.Equal(t, map[string]string{"validate": "hook", "provision": "provision", "copy": "copy", "shift-traffic": "hook", "reconcile": "reconcile", "decommission": "hook"}, kinds)
			},
		},
		{
			file: "testdata/service.yaml",
			todo: []string{
				"notifications[0].url.fromEnv: the name of the worker's environment variable holding the team's Slack webhook URL",
				"phases[1].traffic.gateway.admin: the godwit-gateway admin URL",
				"phases[1].traffic.route: the name of the gateway route to move",
			},
			fills: map[string]string{"Slack webhook": "TEAM_SLACK_URL", "admin URL": "http://127.0.0.1:18490", "route to move": "users"},
			check: func(t *testing.T, s *config.Spec) {
				require.Len(t, s.Notifications, 1)
				assert.Equal(t, "TEAM_SLACK_URL", s.Notifications[0].URL.FromEnv)
				p := s.Phases[1]
				assert.Equal(t, "traffic", p.DriverKey())
				var waits []string
				for _, st := range p.Driver.(interface{ PlanSteps() []config.Step }).PlanSteps() {
					waits = append(waits, st.Name)
				}
				assert.Equal(t, []string{
					"users_svc 5%", "analysis for 5m0s", "hold 24h0m0s",
					"users_svc 25%", "analysis for 5m0s", "hold 24h0m0s",
					"users_svc 100%", "analysis for 5m0s",
				}, waits, "the rollout schedule with its holds and an analysis after each step")
			},
		},
	} {
		t.Run(tc.file, func(t *testing.T) {
			d, err := LoadDescription(tc.file)
			require.NoError(t, err)
			data, err := InitSpec(d, Options{})
			require.NoError(t, err)

			_, err = config.ParseSpec(data)
			var fe config.FieldErrors
			require.True(t, errors.As(err, &fe), "the written spec must fail validation until filled in: %v", err)
			var got []string
			for _, e := range fe {
				require.True(t, strings.HasPrefix(e.Message, config.PlaceholderMessage), "only placeholders are refused: %v", e)
				got = append(got, e.Path+": "+strings.TrimPrefix(e.Message, config.PlaceholderMessage))
			}
			require.Len(t, got, len(tc.todo), "%v", got)
			for i, want := range tc.todo {
				assert.True(t, strings.HasPrefix(got[i], want), "%q should start with %q", got[i], want)
			}

			filled := fill(t, string(data), tc.fills)
			s, err := config.ParseSpec([]byte(filled))
			require.NoError(t, err, "filled in, the spec is valid:\n%s", filled)
			tc.check(t, s)
		})
	}
}

// fill replaces each placeholder line holding a key of fills with the
// value.
func fill(t *testing.T, spec string, fills map[string]string) string {
	lines := strings.Split(spec, "\n")
	for i, l := range lines {
		if !strings.Contains(l, "'"+config.Placeholder) {
			continue
		}
		done := false
		for k, v := range fills {
			if strings.Contains(l, k) {
				lines[i] = l[:strings.Index(l, "'")] + v
				done = true
			}
		}
		require.True(t, done, "no fill for %s", l)
	}
	return strings.Join(lines, "\n")
}

func TestInitSpecCarriesTheDescription(t *testing.T) {
	d, err := LoadDescription("testdata/service.yaml")
	require.NoError(t, err)
	out, err := InitSpec(d, Options{})
	require.NoError(t, err)
	spec, err := config.ParseSpec(fillPlaceholders(out))
	require.NoError(t, err)
	var kinds []migration.Phase
	for _, p := range spec.Phases {
		kinds = append(kinds, p.Phase)
	}
	assert.Equal(t, []migration.Phase{migration.PhaseProvision, migration.PhaseShiftTraffic, migration.PhaseDecommission}, kinds)
	shift := spec.Phases[1]
	require.NotNil(t, shift.Approval)
	assert.Equal(t, "go-live", shift.Approval.Gate)
	assert.Equal(t, "traffic", shift.DriverKey())
	assert.Contains(t, string(out), "maxErrorRate: 0.05", "the automatic_rollback trigger's threshold")
	assert.Contains(t, string(out), "alert_team triggers: response_time_p95 > 500 for 10m")
	assert.Contains(t, string(out), "# TODO(godwit init)")
	assert.Nil(t, spec.Phases[2].Hook().Compensate, "decommission has no compensation")
}

func TestInitKeepsRepeatedKindsWithNamesAndGates(t *testing.T) {
	d, err := ParseDescription("d.yaml", []byte(`type: service
name: users
migration_phases:
  - {phase: preparation, description: deploy the new service}
  - {phase: canary rollout, description: move reads behind the flag}
  - {phase: verify reads, description: compare responses}
  - {phase: full rollout, description: move writes behind the flag}
  - {phase: verify writes, description: compare responses}
  - {phase: retire, description: decommission the monolith code}
feature_flags:
  - {name: reads, rollout_schedule: [{percentage: 10, duration_hours: 1}, {percentage: 100, duration_hours: 0}]}
  - {name: writes, rollout_schedule: [{percentage: 50, duration_hours: 2}, {percentage: 100, duration_hours: 0}]}
`))
	require.NoError(t, err)
	out, err := InitSpec(d, Options{})
	require.NoError(t, err)
	spec, err := config.ParseSpec(fillPlaceholders(out))
	require.NoError(t, err, string(out))
	type row struct {
		name string
		kind migration.Phase
		gate string
	}
	var got []row
	for _, p := range spec.Phases {
		r := row{p.Name, p.Phase, ""}
		if p.Approval != nil {
			r.gate = p.Approval.Gate
		}
		got = append(got, r)
	}
	assert.Equal(t, []row{
		{"provision", migration.PhaseProvision, ""},
		{"canary-rollout", migration.PhaseShiftTraffic, "go-live"},
		{"verify-reads", migration.PhaseReconcile, ""},
		{"full-rollout", migration.PhaseShiftTraffic, "go-live-full-rollout"},
		{"verify-writes", migration.PhaseReconcile, ""},
		{"decommission", migration.PhaseDecommission, "decommission"},
	}, got)
	first := func(p config.PhaseSpec) string {
		return p.Driver.(interface{ PlanSteps() []config.Step }).PlanSteps()[0].Name
	}
	assert.Regexp(t, `^reads \d+%$`, first(spec.Phases[1]), "each shift rolls out its own flag")
	assert.Regexp(t, `^writes \d+%$`, first(spec.Phases[3]))
	assert.Equal(t, "traffic", spec.Phases[3].DriverKey())
}

// fillPlaceholders gives every value godwit init could not derive a
// plausible one, as a user would.
func fillPlaceholders(spec []byte) []byte {
	return placeholderValue.ReplaceAllFunc(spec, func(m []byte) []byte {
		key := string(placeholderValue.FindSubmatch(m)[1])
		v := map[string]string{"fromEnv": "FILLED_VAR", "admin": "http://127.0.0.1:18490", "route": "users"}[key]
		return []byte(key + ": " + v)
	})
}

var placeholderValue = regexp.MustCompile(`(\w+): 'TODO\(godwit init\)[^\n]*`)

// TestAGateAfterTheTerraformPlanIsSaidSo: examples/blue-green.yaml's
// decommission gate waits after its plan; the runbook says the gate shows
// that plan, not that it comes before the phase.
func TestAGateAfterTheTerraformPlanIsSaidSo(t *testing.T) {
	spec, err := config.LoadSpec("../examples/blue-green.yaml")
	require.NoError(t, err)
	p := FromSpec(spec, Options{})
	retire := p.Phases[3]
	assert.Equal(t, "retire-blue", retire.Gate)
	assert.True(t, retire.GateAfterPlan)
	assert.False(t, p.Phases[1].GateAfterPlan, "provision has no gate of its own: its driver's gate is a step")
	assert.Contains(t, p.Runbook(), "- Approval: the phase plans first; the owner of gate `retire-blue` approves that plan, which the gate shows, before anything changes: `godwit approve blue-green --gate retire-blue`\n")
}
