package glob

import "testing"

func TestMatch(t *testing.T) {
	cases := []struct {
		name, pattern, table string
		want                 bool
	}{
		{"a negated class leaves out what it names", "[!n]*", "nokey_log", false},
		{"a negated class takes the rest", "[!n]*", "big_1", true},
		{"a negated range", "orders_[!0-9]*", "orders_2024", false},
		{"a negated range takes a letter", "orders_[!0-9]*", "orders_archive", true},
		{"the caret form still negates", "[^n]*", "nokey_log", false},
		{"a plain class", "orders_202[34]", "orders_2023", true},
		{"an escaped bracket is literal", `a\[!b]`, "a[!b]", true},
		{"a ! inside a class is a character", "[a!]x", "!x", true},
		{"star", "orders_*", "orders_archive", true},
		{"literal", "customers", "customer", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Match(c.pattern, c.table)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("Match(%q, %q) = %v, want %v", c.pattern, c.table, got, c.want)
			}
		})
	}
}

func TestMatchRefusesAnUnbalancedClass(t *testing.T) {
	if _, err := Match("[!ab", "a"); err == nil {
		t.Fatal("an unbalanced [! was accepted")
	}
}
