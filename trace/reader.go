package trace

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/aadproxy/aadproxy/flow"
)

// DamageError reports a HAR file that is cut short or malformed. Every entry
// before the damage was delivered; Entry is how many that was, and Offset is
// the byte position where the unreadable part starts.
type DamageError struct {
	Offset int64
	Entry  int
	Err    error
}

func (e *DamageError) Error() string {
	return fmt.Sprintf("damaged HAR at byte %d, after %d complete entries: %v", e.Offset, e.Entry, e.Err)
}

func (e *DamageError) Unwrap() error { return e.Err }

type readerState int

const (
	inTop     readerState = iota // inside the document object
	inLog                        // inside "log"
	inEntries                    // inside "log.entries"
	finished                     // the document was read to its end
)

// Reader reads a HAR one entry at a time, so memory is bounded by the largest
// entry rather than the file. It walks the document with json.Decoder tokens:
// fields of "log" before "entries" are read by NewReader, those after it once
// Next has returned io.EOF.
type Reader struct {
	dec    *json.Decoder
	state  readerState
	sawLog bool
	log    Log
	n      int   // entries returned
	start  int64 // offset where the last entry read began
	base   int64 // bytes skipped before the decoder's input (a BOM)
	err    error // sticky
}

// NewReader starts reading a HAR document from r and reads the log's fields
// up to its entries. A document cut short or malformed before then is
// reported as a *DamageError. A leading UTF-8 byte order mark, which
// Fiddler writes, is skipped as the HAR spec asks.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReader(r)
	base := skipBOM(br)
	rd := &Reader{dec: json.NewDecoder(br), base: base}
	tok, err := rd.dec.Token()
	if err != nil {
		return nil, rd.damage(0, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("not a HAR document: it starts with %v, not an object", tok)
	}
	rd.state = inTop
	if err := rd.seek(); err != nil {
		return nil, err
	}
	if !rd.sawLog {
		return nil, errors.New(`not a HAR document: it has no "log" object`)
	}
	return rd, nil
}

// Log returns the log's fields read so far, without entries.
func (r *Reader) Log() Log { return r.log }

// Next returns the next entry, or io.EOF after the last one once the whole
// document has been read. Damage is reported as a *DamageError, and every
// later call returns it again.
func (r *Reader) Next() (*Entry, error) {
	if r.err != nil {
		return nil, r.err
	}
	for {
		switch r.state {
		case finished:
			return nil, io.EOF
		case inEntries:
			if !r.dec.More() {
				// Expect ']' (or find the damage that stopped More).
				if err := r.expectDelim(']'); err != nil {
					return nil, err
				}
				r.state = inLog
				if err := r.seek(); err != nil {
					return nil, err
				}
				continue
			}
			r.start = r.dec.InputOffset()
			e := new(Entry)
			if err := r.dec.Decode(e); err != nil {
				return nil, r.fail(r.start, err)
			}
			r.n++
			return e, nil
		default:
			// seek leaves the reader only in inEntries or finished.
			return nil, r.fail(r.dec.InputOffset(), errors.New("reader lost its place"))
		}
	}
}

