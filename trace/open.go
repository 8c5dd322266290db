package trace

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aadproxy/aadproxy/flow"
)

// Formats Open recognises, as it reports them.
const (
	FormatHAR = "har"
	FormatSAZ = "saz"
)

// progressInterval is the least time between two progress updates.
const progressInterval = 250 * time.Millisecond

// utf8BOM starts some HAR files: Fiddler's .NET writer puts one there, and
// the HAR spec asks readers to accept and ignore it.
var utf8BOM = []byte("\xef\xbb\xbf")

// OpenOptions tune Open. The zero value reads quietly.
type OpenOptions struct {
	// Progress, when set, receives the percentage of the file read, at
	// most a few times a second, as one line rewritten with carriage
	// returns and ended with a newline. Pass a terminal (stderr when it is
	// one), never a file or pipe someone parses.
	Progress io.Writer
}

// Open reads the trace at path, whatever its format, and calls fn with each
// exchange converted to a flow, in order. It recognises HAR (browsers'
// exports, Fiddler Everywhere, Charles, aadproxy's own recordings) and
// Fiddler Classic SAZ archives by their content, not their name, and
// returns the format it found (FormatHAR or FormatSAZ).
//
// A file cut short or malformed yields every complete exchange before the
// damage, then a *DamageError (HAR) or *SAZDamageError (SAZ), returned as
// it is; Damaged tells either from an unreadable file. An error from fn
// stops the reading and is returned as it is.
func Open(path string, fn func(index int, f *flow.Flow) error) (n int, format string, err error) {
	return OpenWith(path, OpenOptions{}, fn)
}

// OpenWith is Open with options.
func OpenWith(path string, opts OpenOptions, fn func(index int, f *flow.Flow) error) (n int, format string, err error) {
	file, err := os.Open(path)
	if err != nil {
		return 0, "", fmt.Errorf("open trace: %w", err)
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return 0, "", fmt.Errorf("open trace: %w", err)
	}
	if !st.Mode().IsRegular() {
		return 0, "", fmt.Errorf("open trace %s: not a regular file", path)
	}
	size := st.Size()
	var prog *progress
	if opts.Progress != nil {
		prog = &progress{w: opts.Progress, total: size, label: filepath.Base(path)}
		defer func() { prog.finish(err == nil) }()
	}

	format, err = sniff(file)
	if err != nil {
		return 0, "", fmt.Errorf("open trace %s: %w", path, err)
	}
	switch format {
	case FormatSAZ:
		var ra io.ReaderAt = file
		if prog != nil {
			ra = &progressReaderAt{r: file, p: prog}
		}
		n, err = readSAZ(ra, size, path, fn)
		return n, format, err
	default:
		if _, err := file.Seek(0, io.SeekStart); err != nil {
			return 0, format, fmt.Errorf("open trace %s: %w", path, err)
		}
		var r io.Reader = file
		if prog != nil {
			r = &progressReader{r: file, p: prog}
		}
		n, err = readFlows(r, path, fn)
		return n, format, err
	}
}

// Format tells the format of the trace at path (FormatHAR or FormatSAZ) from
// its first bytes, as Open does, without reading the rest.
func Format(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("open trace: %w", err)
	}
	defer f.Close()
	format, err := sniff(f)
	if err != nil {
		return "", fmt.Errorf("open trace %s: %w", path, err)
	}
	return format, nil
}

// sniff tells a trace's format from its first bytes.
func sniff(r io.ReaderAt) (string, error) {
	head := make([]byte, 512)
	n, err := r.ReadAt(head, 0)
	if n == 0 {
		if err == nil || err == io.EOF {
			return "", errors.New("the file is empty")
		}
		return "", err
	}
	whole := n < len(head)
	head = head[:n]
	if bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte("PK\x05\x06")) {
		return FormatSAZ, nil
	}
	rest := bytes.TrimLeft(bytes.TrimPrefix(head, utf8BOM), " \t\r\n")
	if len(rest) > 0 && rest[0] == '{' {
		return FormatHAR, nil
	}
	if len(rest) == 0 && whole {
		return "", errors.New("the file holds only white space")
	}
	return "", errors.New("not a HAR (JSON) or SAZ (zip) file")
}

// Damaged reports whether err says a trace was cut short or malformed, as
// opposed to unreadable: the exchanges before the damage were delivered.
func Damaged(err error) bool {
	var d *DamageError
	var s *SAZDamageError
	return errors.As(err, &d) || errors.As(err, &s)
}

// progress prints how much of a file has been read.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	label   string
	total   int64
	done    int64
	last    time.Time
	lastPct int
	printed bool
	now     func() time.Time // time.Now; a test's clock in tests
}

func (p *progress) advance(to int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if to <= p.done {
		return
	}
	p.done = to
	now := time.Now()
	if p.now != nil {
		now = p.now()
	}
	if p.printed && now.Sub(p.last) < progressInterval {
		return
	}
	pct := p.percent()
	if p.printed && pct == p.lastPct {
		return
	}
	p.last, p.lastPct, p.printed = now, pct, true
	fmt.Fprintf(p.w, "\rreading %s: %3d%%", p.label, pct)
}

func (p *progress) percent() int {
	if p.total <= 0 {
		return 100
	}
	return int(min(p.done, p.total) * 100 / p.total)
}

