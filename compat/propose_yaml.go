package compat

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/godwit/godwit/config"
)

// todoComment begins a comment on a guess that holds but wants a person's
// confirmation; a value starting config.Placeholder is a question validate
// refuses until it is answered.
const todoComment = config.Placeholder + ": confirm: "

// YAML writes the proposal as one entry of a spec's `mappings:` between
// the stores from and to. Inferred renames are written as rules with a
// TODO comment to confirm (the spec validates with them); what cannot be
// inferred (an ambiguous rename, the value of a NOT NULL column with no
// default) is a placeholder that validate refuses until it is filled in.
func (p Proposal) YAML(from, to string) *yaml.Node {
	m := newMap()
	put(m, "from", scalar(from))
	put(m, "to", scalar(to))
	if p.Names != "" {
		n := put(m, "names", scalar(p.Names))
		n.LineComment = "most names follow this rule; the others are renamed below"
	}
	tables := newMap()
	put(m, "tables", tables)
	var head []string
	if len(p.Gone) > 0 {
		head = append(head, "Not carried (gone from the after schema, no table with their columns or their primary key appeared): "+strings.Join(p.Gone, ", "))
	}
	if len(p.New) > 0 {
		head = append(head, "New in the after schema, not written by this mapping (create them with a migration of their own): "+strings.Join(p.New, ", "))
	}
	m.Content[len(m.Content)-2].HeadComment = strings.Join(head, "\n")
	for _, t := range p.Tables {
		put(tables, t.Source, t.node())
	}
	return m
}

// node writes one table's rules; {} when the names rule says it all.
func (t ProposedTable) node() *yaml.Node {
	m := newMap()
	switch {
	case len(t.Candidates) > 0:
		put(m, "to", scalar(fmt.Sprintf("%s: the table %s became; one of %s (each appeared with its columns), or remove %s to leave it behind", config.Placeholder, t.Source, strings.Join(t.Candidates, ", "), t.Source)))
		return m
	case t.TargetNote != "":
		put(m, "to", scalar(t.Target)).LineComment = todoComment + strings.TrimPrefix(t.TargetNote, "confirm: ")
	}
	if len(t.Renames) > 0 {
		cols := newMap()
		for _, r := range t.Renames {
			if r.To != "" && r.ToType != "" {
				put(cols, r.From, scalar(r.To)).LineComment = fmt.Sprintf("%s%s is gone and %s appeared, %s widened to %s", todoComment, r.From, r.To, r.Type, r.ToType)
				continue
			}
			if r.To != "" {
				put(cols, r.From, scalar(r.To)).LineComment = fmt.Sprintf("%s%s is gone and %s appeared, both %s", todoComment, r.From, r.To, r.Type)
				continue
			}
			put(cols, r.From, scalar(fmt.Sprintf("%s: the new name of %s (%s): one of %s, or move %s to drop:", config.Placeholder, r.From, r.Type, strings.Join(r.Candidates, ", "), r.From)))
		}
		put(m, "columns", cols)
	}
	if len(t.Drop) > 0 {
		seq := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, d := range t.Drop {
			seq.Content = append(seq.Content, scalar(d))
		}
		put(m, "drop", seq).LineComment = "gone from the after schema; no new column is theirs for certain"
	}
	if len(t.Add) > 0 {
		adds := newMap()
		for _, a := range t.Add {
			n := newMap()
			n.Style = yaml.FlowStyle
			var note []string
			if a.Expr == "" {
				put(n, "expr", scalar(fmt.Sprintf("%s: an SQL expression over the source row giving %s (NOT NULL, no constant default)", config.Placeholder, a.Name)))
			} else {
				e := scalar(a.Expr)
				e.Style = yaml.DoubleQuotedStyle // NULL and false stay text, not YAML's null and bool
				put(n, "expr", e)
				note = append(note, "new in the after schema; "+a.Expr+" for the rows carried")
			}
			put(n, "type", scalar(a.Type))
			if a.Note != "" {
				note = append(note, a.Note)
			}
			v := put(adds, a.Name, n)
			if len(note) > 0 {
				v.LineComment = todoComment + strings.Join(note, "; ")
			}
		}
		put(m, "add", adds)
	}
	if len(t.Cast) > 0 {
		casts := newMap()
		for _, c := range t.Cast {
			n := newMap()
			n.Style = yaml.FlowStyle
			put(n, "type", scalar(c.To))
			note := fmt.Sprintf("%s to %s (%s)", c.From, c.To, c.Change)
			if c.Change != TypeWidened {
				note = todoComment + note + ": preflight refuses it unless every value fits, or lossy: true"
			}
			put(casts, c.Column, n).LineComment = note
		}
		put(m, "cast", casts)
	}
	if len(m.Content) == 0 {
		m.Style = yaml.FlowStyle
	}
	return m
}

func newMap() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }

// put appends key: v to m and returns v.
func put(m *yaml.Node, key string, v *yaml.Node) *yaml.Node {
	m.Content = append(m.Content, scalar(key), v)
	return v
}
