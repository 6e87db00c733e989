package config

import (
	"os"
	"testing"

	"gopkg.in/yaml.v3"
)

// skipIfForeignDriver skips an example whose phases use a driver section
// that config's own tests do not link (drivers register themselves from
// their packages, which import config). Package drivers parses every
// example with all drivers of the build (drivers/examples_test.go).
func skipIfForeignDriver(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		return // LoadSpec reports it
	}
	var doc struct {
		Phases []map[string]any `yaml:"phases"`
	}
	if yaml.Unmarshal(data, &doc) != nil {
		return
	}
	known := phaseJSONKeys()
	for _, p := range doc.Phases {
		for key := range p {
			if _, registered := driverFactory(key); !known[key] && !registered {
				t.Skipf("uses the %s driver, which config's tests do not link: checked in package drivers", key)
			}
		}
	}
}
