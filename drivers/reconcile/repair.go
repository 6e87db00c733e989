package reconcile

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// Repair is the `repair:` setting of a reconcile section, written either
// `repair: true` (re-copy missing and mismatched rows from the source of
// truth) or `repair: {deleteExtra: true}` (also delete the extra rows).
type Repair struct {
	Enabled bool `json:"enabled,omitempty"`
	// DeleteExtra deletes extra_in_target rows; off unless the spec says
	// so, since a delete on the target is the one repair a re-copy cannot
	// undo.
	DeleteExtra bool `json:"deleteExtra,omitempty"`
}

// UnmarshalYAML reads either written form.
func (r *Repair) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		var b bool
		if err := n.Decode(&b); err != nil {
			return fmt.Errorf("repair: want true, false or {deleteExtra: true}, got %q", n.Value)
		}
		*r = Repair{Enabled: b}
		return nil
	case yaml.MappingNode:
		*r = Repair{Enabled: true}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch k.Value {
			case "deleteExtra":
				if err := v.Decode(&r.DeleteExtra); err != nil {
					return fmt.Errorf("repair.deleteExtra: want true or false, got %q", v.Value)
				}
			case "enabled":
				if err := v.Decode(&r.Enabled); err != nil {
					return fmt.Errorf("repair.enabled: want true or false, got %q", v.Value)
				}
			default:
				return fmt.Errorf("repair: unknown field %q (known: deleteExtra, enabled)", k.Value)
			}
		}
		return nil
	}
	return fmt.Errorf("repair: want true, false or {deleteExtra: true}")
}
