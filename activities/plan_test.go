package activities

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/config"
)

// pacedFollower is a driver section for tests with a rate and a bounded
// follow, like a copy's and a replicate catchUp's.
type pacedFollower struct {
	Target        string          `json:"target"`
	RowsPerSecond int             `json:"rowsPerSecond,omitempty"`
	RunFor        config.Duration `json:"runFor,omitempty"`
}

func (p *pacedFollower) Check(*config.CheckContext) {}
func (p *pacedFollower) WithRowsPerSecond(rps int) config.DriverSpec {
	c := *p
	c.RowsPerSecond = rps
	return &c
}
func (p *pacedFollower) FollowFor(d time.Duration) (config.DriverSpec, bool) {
	c := *p
	c.RunFor = config.Duration(d)
	return &c, true
}

func init() {
	config.RegisterDriver("pacedFollower", func() config.DriverSpec { return &pacedFollower{} })
}

// TestAppliedMakesTheSectionTheDriverRunsWith: what the workflow decided
// (plans as data) reaches the driver's section here, outside history.
func TestAppliedMakesTheSectionTheDriverRunsWith(t *testing.T) {
	written := config.PhaseSpec{Name: "follow", Driver: &pacedFollower{Target: "${phases.up.outputs.url}/db", RowsPerSecond: 10}}
	rps := 500
	for _, tc := range []struct {
		name    string
		action  Action
		in      PhaseInput
		want    pacedFollower
		wantErr string
	}{
		{"an old run's input passes unchanged", ActionRun, PhaseInput{Phase: written},
			pacedFollower{Target: "${phases.up.outputs.url}/db", RowsPerSecond: 10}, ""},
		{"references resolved, rate and bound applied", ActionRun,
			PhaseInput{Phase: written, Outputs: config.Outputs{"up": {"url": "pg://h"}}, RowsPerSecond: &rps, FollowFor: config.Duration(2 * time.Second)},
			pacedFollower{Target: "pg://h/db", RowsPerSecond: 500, RunFor: config.Duration(2 * time.Second)}, ""},
		{"a run with a value missing is refused", ActionRun,
			PhaseInput{Phase: written, Outputs: config.Outputs{"up": {"other": "x"}}}, pacedFollower{}, "no value for ${phases.up.outputs.url}"},
		{"a compensation with a value missing runs with what it has", ActionCompensate,
			PhaseInput{Phase: written, Outputs: config.Outputs{"up": {"other": "x"}}},
			pacedFollower{Target: "${phases.up.outputs.url}/db", RowsPerSecond: 10}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.Applied(tc.action)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, *got.Phase.Driver.(*pacedFollower))
			require.Equal(t, "${phases.up.outputs.url}/db", written.Driver.(*pacedFollower).Target, "the input's own section is untouched")
		})
	}
}

func TestAppliedRefusesToFollowWithADriverThatDoesNot(t *testing.T) {
	in := PhaseInput{Phase: config.PhaseSpec{Name: "h", Driver: &config.Hook{Run: &config.Command{Command: []string{"true"}}}}, FollowFor: config.Duration(time.Second)}
	_, err := in.Applied(ActionRun)
	require.ErrorContains(t, err, "phase h: the hook driver does not follow a replication")
}

// preflightSeen is a driver whose preflight notes the sections it got.
type preflightSeen struct{ targets []string }

func (d *preflightSeen) Do(context.Context, Action, PhaseInput, Heartbeat, func(Heartbeat)) (PhaseResult, error) {
	return PhaseResult{}, nil
}

func (d *preflightSeen) Preflight(_ context.Context, _ *config.Spec, phase config.PhaseSpec) []string {
	d.targets = append(d.targets, phase.Driver.(*pacedFollower).Target)
	return nil
}

// TestAnActivityDecodesTheSectionTheWorkflowSent: the workflow sends a
// phase's section as its input carries it, raw; the activity decodes it
// into the driver's type, and a section that no longer decodes fails the
// phase (or shows as its preflight problem) naming the phase and section.
func TestAnActivityDecodesTheSectionTheWorkflowSent(t *testing.T) {
	var in PhaseInput
	require.NoError(t, json.Unmarshal([]byte(`{"migration":"m","phase":{"name":"follow","phase":"copy",`+
		`"pacedFollower":{"target":"${phases.up.outputs.url}/db"}},"outputs":{"up":{"url":"pg://h"}}}`), &in))
	require.Nil(t, in.Phase.Driver, "decoded as sent, raw")
	require.JSONEq(t, `{"target":"${phases.up.outputs.url}/db"}`, string(in.Phase.Section()))
	got, err := in.Applied(ActionRun)
	require.NoError(t, err)
	require.Equal(t, pacedFollower{Target: "pg://h/db"}, *got.Phase.Driver.(*pacedFollower))

	var bad PhaseInput
	require.NoError(t, json.Unmarshal([]byte(`{"migration":"m","phase":{"name":"follow","phase":"copy","pacedFollower":{"target":7}}}`), &bad))
	_, err = bad.Applied(ActionRun)
	require.ErrorContains(t, err, "phase follow: pacedFollower section: json: cannot unmarshal number")

	var pre PreflightInput
	require.NoError(t, json.Unmarshal([]byte(`{"spec":{"name":"m","phases":[`+
		`{"name":"good","phase":"copy","pacedFollower":{"target":"pg://a"}},`+
		`{"name":"bad","phase":"copy","pacedFollower":{"target":7}}]}}`), &pre))
	require.Nil(t, pre.Spec.Phases[0].Driver, "decoded as sent, raw")
	seen := &preflightSeen{}
	a := &Activities{Logger: hclog.NewNullLogger(), Drivers: map[string]Driver{"pacedFollower": seen}}
	res, err := a.Preflight(context.Background(), pre)
	require.NoError(t, err)
	require.Equal(t, []string{"pg://a"}, seen.targets)
	require.Len(t, res.Problems, 1)
	require.Equal(t, "bad", res.Problems[0].Phase)
	require.Contains(t, res.Problems[0].Message, "phase bad: pacedFollower section: json: cannot unmarshal number")
}
