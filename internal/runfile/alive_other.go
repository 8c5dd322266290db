//go:build !unix && !windows

package runfile

// alive cannot tell on this platform, so every run file counts as live.
func alive(pid int) bool { return true }
