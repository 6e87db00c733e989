package hook

import "github.com/godwit/godwit/redact"

// minVariantLen is the shortest encoded form of a secret that is redacted.
const minVariantLen = redact.MinFormLen

// Variants returns the forms in which a program commonly prints a secret
// (see redact.Forms), the value itself first.
func Variants(secret string) []string { return redact.Variants(secret) }
