// Package integration holds Godwit's end-to-end tests: a real Temporal dev
// server (started by the tests), a worker in the test process with the real
// activities, and the CLI driving migrations whose command hooks change
// real files.
package integration
