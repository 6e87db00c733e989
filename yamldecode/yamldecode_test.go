package yamldecode

import (
	"strings"
	"testing"
	"time"
)

type inner struct {
	Count   uint8         `yaml:"count"`
	Wait    time.Duration `yaml:"wait"`
	Enabled bool          `yaml:"enabled"`
	Ratio   float64       `yaml:"ratio"`
}

type outer struct {
	Name  string           `yaml:"name"`
	Items []inner          `yaml:"items"`
	ByKey map[string]inner `yaml:"byKey"`
	Note  any              `yaml:"note"`
}

func TestDecodeReportsEveryProblemWithPathAndLine(t *testing.T) {
	doc := "name: x\nitems:\n  - count: 300\n    wiat: 5s\n  - enabled: maybe\n    ratio: NaN\nbyKey:\n  a: {wait: soon}\n  a: {}\nnote: {free: [form]}\n"
	for _, c := range []struct {
		name string
		warn bool
		want []string
	}{
		{"unknown is an error", false, []string{
			`items[0].count (line 3): 300 is too large for this field`,
			`items[0].wiat (line 4): unknown field (did you mean "wait"?); known fields here: count, wait, enabled, ratio`,
			`items[1].enabled (line 5): must be true or false, not "maybe"`,
			`items[1].ratio (line 6): must be a finite number, not "NaN"`,
			`byKey.a.wait (line 8): "soon" is not a duration`,
			`byKey.a (line 9): is given twice`,
		}},
		{"unknown is a warning", true, []string{
			`items[0].count (line 3): 300 is too large for this field`,
			`items[1].enabled (line 5): must be true or false, not "maybe"`,
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var v outer
			d := New(len(doc))
			d.Warn = c.warn
			err := d.Unmarshal([]byte(doc), &v)
			if err == nil {
				t.Fatal("the document was accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\nwant it to contain\n%s", err, w)
				}
			}
			if c.warn {
				if strings.Contains(err.Error(), "wiat") {
					t.Errorf("an unknown field is an error under Warn: %v", err)
				}
				if len(d.Warnings) != 1 || !strings.HasPrefix(d.Warnings[0].Error(), `items[0].wiat (line 4): unknown field (did you mean "wait"?)`) ||
					!strings.HasSuffix(d.Warnings[0].Message, "; ignored") {
					t.Errorf("warnings %v, want the unknown field wiat, ignored", d.Warnings)
				}
			}
			if v.Name != "x" || len(v.Items) != 2 || v.Note == nil {
				t.Errorf("the good fields were not decoded: %+v", v)
			}
		})
	}
}

// tree is lists of lists, as deep as the document goes.
type tree []tree

func TestDecodeStopsAtAnAliasBomb(t *testing.T) {
	// Ten times more at each level: 10,000 lists from a 200-byte document.
	doc := "a: &a [[], [], [], [], [], [], [], [], [], []]\n"
	for _, l := range []string{"b", "c", "d"} {
		prev := string(rune(l[0] - 1))
		doc += l + ": &" + l + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
	}
	var v map[string]tree
	d := New(len(doc))
	err := d.Unmarshal([]byte(doc), &v)
	if err == nil || !d.Aborted || !strings.Contains(err.Error(), "aliases expand to more than") {
		t.Fatalf("error %v (aborted %v), want the alias budget to stop it", err, d.Aborted)
	}
}

func TestSyntaxErrorHasItsLine(t *testing.T) {
	var v outer
	err := New(0).Unmarshal([]byte("name: x\nitems: [\n"), &v)
	var es FieldErrors
	if err == nil {
		t.Fatal("a broken document was accepted")
	}
	es, _ = err.(FieldErrors)
	if len(es) != 1 || es[0].Line == 0 || !strings.HasPrefix(es[0].Message, "not valid YAML: ") {
		t.Fatalf("error %#v, want one with a line", err)
	}
}
