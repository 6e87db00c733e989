package activities

import (
	"testing"
	"time"

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
