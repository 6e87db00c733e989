// Package mappingtest holds the mapping the tests of several packages
// carry rows through, so that they exercise the same rules.
package mappingtest

import "github.com/godwit/godwit/mapping"

// SalesLine renames, drops, computes and filters: order_line (snake case:
// order_line_id, unit_price, quantity, legacy_note, …) becomes SalesLine
// (PascalCase) with unit_price as Price, legacy_note dropped, LineTotal
// computed as unit_price * quantity, and only rows with quantity > 0.
func SalesLine() *mapping.Spec {
	return &mapping.Spec{Names: mapping.RulePascal, Tables: map[string]mapping.TableSpec{
		"order_line": {
			To:      "SalesLine",
			Columns: map[string]string{"unit_price": "Price"},
			Drop:    []string{"legacy_note"},
			Add:     map[string]mapping.Computed{"LineTotal": {Expr: "unit_price * quantity", Type: "decimal(12,2)"}},
			Where:   "quantity > 0",
		},
	}}
}
