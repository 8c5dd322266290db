//go:build !unix

package trace

// oNoFollow is 0 where the platform has no O_NOFOLLOW; Create still checks
// that it opened a regular file.
const oNoFollow = 0
