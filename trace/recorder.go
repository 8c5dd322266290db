package trace

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/aadproxy/aadproxy/flow"
)

// trailer closes the entries array, the log and the document. The file always
// ends with it, so it is a complete HAR after every write.
const trailer = "\n]}}\n"

// maxKeptBuffer is the largest encoding buffer the recorder keeps between
// writes; one huge entry should not pin its memory for the whole session.
const maxKeptBuffer = 1 << 20

// ErrClosed is returned by Write on a closed Recorder.
var ErrClosed = errors.New("recorder is closed")

// Recorder appends flows to a HAR file that stays valid after every write:
// a kill -9 at any moment leaves every written entry readable. It holds no
// entries in memory and never rereads the file.
//
// Each entry is written with a single positioned write over the trailer,
// containing the separator, the entry and a new trailer, so the file is a
// complete document before and after that write. A write the kernel cuts
// short (a kill during the copy of a very large entry, a full disk) can leave
// only that last entry damaged; ReadFile then delivers every entry before it
// and reports a *DamageError.
type Recorder struct {
	mu    sync.Mutex
	file  *os.File
	path  string
	off   int64 // where the trailer starts
	n     int
	buf   []byte
	dirty bool // a failed write may have left bytes past the trailer
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

// WriteBatch appends flows in order with a single write, so the file goes
// from one valid HAR to the next with all of them in, or (if the write
// fails) with none. Under load the pipeline hands over what has queued up
// at once, saving a system call per flow.
func (r *Recorder) WriteBatch(fs []*flow.Flow) error {
	if len(fs) == 0 {
		return nil
	}
	entries := make([]*Entry, len(fs))
	for i, f := range fs {
		if f == nil {
			return errors.New("record flow: flow is nil")
		}
		entries[i] = EntryFromFlow(f)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.file == nil {
		return ErrClosed
	}
	buf := r.buf[:0]
	for i, e := range entries {
		if r.n+i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '\n')
		buf = e.appendJSON(buf)
	}
	end := len(buf)
	buf = append(buf, trailer...)
	if cap(buf) <= maxKeptBuffer {
		r.buf = buf
	} else {
		r.buf = nil
	}
	first := fs[0].Index
	if _, err := r.file.WriteAt(buf, r.off); err != nil {
		r.dirty = true
		return fmt.Errorf("record flow %d to %s: %w", first, r.path, err)
	}
	if r.dirty {
		// A failed write may have gone further than this one did.
		if err := r.file.Truncate(r.off + int64(len(buf))); err != nil {
			return fmt.Errorf("record flow %d to %s: %w", first, r.path, err)
		}
		r.dirty = false
	}
	r.off += int64(end)
	r.n += len(fs)
	return nil
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
