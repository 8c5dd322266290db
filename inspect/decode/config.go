package decode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// maxConfigTries bounds how many "$Config" mentions ParseConfig tries. A
// page has one assignment, early in its head; the cap keeps a hostile page
// with thousands of mentions from making the search quadratic.
const maxConfigTries = 8

// ParseConfig extracts the $Config object from an Entra HTML page: the JSON
// between "$Config=" and the closing "//]]>" of its CDATA script. Only the
// first JSON value after the "=" is read, so a trailing ";" or more script
// does not matter. Numbers come back as float64, as encoding/json makes them.
func ParseConfig(page []byte) (map[string]any, error) {
	const marker = "$Config"
	rest := page
	var lastErr error
	for range maxConfigTries {
		i := bytes.Index(rest, []byte(marker))
		if i < 0 {
			break
		}
		rest = rest[i+len(marker):]
		v := bytes.TrimLeft(rest, " \t\r\n")
		if len(v) == 0 || v[0] != '=' {
			continue // "$Config.foo" or "$Config ||": not the assignment
		}
		v = bytes.TrimLeft(v[1:], " \t\r\n")
		if end := bytes.Index(v, []byte("//]]>")); end >= 0 {
			v = v[:end]
		}
		var cfg map[string]any
		if err := json.NewDecoder(bytes.NewReader(v)).Decode(&cfg); err != nil {
			lastErr = err
			continue
		}
		if cfg != nil {
			return cfg, nil
		}
	}
	if lastErr != nil {
		return nil, fmt.Errorf("parse $Config: %w", lastErr)
	}
	return nil, errors.New("page has no $Config object")
}

// ConfigError reads the error an Entra HTML page reports in its $Config:
// iErrorCode (numeric), sErrorCode (numeric, or symbolic such as
// "InvalidAccessPass", kept in SubError), the message from
// strServiceExceptionMessage, else strMainMessage and strAdditionalMessage
// (login.live.com: sErrTxt),
// correlationId and sessionId (the page's Request Id, the same value as
// trace_id). A page without any of them is not an error page.
func ConfigError(cfg map[string]any) (*AADSTSError, error) {
	e := &AADSTSError{Source: SourceHTMLConfig}
	if n, ok := configInt(cfg["iErrorCode"]); ok && n > 0 {
		e.Codes = append(e.Codes, n)
	}
	if n, ok := configInt(cfg["sErrorCode"]); ok {
		e.Codes = mergeCodes(e.Codes, []int{n})
	} else if s, ok := cfg["sErrorCode"].(string); ok {
		if _, numeric := atoiLoose(s); !numeric {
			e.SubError = strings.TrimSpace(s)
		}
	}
	// The service exception names the code and cause; the main and
	// additional messages are the page's generic wording, used only when
	// nothing better is there.
	switch {
	case configString(cfg["strServiceExceptionMessage"]) != "":
		e.Description = strings.TrimSpace(configString(cfg["strServiceExceptionMessage"]))
	case configString(cfg["strMainMessage"]) != "":
		e.Description = strings.TrimSpace(configString(cfg["strMainMessage"]) + " " + configString(cfg["strAdditionalMessage"]))
	default:
		e.Description = strings.TrimSpace(configString(cfg["sErrTxt"]))
	}
	e.CorrelationID = configString(cfg["correlationId"])
	e.TraceID = configString(cfg["sessionId"])
	e.fillFromDescription()
	if len(e.Codes) == 0 && e.Description == "" && e.SubError == "" {
		return nil, fmt.Errorf("$Config reports no error: %w", ErrNotError)
	}
	return e, nil
}

// configInt reads a code that $Config writes as a numeric string ("50058")
// or, in some pages, as a number.
func configInt(v any) (int, bool) {
	switch x := v.(type) {
	case string:
		n, ok := atoiLoose(x)
		return n, ok && n > 0
	case float64:
		if x > 0 && x < math.MaxInt32 && x == math.Trunc(x) {
			return int(x), true
		}
	}
	return 0, false
}

// configString reads a string value, tolerating numbers.
func configString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}
