package mapping

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/godwit/godwit/suggest"
)

// Names rules: how a table or column not renamed by hand is named on the
// target.
const (
	RulePascal = "PascalCase" // order_line_id -> OrderLineId
	RuleCamel  = "camelCase"  // order_line_id -> orderLineId
	RuleSnake  = "snake_case" // OrderLineId -> order_line_id
	RuleLower  = "lower"      // Order_Line -> order_line
	RuleUpper  = "upper"      // order_line -> ORDER_LINE
	RuleAsIs   = "asIs"       // unchanged (the default)
)

// Rules lists the names rules, in the order the docs give them.
var Rules = []string{RulePascal, RuleCamel, RuleSnake, RuleLower, RuleUpper, RuleAsIs}

// CheckRule reports whether rule is a names rule ("" is asIs).
func CheckRule(rule string) error {
	if rule == "" {
		return nil
	}
	for _, r := range Rules {
		if r == rule {
			return nil
		}
	}
	return fmt.Errorf("names rule %q is not known: want one of %s%s", rule, strings.Join(Rules, " | "), suggest.DidYouMean(rule, Rules))
}

// ApplyRule names name by rule. PascalCase and camelCase split on "_" and
// capitalise each part (its other letters are kept: order_ID -> OrderID);
// snake_case splits on "_" and before each upper-case letter that starts a
// word (OrderLineId, orderLineID and HTTPServer give order_line_id,
// order_line_id and http_server). An unknown rule leaves name as it is
// (CheckRule refuses it first).
func ApplyRule(rule, name string) string {
	switch rule {
	case RulePascal, RuleCamel:
		var b strings.Builder
		for _, part := range strings.Split(name, "_") {
			if part == "" {
				continue
			}
			r := []rune(part)
			if b.Len() == 0 && rule == RuleCamel {
				r[0] = unicode.ToLower(r[0])
			} else {
				r[0] = unicode.ToUpper(r[0])
			}
			b.WriteString(string(r))
		}
		if b.Len() == 0 {
			return name // "_" alone: nothing to capitalise
		}
		return b.String()
	case RuleSnake:
		return snake(name)
	case RuleLower:
		return strings.ToLower(name)
	case RuleUpper:
		return strings.ToUpper(name)
	}
	return name
}

// snake splits name into words at "_" and at case boundaries and joins
// them lower-cased with "_".
func snake(name string) string {
	var words []string
	for _, part := range strings.Split(name, "_") {
		r := []rune(part)
		start := 0
		for i := 1; i < len(r); i++ {
			prevLower := unicode.IsLower(r[i-1]) || unicode.IsDigit(r[i-1])
			upperThenLower := unicode.IsUpper(r[i-1]) && unicode.IsUpper(r[i]) && i+1 < len(r) && unicode.IsLower(r[i+1])
			if unicode.IsUpper(r[i]) && (prevLower || upperThenLower) {
				words = append(words, string(r[start:i]))
				start = i
			}
		}
		if start < len(r) {
			words = append(words, string(r[start:]))
		}
	}
	if len(words) == 0 {
		return name
	}
	return strings.ToLower(strings.Join(words, "_"))
}