// finish ends the progress line, at 100% when the whole file was read.
func (p *progress) finish(ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pct := p.percent()
	if ok {
		pct = 100
	}
	fmt.Fprintf(p.w, "\rreading %s: %3d%%\n", p.label, pct)
}

type progressReader struct {
	r   io.Reader
	p   *progress
	off int64
}

func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.off += int64(n)
	r.p.advance(r.off)
	return n, err
}

// progressReaderAt counts the bytes read wherever they are: a zip is read
// central directory (at its end) first, then every part once, so the sum
// tracks the work done where the furthest offset would jump to 100% at once.
type progressReaderAt struct {
	r io.ReaderAt
	p *progress

	mu  sync.Mutex
	sum int64
}

func (r *progressReaderAt) ReadAt(b []byte, off int64) (int, error) {
	n, err := r.r.ReadAt(b, off)
	r.mu.Lock()
	r.sum += int64(n)
	sum := r.sum
	r.mu.Unlock()
	r.p.advance(sum)
	return n, err
}

// ConvertOptions tune Convert. The zero value converts quietly.
type ConvertOptions struct {
	// Progress is as in OpenOptions.
	Progress io.Writer
	// Version is the aadproxy version written as the HAR's creator.
	Version string
	// Transform, when set, is applied to each flow before it is written,
	// and what it returns is written instead (sanitize uses it, so no
	// unsanitized copy is ever written). It must not keep the flows it is
	// given, and may return an error to stop the conversion.
	Transform func(*flow.Flow) (*flow.Flow, error)
}

// Convert converts the trace at in (any format Open reads) to out, whose
// extension chooses the format: .har or .saz. It never touches in: it
// refuses an out that is the same file (by path, symlink or hard link). The
// output is written to a private temporary file in out's folder and renamed
// into place only when complete, so an error leaves no output, and an
// existing out is replaced only on success. Damaged input is an error
// (naming where the damage is) and produces no output.
func Convert(in, out string) error { return ConvertWith(in, out, ConvertOptions{}) }

// ConvertWith is Convert with options.
func ConvertWith(in, out string, opts ConvertOptions) error {
	format := strings.ToLower(filepath.Ext(out))
	if format != ".har" && format != ".saz" {
		return fmt.Errorf("convert to %s: unknown output format %q; use .har or .saz", out, filepath.Ext(out))
	}
	inSt, err := os.Stat(in)
	if err != nil {
		return fmt.Errorf("convert %s: %w", in, err)
	}
	if outSt, err := os.Stat(out); err == nil && os.SameFile(inSt, outSt) {
		return fmt.Errorf("convert %s: the output %s is the input file; choose another name", in, out)
	}
	ropts := OpenOptions{Progress: opts.Progress}
	// Each flow is read, transformed and written before the next is read:
	// memory is bounded by one flow, whatever the trace's length.
	each := func(write func(*flow.Flow) error) func(int, *flow.Flow) error {
		return func(_ int, f *flow.Flow) error {
			if opts.Transform != nil {
				var err error
				if f, err = opts.Transform(f); err != nil {
					return err
				}
			}
			return write(f)
		}
	}
	return writeAtomic(out, func(w io.Writer) error {
		var n int
		var err error
		if format == ".saz" {
			sw := NewSAZWriter(w, 0)
			n, _, err = OpenWith(in, ropts, each(sw.Write))
			if err == nil {
				err = sw.Close()
			}
		} else {
			hw := newHARWriter(w, "aadproxy", opts.Version)
			n, _, err = OpenWith(in, ropts, each(hw.write))
			if err == nil {
				err = hw.close()
			}
		}
		if err != nil {
			if Damaged(err) {
				return fmt.Errorf("convert %s: %w (no output written; %d exchanges before the damage were readable)", in, err, n)
			}
			return fmt.Errorf("convert %s: %w", in, err)
		}
		return nil
	})
}

// harWriter streams a HAR document, one entry at a time.
type harWriter struct {
	w   io.Writer
	n   int
	buf []byte
	err error
}

func newHARWriter(w io.Writer, creator, version string) *harWriter {
	hw := &harWriter{w: w}
	_, hw.err = w.Write(logHeader(creator, version))
	return hw
}

func (h *harWriter) write(f *flow.Flow) error {
	if h.err != nil {
		return h.err
	}
	enc := &encoder{b: h.buf[:0], out: h.w}
	if h.n > 0 {
		enc.b = append(enc.b, ',')
	}
	enc.b = append(enc.b, '\n')
	entryFromFlow(f).encode(enc)
	enc.flush()
	h.buf = enc.b[:0]
	if enc.err != nil {
		h.err = fmt.Errorf("write HAR entry %d: %w", h.n, enc.err)
		return h.err
	}
	h.n++
	return nil
}

func (h *harWriter) close() error {
	if h.err != nil {
		return h.err
	}
	if _, err := io.WriteString(h.w, trailer); err != nil {
		return fmt.Errorf("write HAR: %w", err)
	}
	return nil
}

// skipBOM drops a leading UTF-8 byte order mark and says how long it was.
func skipBOM(br *bufio.Reader) int64 {
	if b, err := br.Peek(len(utf8BOM)); err == nil && bytes.Equal(b, utf8BOM) {
		br.Discard(len(utf8BOM))
		return int64(len(utf8BOM))
	}
	return 0
}
