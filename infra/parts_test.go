package infra

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOutputKeepsARedactedTail(t *testing.T) {
	cases := []struct {
		name    string
		max     int
		secrets []string
		writes  []string
		want    string
	}{
		{"short output as written", 100, nil, []string{"a\n", "b\n"}, "a\nb\n"},
		{"secrets hidden", 100, []string{"hunter2", ""}, []string{"pw=hunter2\n"}, "pw=***\n"},
		{"secret split across writes hidden", 100, []string{"hunter2"}, []string{"pw=hun", "ter2\n"}, "pw=***\n"},
		{"encoded secrets hidden", 100, []string{"hunter2"}, []string{"b64=aHVudGVyMg== hex=68756e74657232 rev=2retnuh\n"}, "b64=*** hex=*** rev=***\n"},
		{"only the tail kept", 4, nil, []string{"0123456789"}, "[... 6 bytes cut ...]\n6789"},
	}
	for _, c := range cases {
		o := NewOutput(c.max, c.secrets)
		for _, w := range c.writes {
			_, err := o.Write([]byte(w))
			require.NoError(t, err)
		}
		assert.Equal(t, c.want, o.String(), c.name)
	}
}

func TestLockedErrorReadsTerraformsMessage(t *testing.T) {
	msg := `exit status 1

Error: Error acquiring the state lock

Error message: resource temporarily unavailable
Lock Info:
  ID:        91a7e7c1-aaaa
  Path:      terraform.tfstate
  Operation: OperationTypePlan
  Who:       bob@laptop
  Version:   1.6.6
  Created:   2026-11-25 10:00:00 +0000 UTC
  Info:      
`
	cases := []struct {
		name string
		text string
		want *LockedError
	}{
		{"lock with holder", msg, &LockedError{ID: "91a7e7c1-aaaa", Operation: "OperationTypePlan", Who: "bob@laptop", Created: "2026-11-25 10:00:00 +0000 UTC"}},
		{"another error", "Error: No value for required variable", nil},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, lockedError(c.text), c.name)
	}
}

