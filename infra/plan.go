package infra

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	tfjson "github.com/hashicorp/terraform-json"
)

// Plan is a saved plan on this machine's disk: its file (for Apply), what
// it would change and a hash of those changes. Only Summary and Hash are
// meant to leave the machine; the file holds every variable's value,
// secrets included.
type Plan struct {
	// File is the saved plan's path.
	File string
	// Summary is what the plan would change.
	Summary Summary
	// Hash identifies the planned changes (see PlanHash): two plans with
	// the same hash change the same resources from the same values to the
	// same values.
	Hash string
}

// Summary counts a plan's changes as Terraform does (a replacement is one
// add and one destroy) and lists them by resource address.
type Summary struct {
	Add     int      `json:"add"`
	Change  int      `json:"change"`
	Destroy int      `json:"destroy"`
	Changes []Change `json:"changes,omitempty"`
	// Outputs lists the root module outputs the plan changes.
	Outputs []string `json:"outputs,omitempty"`
}

// Change is one resource's planned change.
type Change struct {
	Address string `json:"address"`
	// Action is create, update, delete, replace or read.
	Action string `json:"action"`
	// Values are the values the change sets or removes, one line
	// (changeValues); sensitive ones masked. Not part of String.
	Values string `json:"values,omitempty"`
}

// Empty reports whether the plan changes nothing at all.
func (s Summary) Empty() bool { return len(s.Changes) == 0 && len(s.Outputs) == 0 }

// Destroys returns the addresses of the resources the plan deletes
// (replacements included).
func (s Summary) Destroys() []string {
	var out []string
	for _, c := range s.Changes {
		if c.Action == "delete" || c.Action == "replace" {
			out = append(out, c.Address)
		}
	}
	return out
}

// symbols are Terraform's own markers for each action.
var symbols = map[string]string{"create": "+", "update": "~", "delete": "-", "replace": "-/+", "read": "<="}

// String is the summary in one line, Terraform's counts then each change:
// "2 to add, 0 to change, 1 to destroy: + a.b, + a.c, - a.d".
func (s Summary) String() string {
	head := fmt.Sprintf("%d to add, %d to change, %d to destroy", s.Add, s.Change, s.Destroy)
	if len(s.Changes) == 0 {
		if len(s.Outputs) > 0 {
			return head + " (outputs change: " + strings.Join(s.Outputs, ", ") + ")"
		}
		return "no changes: the infrastructure matches the configuration"
	}
	parts := make([]string, len(s.Changes))
	for i, c := range s.Changes {
		parts[i] = symbols[c.Action] + " " + c.Address
	}
	return head + ": " + strings.Join(parts, ", ")
}

// Detailed is String with each change's values after its address, for
// the person who approves the plan: "1 to destroy: - a.b {name: "x"}".
func (s Summary) Detailed() string {
	if len(s.Changes) == 0 {
		return s.String()
	}
	parts := make([]string, len(s.Changes))
	for i, c := range s.Changes {
		parts[i] = symbols[c.Action] + " " + c.Address
		if c.Values != "" {
			parts[i] += " {" + c.Values + "}"
		}
	}
	return fmt.Sprintf("%d to add, %d to change, %d to destroy: %s", s.Add, s.Change, s.Destroy, strings.Join(parts, ", "))
}

// maxValues bounds one change's values text.
const maxValues = 240

// changeValues says what a change sets or removes, attribute by attribute
// (nested ones by path, "input.address"): what a create or read sets
// (null ones left out), what a delete removes, and for an update or a
// replacement each attribute that changes, "before → after". Sensitive
// values read "(sensitive)", values known only after the apply "(known
// after apply)".
func changeValues(action string, c *tfjson.Change, redact func(string) string) string {
	before, after := map[string]string{}, map[string]string{}
	flatten("", c.Before, c.BeforeSensitive, nil, before)
	flatten("", c.After, c.AfterSensitive, c.AfterUnknown, after)
	var parts []string
	switch action {
	case "delete":
		for _, k := range slices.Sorted(maps.Keys(before)) {
			if before[k] != "null" {
				parts = append(parts, k+": "+before[k])
			}
		}
	case "create", "read":
		for _, k := range slices.Sorted(maps.Keys(after)) {
			if after[k] != "null" {
				parts = append(parts, k+": "+after[k])
			}
		}
	default:
		keys := map[string]string{}
		for k := range before {
			keys[k] = ""
		}
		for k := range after {
			keys[k] = ""
		}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			b, a := orNull(before, k), orNull(after, k)
			if b != a || a == unknownValue {
				parts = append(parts, k+": "+b+" → "+a)
			}
		}
	}
	// Redacted before it is cut, so a secret cut in two is still hidden.
	text := redact(strings.Join(parts, ", "))
	if len(text) > maxValues {
		cut := maxValues
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut-- // not inside a "→"
		}
		text = text[:cut] + "…"
	}
	return text
}

const (
	sensitiveValue = "(sensitive)"
	unknownValue   = "(known after apply)"
)

