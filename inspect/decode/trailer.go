package decode

import (
	"regexp"
	"strings"
	"time"
)

// trailerLabels are the labels Entra appends to every error description.
// Older bodies separate them with CRLF, 2023+ bodies with a space, and MSAL's
// fixtures with nothing at all, so the parser only relies on the labels.
var trailerLabels = [...]string{"trace id:", "correlation id:", "timestamp:"}

// ParseTrailer splits an error description into the human message and the
// trailer's Trace ID, Correlation ID and Timestamp. Missing parts are empty
// (zero time). It accepts CRLF, space or no separator between the parts.
func ParseTrailer(desc string) (msg, traceID, correlationID string, ts time.Time) {
	lower := asciiLower(desc)
	// The trailer sits at the end, so the last occurrence of each label is
	// the trailer's even if the message happens to mention one.
	var at [len(trailerLabels)]int
	start := len(desc)
	for i, l := range trailerLabels {
		at[i] = strings.LastIndex(lower, l)
		if at[i] >= 0 && at[i] < start {
			start = at[i]
		}
	}
	msg = strings.TrimSpace(desc[:start])
	value := func(i int) string {
		if at[i] < 0 {
			return ""
		}
		from := at[i] + len(trailerLabels[i])
		end := len(desc)
		for j := range at {
			if at[j] >= from && at[j] < end {
				end = at[j]
			}
		}
		return strings.TrimSpace(desc[from:end])
	}
	traceID = firstField(value(0))
	correlationID = firstField(value(1))
	ts = ParseTimestamp(value(2))
	return msg, traceID, correlationID, ts
}

// timestampRE finds the two timestamp shapes Entra uses: "2016-01-09
// 02:02:12Z" in JSON and descriptions, ISO "2024-03-19T08:08:52Z" on the HTML
// page, and .NET round-trip times with seven fractional digits.
var timestampRE = regexp.MustCompile(`\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})?`)

// ParseTimestamp returns the first Entra-style timestamp in s, in UTC, or the
// zero time when there is none. A time without a zone is taken as UTC, which
// is what Entra always writes.
func ParseTimestamp(s string) time.Time {
	m := timestampRE.FindString(s)
	if m == "" {
		return time.Time{}
	}
	m = strings.Replace(m, " ", "T", 1)
	if !strings.HasSuffix(m, "Z") && !strings.ContainsAny(m[len("2006-01-02T15:04:05"):], "+-") {
		m += "Z"
	}
	t, err := time.Parse(time.RFC3339Nano, m)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// firstField returns s up to its first whitespace.
func firstField(s string) string {
	if i := strings.IndexAny(s, " \t\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// asciiLower lowercases ASCII letters only, so byte offsets in the result are
// valid in the input (strings.ToLower may change the length of invalid or
// special UTF-8).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
