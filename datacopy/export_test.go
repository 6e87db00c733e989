package datacopy

// WithBeforeCount returns o with f run before each count taken beside the
// copy (Options.beforeCount).
func WithBeforeCount(o Options, f func()) Options {
	o.beforeCount = f
	return o
}
