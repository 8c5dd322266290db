//go:build unix

package trace

import "syscall"

// oNoFollow makes Create fail on a symlink, so a link planted at the
// recording's path cannot redirect private traffic into another file.
const oNoFollow = syscall.O_NOFOLLOW