// seek walks forward to the next entries array or the end of the document,
// reading the log's fields on the way.
func (r *Reader) seek() error {
	for {
		switch r.state {
		case inTop:
			if !r.dec.More() {
				if err := r.expectDelim('}'); err != nil {
					return err
				}
				// Only whitespace may follow the document.
				if tok, err := r.dec.Token(); err != io.EOF {
					if err == nil {
						err = fmt.Errorf("unexpected %v after the document", tok)
					}
					return r.fail(r.dec.InputOffset(), err)
				}
				r.state = finished
				return nil
			}
			key, err := r.key()
			if err != nil {
				return err
			}
			if key == "log" && !r.sawLog {
				if err := r.expectDelim('{'); err != nil {
					return err
				}
				r.sawLog = true
				r.state = inLog
				continue
			}
			if err := r.skip(); err != nil {
				return err
			}
		case inLog:
			if !r.dec.More() {
				if err := r.expectDelim('}'); err != nil {
					return err
				}
				r.state = inTop
				continue
			}
			key, err := r.key()
			if err != nil {
				return err
			}
			if key == "entries" {
				off := r.dec.InputOffset()
				tok, err := r.dec.Token()
				if err != nil {
					return r.fail(off, err)
				}
				switch tok {
				case json.Delim('['):
					r.state = inEntries
					return nil
				case nil:
					continue // "entries": null holds no entries
				}
				return r.fail(off, fmt.Errorf("log.entries is %v, not an array", tok))
			}
			if err := r.logField(key); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// logField reads one field of "log". A field of an unexpected type is
// ignored: the entries are what matters.
func (r *Reader) logField(key string) error {
	off := r.dec.InputOffset()
	var raw json.RawMessage
	if err := r.dec.Decode(&raw); err != nil {
		return r.fail(off, err)
	}
	switch key {
	case "version":
		_ = json.Unmarshal(raw, &r.log.Version)
	case "creator":
		_ = json.Unmarshal(raw, &r.log.Creator)
	case "browser":
		var b Creator
		if json.Unmarshal(raw, &b) == nil {
			r.log.Browser = &b
		}
	case "pages":
		_ = json.Unmarshal(raw, &r.log.Pages)
	case "comment":
		_ = json.Unmarshal(raw, &r.log.Comment)
	}
	return nil
}

func (r *Reader) key() (string, error) {
	off := r.dec.InputOffset()
	tok, err := r.dec.Token()
	if err != nil {
		return "", r.fail(off, err)
	}
	k, ok := tok.(string)
	if !ok {
		return "", r.fail(off, fmt.Errorf("expected an object key, got %v", tok))
	}
	return k, nil
}

func (r *Reader) skip() error {
	off := r.dec.InputOffset()
	var raw json.RawMessage
	if err := r.dec.Decode(&raw); err != nil {
		return r.fail(off, err)
	}
	return nil
}

func (r *Reader) expectDelim(want json.Delim) error {
	off := r.dec.InputOffset()
	tok, err := r.dec.Token()
	if err != nil {
		return r.fail(off, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return r.fail(off, fmt.Errorf("expected %q, got %v", want, tok))
	}
	return nil
}

func (r *Reader) damage(off int64, err error) *DamageError {
	if errors.Is(err, io.EOF) {
		// The document ended before it was complete.
		err = io.ErrUnexpectedEOF
	}
	return &DamageError{Offset: r.base + off, Entry: r.n, Err: err}
}

func (r *Reader) fail(off int64, err error) error {
	r.err = r.damage(off, err)
	return r.err
}

// ReadFile reads the HAR at path and calls fn with each entry converted to a
// flow, in order. It returns how many entries fn accepted. A file cut short
// or malformed yields every complete entry before the damage, then a
// *DamageError, returned as it is (not wrapped) so callers can type-switch on
// it; an error from fn stops the reading and is also returned as it is.
func ReadFile(path string, fn func(index int, f *flow.Flow) error) (n int, err error) {
	file, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read HAR: %w", err)
	}
	defer file.Close()
	return readFlows(file, path, fn)
}

// readFlows is ReadFile on any reader; name is used in messages.
func readFlows(src io.Reader, name string, fn func(index int, f *flow.Flow) error) (n int, err error) {
	r, err := NewReader(src)
	if err != nil {
		if d, ok := err.(*DamageError); ok {
			return 0, d
		}
		return 0, fmt.Errorf("read HAR %s: %w", name, err)
	}
	for {
		e, err := r.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		f, err := FlowFromEntry(e, n)
		if err != nil {
			return n, &DamageError{Offset: r.base + r.start, Entry: n, Err: err}
		}
		if err := fn(n, f); err != nil {
			return n, err
		}
		n++
	}
}
