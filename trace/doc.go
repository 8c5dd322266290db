// Package trace converts flows to and from HAR 1.2 and Fiddler's SAZ
// archives, reads any trace a user may hand over, and records live traffic to
// disk crash-safely.
//
// It owns the HAR model (a tolerant one: browsers write fractional
// milliseconds, omit optional fields and add underscore fields of their own,
// which are kept), the conversion between HAR entries and flow.Flow, the
// Recorder the live proxy writes finished flows to, a streaming Reader for
// offline analysis, the SAZ reader and writer, Open (which tells the formats
// apart by content) and Convert. It works on flow.Flow only: it must not
// import goproxy or proxy/, and it must not hold a whole recording in memory.
package trace
