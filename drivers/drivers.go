// Package drivers lists every phase driver of this build. A driver is a
// package of its own: a spec section type that registers itself with
// config (config.RegisterDriver, in its init) and an activities.Driver that
// does the work. Adding one adds one line to Builtin, which is also what
// links the package (and so its spec section) into the worker and the CLI.
package drivers

import (
	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/drivers/backfill"
	compatdriver "github.com/godwit/godwit/drivers/compat"
	"github.com/godwit/godwit/drivers/contract"
	copydriver "github.com/godwit/godwit/drivers/copy"
	"github.com/godwit/godwit/drivers/cutover"
	"github.com/godwit/godwit/drivers/expand"
	"github.com/godwit/godwit/drivers/provision"
	reconciledriver "github.com/godwit/godwit/drivers/reconcile"
	"github.com/godwit/godwit/drivers/replicate"
	"github.com/godwit/godwit/drivers/retire"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/drivers/terraform"
	"github.com/godwit/godwit/drivers/traffic"
)

// Builtin returns the drivers beyond the built-in command hook, by the key
// of their spec section; each names its logger after its key.
func Builtin(logger hclog.Logger) map[string]activities.Driver {
	return map[string]activities.Driver{
		provision.Key:    provision.New(logger),
		copydriver.Key:   copydriver.New(logger),
		replicate.Key:    replicate.New(logger),
		"reconcile":      reconciledriver.New(logger),
		traffic.Key:      traffic.New(logger),
		terraform.Key:    terraform.New(logger),
		compatdriver.Key: compatdriver.New(logger),
		retire.Key:       retire.New(logger),
		cutover.Key:      cutover.New(logger),
		expand.Key:       expand.New(logger),
		backfill.Key:     backfill.New(logger),
		contract.Key:     contract.New(logger),
	}
}

// Activities returns the phase activities with every driver of this build.
func Activities(logger hclog.Logger) *activities.Activities {
	a := activities.New(logger)
	a.LeaseKeyer = stores.LeaseKeys
	for key, d := range Builtin(logger) {
		a.Drivers[key] = d
	}
	return a
}