// flatten writes v's leaves into out by path, masking those sens marks
// sensitive and those unknown marks unknown (both true, or a structure
// like v's with true at the leaves that are).
func flatten(path string, v, sens, unknown any, out map[string]string) {
	if sens == true {
		out[orRoot(path)] = sensitiveValue
		return
	}
	if unknown == true {
		out[orRoot(path)] = unknownValue
		return
	}
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch t := v.(type) {
	case map[string]any:
		sm, _ := sens.(map[string]any)
		um, _ := unknown.(map[string]any)
		for k, child := range t {
			flatten(join(k), child, sm[k], um[k], out)
		}
		for k, u := range um { // unknown attributes have no value yet
			if _, ok := t[k]; !ok {
				flatten(join(k), nil, sm[k], u, out)
			}
		}
		return
	case []any:
		ss, _ := sens.([]any)
		us, _ := unknown.([]any)
		for i, child := range t {
			flatten(join(fmt.Sprint(i)), child, at(ss, i), at(us, i), out)
		}
		return
	}
	text, err := json.Marshal(v)
	if err != nil {
		text = []byte(fmt.Sprint(v))
	}
	out[orRoot(path)] = string(text)
}

func orRoot(path string) string {
	if path == "" {
		return "value"
	}
	return path
}

func at(list []any, i int) any {
	if i < len(list) {
		return list[i]
	}
	return nil
}

func orNull(m map[string]string, k string) string {
	if v, ok := m[k]; ok {
		return v
	}
	return "null"
}

// Summarize reads a plan's resource and output changes.
func Summarize(p *tfjson.Plan) Summary {
	return summarize(p, func(s string) string { return s })
}

// summarize is Summarize with the changes' values passed through redact.
func summarize(p *tfjson.Plan, redact func(string) string) Summary {
	var s Summary
	for _, rc := range p.ResourceChanges {
		if rc.Change == nil {
			continue
		}
		a := rc.Change.Actions
		var action string
		switch {
		case a.NoOp(), a.Forget():
			continue
		case a.Replace():
			action = "replace"
			s.Add++
			s.Destroy++
		case a.Create():
			action = "create"
			s.Add++
		case a.Update():
			action = "update"
			s.Change++
		case a.Delete():
			action = "delete"
			s.Destroy++
		case a.Read():
			action = "read"
		default:
			continue
		}
		s.Changes = append(s.Changes, Change{Address: rc.Address, Action: action, Values: changeValues(action, rc.Change, redact)})
	}
	sort.Slice(s.Changes, func(i, j int) bool { return s.Changes[i].Address < s.Changes[j].Address })
	for name, oc := range p.OutputChanges {
		if oc != nil && !oc.Actions.NoOp() {
			s.Outputs = append(s.Outputs, name)
		}
	}
	sort.Strings(s.Outputs)
	return s
}

// hashedChange is what PlanHash covers of one change.
type hashedChange struct {
	Address      string         `json:"address"`
	Actions      tfjson.Actions `json:"actions"`
	Before       any            `json:"before"`
	After        any            `json:"after"`
	AfterUnknown any            `json:"after_unknown"`
}

// PlanHash returns a stable hash ("sha256:…") of the changes a plan makes:
// for every resource and output that changes, its address, its actions and
// its values before and after. It leaves out what differs between two plans
// of the same changes (the plan's timestamp, unchanged resources, the
// variables' values as such), so a plan made again later has the same hash
// if and only if it would do the same thing. Values marked sensitive are
// part of the hash, which reveals nothing of them.
func PlanHash(p *tfjson.Plan) (string, error) {
	var changes []hashedChange
	for _, rc := range p.ResourceChanges {
		if rc.Change == nil || rc.Change.Actions.NoOp() {
			continue
		}
		changes = append(changes, hashedChange{
			Address: rc.Address, Actions: rc.Change.Actions,
			Before: rc.Change.Before, After: rc.Change.After, AfterUnknown: rc.Change.AfterUnknown,
		})
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Address < changes[j].Address })
	for name, oc := range p.OutputChanges {
		if oc == nil || oc.Actions.NoOp() {
			continue
		}
		changes = append(changes, hashedChange{
			Address: "output." + name, Actions: oc.Actions,
			Before: oc.Before, After: oc.After, AfterUnknown: oc.AfterUnknown,
		})
	}
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].Address < changes[j].Address })
	// encoding/json writes map keys sorted, so equal changes give equal text.
	text, err := json.Marshal(changes)
	if err != nil {
		return "", fmt.Errorf("hash plan: %w", err)
	}
	sum := sha256.Sum256(text)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// ShortHash returns the first 12 hex digits of a PlanHash, for people.
func ShortHash(hash string) string {
	h := strings.TrimPrefix(hash, "sha256:")
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

// Diff describes how two summaries differ, for the message that refuses a
// changed plan: what the new plan does that the approved one did not, and
// the reverse. When both list the same changes (their values differ), it
// says so.
func Diff(approved, now Summary) string {
	key := func(c Change) string { return symbols[c.Action] + " " + c.Address }
	was := map[string]bool{}
	for _, c := range approved.Changes {
		was[key(c)] = true
	}
	is := map[string]bool{}
	var added, gone []string
	for _, c := range now.Changes {
		is[key(c)] = true
		if !was[key(c)] {
			added = append(added, key(c))
		}
	}
	for _, c := range approved.Changes {
		if !is[key(c)] {
			gone = append(gone, key(c))
		}
	}
	var parts []string
	if len(added) > 0 {
		parts = append(parts, "now also "+strings.Join(added, ", "))
	}
	if len(gone) > 0 {
		parts = append(parts, "no longer "+strings.Join(gone, ", "))
	}
	if len(parts) == 0 {
		return "the same resources change, but to other values"
	}
	return strings.Join(parts, "; ")
}