func TestVariablesFindsRequiredAndSensitive(t *testing.T) {
	vars, err := Variables(filepath.Join("..", "examples", "blue-green"))
	require.NoError(t, err)
	assert.Equal(t, []Variable{
		{Name: "app"},
		{Name: "deploy_token", Sensitive: true},
		{Name: "green_release"},
		{Name: "migration_phase", Required: true},
	}, vars)

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.tf"), []byte(`variable "x" {}
variable "y" { default = 1 }`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a_override.tf"), []byte(`variable "x" { default = "z" }`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.tf.json"), []byte(`{"variable": {"j": {}}}`), 0o644))
	vars, err = Variables(dir)
	require.NoError(t, err)
	assert.Equal(t, []Variable{{Name: "j", Required: true}, {Name: "x"}, {Name: "y"}}, vars)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.tf"), []byte(`variable "x" {`), 0o644))
	_, err = Variables(dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "broken.tf")
}

func TestDiffSaysWhatChanged(t *testing.T) {
	blue := Change{Address: "terraform_data.blue[0]", Action: "delete"}
	green := Change{Address: "terraform_data.green[0]", Action: "create"}
	cases := []struct {
		name          string
		approved, now []Change
		want          string
	}{
		{"a new change", []Change{green}, []Change{blue, green}, "now also - terraform_data.blue[0]"},
		{"a change gone", []Change{blue, green}, []Change{green}, "no longer - terraform_data.blue[0]"},
		{"same addresses", []Change{green}, []Change{green}, "the same resources change, but to other values"},
	}
	for _, c := range cases {
		got := Diff(Summary{Changes: c.approved}, Summary{Changes: c.now})
		assert.Equal(t, c.want, got, c.name)
	}
	assert.True(t, strings.HasPrefix(ShortHash("sha256:0123456789abcdef"), "0123456789ab"))
}

func TestInspectFindsOutputs(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(`output "address" { value = "x" }
output "password" {
  value     = "y"
  sensitive = true
}`), 0o644))
	c, err := Inspect(dir)
	require.NoError(t, err)
	assert.Equal(t, []OutputDecl{{Name: "address"}, {Name: "password", Sensitive: true}}, c.Outputs)
	assert.Empty(t, c.Variables)
}

// TestTerraformEnvironmentIsMinimal: Terraform gets BaseEnv, the TF_*
// names the spec lists and its secret variables — never the worker's store
// DSNs, keyring or a TF_VAR_ that would change the plan.
func TestTerraformEnvironmentIsMinimal(t *testing.T) {
	t.Setenv("ORDERS_DSN", "postgres://app:tf-dsn-pw@db/x")
	t.Setenv("GODWIT_CODEC_KEYS", "k1:a2V5a2V5")
	t.Setenv("TF_PLUGIN_CACHE_DIR", "/cache")
	t.Setenv("TF_VAR_region", "elsewhere")
	t.Setenv("PATH", "/usr/bin:/bin")
	env := environ([]string{"TF_PLUGIN_CACHE_DIR", "TF_VAR_region", "GODWIT_CODEC_KEYS"}, map[string]string{"AWS_SECRET_ACCESS_KEY": "aws-s"})
	for name := range env {
		switch name {
		case "PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "TF_PLUGIN_CACHE_DIR", "AWS_SECRET_ACCESS_KEY":
		default:
			t.Errorf("Terraform would get %s=%s", name, env[name])
		}
	}
	if env["TF_PLUGIN_CACHE_DIR"] != "/cache" || env["AWS_SECRET_ACCESS_KEY"] != "aws-s" || env["PATH"] != "/usr/bin:/bin" {
		t.Errorf("environment %v lacks the named TF_* variable, the secret or PATH", env)
	}
}

// TestDetailedShowsTheValuesAChangeSetsOrRemoves: what a person approving
// a plan sees: the values a delete removes and a create sets (unknown ones
// said so), an update's changed attributes before and after, sensitive
// values masked, the module's secrets redacted.
func TestDetailedShowsTheValuesAChangeSetsOrRemoves(t *testing.T) {
	p := &tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{
		{Address: "terraform_data.blue[0]", Change: &tfjson.Change{
			Actions:         tfjson.Actions{tfjson.ActionDelete},
			Before:          map[string]any{"id": "b1", "input": map[string]any{"address": "http://blue:8080", "token": "hunter2"}, "triggers_replace": nil},
			BeforeSensitive: map[string]any{"input": map[string]any{"token": true}},
		}},
		{Address: "terraform_data.green[0]", Change: &tfjson.Change{
			Actions:      tfjson.Actions{tfjson.ActionCreate},
			After:        map[string]any{"input": map[string]any{"release": "v2", "note": "key s3cr3t"}},
			AfterUnknown: map[string]any{"id": true},
		}},
		{Address: "terraform_data.lb", Change: &tfjson.Change{
			Actions: tfjson.Actions{tfjson.ActionUpdate},
			Before:  map[string]any{"id": "l1", "input": map[string]any{"weights": []any{100.0, 0.0}}},
			After:   map[string]any{"id": "l1", "input": map[string]any{"weights": []any{0.0, 100.0}}},
		}},
	}}
	s := summarize(p, func(v string) string { return strings.ReplaceAll(v, "s3cr3t", "***") })
	assert.Equal(t, `1 to add, 1 to change, 1 to destroy: `+
		`- terraform_data.blue[0] {id: "b1", input.address: "http://blue:8080", input.token: (sensitive)}, `+
		`+ terraform_data.green[0] {id: (known after apply), input.note: "key ***", input.release: "v2"}, `+
		`~ terraform_data.lb {input.weights.0: 100 → 0, input.weights.1: 0 → 100}`, s.Detailed())
	assert.Equal(t, "1 to add, 1 to change, 1 to destroy: - terraform_data.blue[0], + terraform_data.green[0], ~ terraform_data.lb", s.String(),
		"String stays addresses only, for summaries and messages")
}

// TestLongValuesAreCutOnACharacter: a change's values are bounded, and
// the cut never splits a character (the text goes into JSON and history).
func TestLongValuesAreCutOnACharacter(t *testing.T) {
	for n := 0; n < 4; n++ {
		before := map[string]any{"a": strings.Repeat("x", 231+n)}
		after := map[string]any{"a": "y"}
		v := changeValues("update", &tfjson.Change{Before: before, After: after}, func(s string) string { return s })
		assert.True(t, utf8.ValidString(v), "%q", v)
		assert.True(t, strings.HasSuffix(v, "…"), v)
		assert.LessOrEqual(t, len(v), maxValues+len("…"))
	}
}
