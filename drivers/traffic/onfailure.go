package traffic

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
)

// onFailure turns a failed analysis into the step's error, after ramping
// the weight down when the analysis asks for that.
func (d *Driver) onFailure(ctx context.Context, log hclog.Logger, a Analysis, failed *AnalysisError, ramp rampFunc, beat func(activities.Heartbeat)) error {
	switch a.OnFailure {
	case OnFailurePause:
		return temporal.NewNonRetryableApplicationError(failed.Error()+"; holding at the current weight for a decision (onFailure: pause)", ErrTypeAnalysisPaused, nil)
	case OnFailureRampDown:
		step := a.RampStep
		if step <= 0 {
			step = 10
		}
		if err := rampDown(ctx, log, ramp, step, a.Interval.D(), beat); err != nil {
			return fmt.Errorf("ramping down after a failed analysis: %w", err)
		}
		return temporal.NewNonRetryableApplicationError(failed.Error()+"; weight ramped down to 0 (onFailure: rampDown)", ErrTypeAnalysisFailed, nil)
	}
	return temporal.NewNonRetryableApplicationError(failed.Error(), ErrTypeAnalysisFailed, nil)
}

// rampDown lowers the weight by step every interval until it is 0.
func rampDown(ctx context.Context, log hclog.Logger, ramp rampFunc, step int, interval time.Duration, beat func(activities.Heartbeat)) error {
	for {
		w, err := ramp(ctx, step)
		if err != nil {
			return err
		}
		log.Warn("ramping down after a failed analysis", "weight", w)
		hb := activities.Heartbeat{Detail: fmt.Sprintf("analysis failed: ramping down, new at %d%%", w)}
		beat(hb)
		if w == 0 {
			return nil
		}
		if err := wait(ctx, interval); err != nil {
			return err
		}
	}
}

// checkClient carries Prometheus queries and HTTP checks.
func (d *Driver) checkClient() *http.Client {
	if d.httpClient != nil {
		return d.httpClient
	}
	return &http.Client{Timeout: 30 * time.Second}
}
