package trace

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"

	"github.com/aadproxy/aadproxy/flow"
)

// trailer closes the entries array, the log and the document. The file always
// ends with it, so it is a complete HAR after every write.
const trailer = "\n]}}\n"

// recordFile is what the recorder needs of its file (an *os.File); tests
// give it a disk that fills up.
type recordFile interface {
	io.WriterAt
	Truncate(size int64) error
	Sync() error
	Close() error
}

// ErrClosed is returned by Write on a closed Recorder.
var ErrClosed = errors.New("recorder is closed")

// Recorder appends flows to a HAR file that stays valid after every write:
// a kill -9 at any moment leaves every written entry readable. It holds no
// entries in memory and never rereads the file.
//
// A batch of flows is written over the trailer, followed by a new trailer.
// Up to flushSize of encoded entries that is one positioned write, so the
// file goes from one complete document to the next. A larger batch (large
// bodies) is written in flushSize pieces as it is encoded, so memory stays
// fixed whatever the body size; a kill in the middle of such a batch, or a
// write the kernel cuts short, leaves only the entry being written damaged:
// ReadFile delivers every entry before it and reports a *DamageError. When a
// write fails, the recorder puts the trailer back after the last complete
// batch, so the file is again a valid HAR without it.
type Recorder struct {
	mu    sync.Mutex
	file  recordFile
	path  string
	off   int64 // where the trailer starts
	n     int
	buf   []byte // the encoder's buffer, kept between batches
	dirty bool   // a failed write may have left bytes past the trailer

	maxSize   int64  // bodies are left out once the file is this big; 0: never
	onMaxSize func() // called once, when bodies start being left out
	overMax   bool
}

// DefaultMaxSize is how big a recording grows before it stops taking
// bodies (--record-max): a browser left recording all day must not fill the
// disk with images and scripts, while every flow's metadata stays.
const DefaultMaxSize = 2 << 30

// LimitBodies makes entries written once the file has reached max bytes
// keep their metadata and sizes but not their bodies, which are marked as
// left out. reached is called once, from the writing goroutine, when that
// starts. max 0 means no limit. Call it before the first write.
func (r *Recorder) LimitBodies(max int64, reached func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.maxSize, r.onMaxSize = max, reached
}

// Create starts a new recording at path, replacing any file there. The file
// is private (0600); a symlink at path is refused, and the parent folder must
// already exist. creator and version name the writing program in the HAR.
func Create(path, creator, version string) (*Recorder, error) {
	file, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC|oNoFollow, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create recording %s: %w", path, err)
	}
	fail := func(err error) (*Recorder, error) {
		file.Close()
		return nil, fmt.Errorf("create recording %s: %w", path, err)
	}
	st, err := file.Stat()
	if err != nil {
		return fail(err)
	}
	if !st.Mode().IsRegular() {
		return fail(fmt.Errorf("not a regular file (%s)", st.Mode().Type()))
	}
	// O_CREATE's mode applies only to a new file; an old one keeps its own.
	if err := file.Chmod(0o600); err != nil {
		return fail(err)
	}
	header := logHeader(creator, version)
	if _, err := file.WriteAt(append(header, trailer...), 0); err != nil {
		return fail(err)
	}
	return &Recorder{file: file, path: path, off: int64(len(header))}, nil
}

// Write appends one flow to the recording. When it returns nil the entry is
// in the file (in the kernel's cache; Sync or Close make it durable). It is
// safe for concurrent use.
func (r *Recorder) Write(f *flow.Flow) error {
	return r.WriteBatch([]*flow.Flow{f})
}

