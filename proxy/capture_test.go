package proxy

import (
	"bytes"
	"testing"
)

// TestCapBufferStaysAPrefixWhenStarved starves a capture of budget and
// then frees the budget: what it keeps must be the body's first bytes, with
// no gap where the budget ran out.
func TestCapBufferStaysAPrefixWhenStarved(t *testing.T) {
	var budget captureBudget
	budget.left.Store(10000)
	b := capBuffer{max: 1 << 20, budget: &budget}
	var sent []byte
	write := func(n int) {
		chunk := make([]byte, n)
		for i := range chunk {
			chunk[i] = byte(len(sent) + i)
		}
		sent = append(sent, chunk...)
		b.Write(chunk)
	}
	write(3000)
	write(8000) // needs more than is left: starved
	budget.give(1 << 20)
	write(3000) // the budget is back, but the capture must not resume
	body := b.body(nil, 0)
	if !body.Truncated || body.Size != int64(len(sent)) {
		t.Errorf("truncated %v, size %d; want true and %d", body.Truncated, body.Size, len(sent))
	}
	if !bytes.Equal(body.Raw, sent[:len(body.Raw)]) {
		t.Errorf("kept %d bytes that are not the body's first %d", len(body.Raw), len(body.Raw))
	}
	if b.held > 10000 || int64(cap(b.buf)) != b.held {
		t.Errorf("held %d for a buffer of capacity %d; the reservation must match and stay within the budget", b.held, cap(b.buf))
	}
	b.release()
	if got := budget.left.Load(); got != 1<<20+10000 {
		t.Errorf("after release the budget has %d, want it all back (%d)", got, 1<<20+10000)
	}
}
