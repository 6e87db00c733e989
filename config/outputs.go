package config

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// reference matches ${phases.NAME.outputs.KEY} in a driver section's text.
var reference = regexp.MustCompile(`\$\{phases\.([a-z0-9][a-z0-9._-]*?)\.outputs\.([A-Za-z_][A-Za-z0-9_]*)\}`)

// anyReference matches anything that looks like a reference, to catch
// misspelt ones that reference would pass over.
var anyReference = regexp.MustCompile(`\$\{\s*phases\.[^}]*\}`)

// References returns the ${phases.X.outputs.Y} references in the phase's
// driver section, in order of appearance, as "X.Y".
func (p PhaseSpec) References() []string {
	text, err := json.Marshal(p.Driver)
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range reference.FindAllStringSubmatch(string(text), -1) {
		out = append(out, m[1]+"."+m[2])
	}
	return out
}

// checkReferences checks that every reference names an earlier phase that
// declares the output, so a typo fails at validate time and not half-way
// through a migration.
func (s *Spec) checkReferences() FieldErrors {
	var errs FieldErrors
	index := map[string]int{}
	for i, p := range s.Phases {
		if _, dup := index[p.Name]; !dup {
			index[p.Name] = i
		}
	}
	for i, p := range s.Phases {
		if p.Driver == nil {
			continue
		}
		path := fmt.Sprintf("phases[%d].%s", i, p.DriverKey())
		text, err := json.Marshal(p.Driver)
		if err != nil {
			continue
		}
		for _, m := range anyReference.FindAllString(string(text), -1) {
			ref := reference.FindStringSubmatch(m)
			if ref == nil {
				errs = append(errs, FieldError{Path: path, Message: fmt.Sprintf(
					"%s is not a reference Godwit knows: write ${phases.PHASE.outputs.NAME}", m)})
				continue
			}
			name, key := ref[1], ref[2]
			j, ok := index[name]
			switch {
			case !ok:
				errs = append(errs, FieldError{Path: path, Message: fmt.Sprintf(
					"%s refers to phase %q, which the spec does not have (phases: %s)", m, name, s.phaseNames())})
			case j >= i:
				errs = append(errs, FieldError{Path: path, Message: fmt.Sprintf(
					"%s refers to phase %q, which runs at or after this one: only earlier phases' outputs are known", m, name)})
			case !contains(s.Phases[j].Outputs, key):
				declared := "declares no outputs"
				if len(s.Phases[j].Outputs) > 0 {
					declared = "declares only " + strings.Join(s.Phases[j].Outputs, ", ")
				}
				errs = append(errs, FieldError{Path: path, Message: fmt.Sprintf(
					"%s: phase %q %s; add %s to its outputs", m, name, declared, key)})
			}
		}
	}
	return errs
}

func (s *Spec) phaseNames() string {
	names := make([]string, len(s.Phases))
	for i, p := range s.Phases {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Outputs are the outputs of the phases that have completed: phase name →
// output name → value.
type Outputs map[string]map[string]string

// Resolve returns a copy of the phase whose driver section has every
// reference replaced by its value. A reference whose phase produced no such
// value is an error: the phase must not run with a hole in its settings.
// It is a pure function, so the workflow may call it.
func (p PhaseSpec) Resolve(outputs Outputs) (PhaseSpec, error) {
	if p.Driver == nil || len(p.References()) == 0 {
		return p, nil
	}
	text, err := json.Marshal(p.Driver)
	if err != nil {
		return p, fmt.Errorf("phase %s: %w", p.Name, err)
	}
	var missing []string
	resolved := reference.ReplaceAllStringFunc(string(text), func(m string) string {
		ref := reference.FindStringSubmatch(m)
		v, ok := outputs[ref[1]][ref[2]]
		if !ok {
			missing = append(missing, m)
			return m
		}
		// The value lands inside a JSON string: escape it as one.
		quoted, _ := json.Marshal(v)
		return string(quoted[1 : len(quoted)-1])
	})
	if len(missing) > 0 {
		sort.Strings(missing)
		return p, fmt.Errorf("phase %s: no value for %s: the phase that should produce it did not report it",
			p.Name, strings.Join(missing, ", "))
	}
	f, ok := driverFactory(p.DriverKey())
	if !ok {
		return p, fmt.Errorf("phase %s: driver %s is not registered", p.Name, p.DriverKey())
	}
	spec := f()
	if err := json.Unmarshal([]byte(resolved), spec); err != nil {
		return p, fmt.Errorf("phase %s: resolve outputs: %w", p.Name, err)
	}
	p.Driver = spec
	return p, nil
}

// AllResources returns what the migration drives, for its leases: the
// spec's resources and those its drivers declare, sorted, each once.
func (s *Spec) AllResources() []string {
	seen := map[string]bool{}
	var out []string
	add := func(r string) {
		if r != "" && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	for _, r := range s.Resources {
		add(r)
	}
	for _, p := range s.Phases {
		if rs, ok := p.Driver.(Resourcer); ok {
			for _, r := range rs.Resources(s) {
				add(r)
			}
		}
	}
	sort.Strings(out)
	return out
}
