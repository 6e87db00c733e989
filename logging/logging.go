// Package logging builds the hclog loggers Godwit uses everywhere and adapts
// them to the Temporal SDK's logger interface, so workflow, activity, worker
// and CLI logs share one format.
package logging

import (
	"io"
	"os"

	"github.com/hashicorp/go-hclog"
	sdklog "go.temporal.io/sdk/log"

	"github.com/godwit/godwit/config"
)

// New returns the root logger for component name, as the settings ask.
func New(name string, s config.LogSettings, out io.Writer) hclog.Logger {
	if out == nil {
		out = os.Stderr
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:       name,
		Level:      hclog.LevelFromString(s.Level),
		JSONFormat: s.Format == "json",
		Output:     out,
	})
}

// Temporal adapts an hclog.Logger to the Temporal SDK's log.Logger, which
// the SDK hands to workflows (workflow.GetLogger) and activities.
func Temporal(l hclog.Logger) sdklog.Logger { return temporalLogger{l} }

type temporalLogger struct{ l hclog.Logger }

func (t temporalLogger) Debug(msg string, kv ...any) { t.l.Debug(msg, kv...) }
func (t temporalLogger) Info(msg string, kv ...any)  { t.l.Info(msg, kv...) }
func (t temporalLogger) Warn(msg string, kv ...any)  { t.l.Warn(msg, kv...) }
func (t temporalLogger) Error(msg string, kv ...any) { t.l.Error(msg, kv...) }

// With returns a logger that adds kv to every line (sdklog.WithLogger).
func (t temporalLogger) With(kv ...any) sdklog.Logger { return temporalLogger{t.l.With(kv...)} }