// WriteBatch appends flows in order: with all of them in, or (if a write
// fails) with none. Under load the pipeline hands over what has queued up at
// once, so many small entries share a system call.
func (r *Recorder) WriteBatch(fs []*flow.Flow) error {
	if len(fs) == 0 {
		return nil
	}
	if slices.Contains(fs, nil) {
		return errors.New("record flow: flow is nil")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.file == nil {
		return ErrClosed
	}
	out := io.NewOffsetWriter(r.file, r.off)
	enc := &encoder{b: r.buf[:0], out: out}
	reached := false
	defer func() {
		if reached && r.onMaxSize != nil {
			r.onMaxSize()
		}
	}()
	for i, f := range fs {
		if r.n+i > 0 {
			enc.b = append(enc.b, ',')
		}
		enc.b = append(enc.b, '\n')
		e := entryFromFlow(f)
		if r.maxSize > 0 && !r.overMax {
			at, _ := out.Seek(0, io.SeekCurrent)
			r.overMax = r.off+at+int64(len(enc.b)) >= r.maxSize
			reached = r.overMax
		}
		if r.overMax {
			e.omitBodies(fmt.Sprintf("body not recorded: the recording had reached its %s limit (--record-max)", formatSize(r.maxSize)))
		}
		e.encode(enc)
		enc.flushIfFull()
	}
	written, _ := out.Seek(0, io.SeekCurrent)  // relative to r.off
	end := r.off + written + int64(len(enc.b)) // where the new trailer starts
	enc.b = append(enc.b, trailer...)
	enc.flush()
	r.buf = enc.b[:0]
	first := fs[0].Index
	if enc.err != nil {
		r.dirty = true
		r.restoreTrailer()
		return fmt.Errorf("record flow %d to %s: %w", first, r.path, enc.err)
	}
	if r.dirty {
		// A failed write may have gone further than this one did.
		if err := r.file.Truncate(end + int64(len(trailer))); err != nil {
			return fmt.Errorf("record flow %d to %s: %w", first, r.path, err)
		}
		r.dirty = false
	}
	r.off = end
	r.n += len(fs)
	return nil
}

// omitBodies leaves an entry's bodies out, keeping their sizes, and marks
// them as cut with a note that says why.
func (e *Entry) omitBodies(note string) {
	if p := e.Request.PostData; p != nil && (p.Text != "" || len(p.Params) > 0 || p.body != nil && len(p.body.data) > 0) {
		p.body, p.Text, p.Params, p.Encoding = nil, "", nil, ""
		p.Truncated, p.Comment = true, note
	}
	if r := e.Response; r != nil {
		c := &r.Content
		if c.Text != "" || c.body != nil && len(c.body.data) > 0 {
			c.body, c.Text, c.Encoding, c.Raw = nil, "", "", false
			c.Truncated, c.Comment = true, note
		}
	}
}

// formatSize writes n in the largest binary unit that divides it.
func formatSize(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// restoreTrailer puts the trailer back where the failed batch began, so the
// file is a complete HAR of the batches before it. The bytes it overwrites
// were already written once, so this usually succeeds even on a full disk;
// if it fails, the next successful write repairs the file.
func (r *Recorder) restoreTrailer() {
	if _, err := r.file.WriteAt([]byte(trailer), r.off); err != nil {
		return
	}
	if err := r.file.Truncate(r.off + int64(len(trailer))); err == nil {
		r.dirty = false
	}
}

// Count returns how many entries have been written.
func (r *Recorder) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// Path returns the file the recorder writes to.
func (r *Recorder) Path() string { return r.path }

// Sync flushes the recording to stable storage, for callers that want
// durability against power loss at intervals rather than only at Close.
func (r *Recorder) Sync() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.file == nil {
		return ErrClosed
	}
	if err := r.file.Sync(); err != nil {
		return fmt.Errorf("sync recording %s: %w", r.path, err)
	}
	return nil
}

// Close flushes the recording to stable storage and closes it. Closing twice
// returns ErrClosed.
func (r *Recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.file == nil {
		return ErrClosed
	}
	file := r.file
	r.file, r.buf = nil, nil
	syncErr := file.Sync()
	closeErr := file.Close()
	if err := errors.Join(syncErr, closeErr); err != nil {
		return fmt.Errorf("close recording %s: %w", r.path, err)
	}
	return nil
}
