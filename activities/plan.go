package activities

import (
	"fmt"

	"github.com/godwit/godwit/config"
)

// Applied makes the driver section a run on plans as data sends (as
// written in the spec, raw, with the values the workflow decided beside
// it) into the one the driver runs with: decoded into the driver's type,
// references resolved with in.Outputs, the rate a `throttle` set, a
// follower's bound. The workflow used to do this itself, calling the
// driver's code while it replayed; here it runs once per attempt,
// outside history. An input without these fields (a run on the old path,
// which did it already) passes decoded, otherwise unchanged.
func (in PhaseInput) Applied(action Action) (PhaseInput, error) {
	// The section comes as the workflow carries it, raw: decoded here,
	// where a section that changed shape fails only this attempt.
	p, err := in.Phase.Decoded()
	if err != nil {
		return in, err
	}
	if len(in.Outputs) > 0 {
		resolved, err := p.Resolve(in.Outputs)
		switch {
		case err == nil:
			p = resolved
		case action == ActionRun:
			return in, err
		}
		// A compensation runs with what it has, as it always did: an undo
		// is never refused for a value its phase never produced.
	}
	if in.RowsPerSecond != nil {
		if t, ok := p.Driver.(config.Throttler); ok {
			p.Driver = t.WithRowsPerSecond(*in.RowsPerSecond)
		}
	}
	if in.FollowFor > 0 {
		f, ok := p.Driver.(config.LagFollower)
		if !ok {
			return in, fmt.Errorf("phase %s: the %s driver does not follow a replication", p.Name, p.DriverKey())
		}
		d, follows := f.FollowFor(in.FollowFor.D())
		if !follows {
			return in, fmt.Errorf("phase %s does not follow a replication", p.Name)
		}
		p.Driver = d
	}
	in.Phase = p
	return in, nil
}
