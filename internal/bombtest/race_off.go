//go:build !race

package bombtest

// TestSize is how far the bombs of tests inflate: 1 GiB, or 128 MiB under
// the race detector, which slows building them several times over. Either
// is many times any decode limit, and what tests assert (allocations
// bounded by the limit) does not depend on it.
const TestSize = GiB
