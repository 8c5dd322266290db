//go:build !windows

package sysproxy

import "fmt"

func openWinINET() (Settings, error) {
	return nil, fmt.Errorf("%w: the Windows registry is only reachable from a Windows build", ErrUnavailable)
}
