//go:build race

package trace

// raceEnabled shrinks the large-file test: the race detector slows reading
// several times over, and the bound it checks does not depend on size.
const raceEnabled = true
