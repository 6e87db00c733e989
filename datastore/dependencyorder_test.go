package datastore

import (
	"slices"
	"testing"
)

// Sakila's store and staff reference each other. The cycle was broken at
// the first table left by name — customer, which references store but is
// in no cycle — so customers came before their store: a change capture
// batch writing a store and its customers was refused by the target's
// foreign key, and so was every retry. The cycle is broken at one of its
// own tables; the tables that depend on it come after it.
func TestDependencyOrderBreaksACycleAtOneOfItsTables(t *testing.T) {
	refs := func(name string, parents ...string) *Table {
		tb := &Table{Name: name}
		for _, p := range parents {
			tb.ForeignKeys = append(tb.ForeignKeys, ForeignKey{RefTable: p})
		}
		return tb
	}
	tables := []*Table{
		refs("address"),
		refs("customer", "store", "address"),
		refs("inventory", "store"),
		refs("payment", "customer", "staff", "rental"),
		refs("rental", "inventory", "customer", "staff"),
		refs("staff", "store", "address"),
		refs("store", "staff", "address"),
		refs("tree", "tree"),
	}
	var order []string
	for _, tb := range DependencyOrder(tables) {
		order = append(order, tb.Name)
	}
	if len(order) != len(tables) {
		t.Fatalf("order %v, want every table once", order)
	}
	at := func(n string) int { return slices.Index(order, n) }
	for _, tb := range tables {
		for _, fk := range tb.ForeignKeys {
			cycle := (tb.Name == "staff" && fk.RefTable == "store") || (tb.Name == "store" && fk.RefTable == "staff")
			if fk.RefTable != tb.Name && !cycle && at(fk.RefTable) > at(tb.Name) {
				t.Errorf("order %v: %s comes before %s, which it references", order, tb.Name, fk.RefTable)
			}
		}
	}
}
