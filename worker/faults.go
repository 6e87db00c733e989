package main

import (
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/activities"
	copydriver "github.com/godwit/godwit/drivers/copy"
)

// FaultKillAfterBatches names the fault-injection setting the crash tests
// use: with GODWIT_FAULT_KILL_AFTER_BATCHES=N the worker kills itself with
// SIGKILL right after the N-th copy batch it committed, before that
// batch's checkpoint is heartbeated — the one moment a plain kill from
// outside rarely hits. Never set it in production.
const FaultKillAfterBatches = "GODWIT_FAULT_KILL_AFTER_BATCHES"

// FaultKillAfterForeignKeys: with GODWIT_FAULT_KILL_AFTER_FOREIGN_KEYS=1
// the worker kills itself with SIGKILL right after a fanned-out copy
// created its foreign keys and before the activity reported it, so its
// retry (on another worker) finds the keys there. Never set it in
// production.
const FaultKillAfterForeignKeys = "GODWIT_FAULT_KILL_AFTER_FOREIGN_KEYS"

// injectFaults arms the fault-injection points the environment asks for.
func injectFaults(acts *activities.Activities, logger hclog.Logger) error {
	if os.Getenv(FaultKillAfterForeignKeys) != "" {
		d, ok := acts.Drivers[copydriver.Key].(*copydriver.Driver)
		if !ok {
			return fmt.Errorf("%s: this build has no copy driver", FaultKillAfterForeignKeys)
		}
		logger.Warn("fault injection armed: this worker kills itself after a fanned-out copy created its foreign keys", "setting", FaultKillAfterForeignKeys)
		d.AfterForeignKeys = func() {
			logger.Warn("fault injection: killing this worker between the foreign keys and the activity's result")
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
	v := os.Getenv(FaultKillAfterBatches)
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return fmt.Errorf("%s=%q: want a number of batches, 1 or more", FaultKillAfterBatches, v)
	}
	d, ok := acts.Drivers[copydriver.Key].(*copydriver.Driver)
	if !ok {
		return fmt.Errorf("%s: this build has no copy driver", FaultKillAfterBatches)
	}
	logger.Warn("fault injection armed: this worker kills itself after a committed copy batch", "setting", FaultKillAfterBatches, "batches", n)
	var committed atomic.Int64
	d.AfterCommit = func(table string) {
		if committed.Add(1) == int64(n) {
			logger.Warn("fault injection: killing this worker between a batch's commit and its checkpoint", "table", table)
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal arrives; nothing more of this batch runs
		}
	}
	return nil
}
