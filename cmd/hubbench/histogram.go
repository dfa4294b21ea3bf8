package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram is a log-linear bucketed histogram of non-negative durations in
// nanoseconds, in the spirit of HdrHistogram: every power-of-two range is
// split into subBuckets linear buckets, so any recorded value is reported
// with a relative error below 1/subBuckets (about 1.6%). Values below
// 2*subBuckets ns are exact. Recording is lock-free and allocation-free, and
// safe from many goroutines at once.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	total  atomic.Uint64
	sum    atomic.Uint64
	max    atomic.Uint64
}

const (
	subBucketBits = 6
	subBuckets    = 1 << subBucketBits
	// numBuckets covers the whole uint64 range: the largest shift is
	// 63-subBucketBits and the mantissa is below 2*subBuckets.
	numBuckets = (63-subBucketBits)*subBuckets + 2*subBuckets
)

// bucketOf maps a value to its bucket index.
func bucketOf(v uint64) int {
	if v < 2*subBuckets {
		return int(v)
	}
	shift := bits.Len64(v) - 1 - subBucketBits
	return shift*subBuckets + int(v>>shift)
}

// bucketRange returns the smallest and largest value of bucket i.
func bucketRange(i int) (lo, hi uint64) {
	if i < 2*subBuckets {
		return uint64(i), uint64(i)
	}
	shift := i/subBuckets - 1
	mantissa := uint64(i - shift*subBuckets)
	return mantissa << shift, (mantissa+1)<<shift - 1
}

// Record adds one sample. Negative durations (clock steps) count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[bucketOf(v)].Add(1)
	h.total.Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Merge adds the samples of o, which must not change meanwhile.
func (h *Histogram) Merge(o *Histogram) {
	for i := range o.counts {
		if n := o.counts[i].Load(); n > 0 {
			h.counts[i].Add(n)
		}
	}
	h.total.Add(o.total.Load())
	h.sum.Add(o.sum.Load())
	m := o.max.Load()
	for {
		cur := h.max.Load()
		if m <= cur || h.max.CompareAndSwap(cur, m) {
			return
		}
	}
}

// Count returns the number of samples recorded.
func (h *Histogram) Count() uint64 { return h.total.Load() }

// Max returns the largest sample recorded (exact).
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Mean returns the average of the samples, or 0 when there are none.
func (h *Histogram) Mean() time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / n)
}

// Quantile returns the value at quantile q (0 < q <= 1): the midpoint of the
// bucket holding the sample of that rank, capped at the exact maximum.
// It returns 0 when the histogram is empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			lo, hi := bucketRange(i)
			return time.Duration(min(lo+(hi-lo)/2, h.max.Load()))
		}
	}
	return h.Max()
}

// Summary returns the usual quantiles in milliseconds.
func (h *Histogram) Summary() LatencySummary {
	return LatencySummary{
		Count:  h.Count(),
		MeanMs: ms(h.Mean()),
		P50Ms:  ms(h.Quantile(0.50)),
		P90Ms:  ms(h.Quantile(0.90)),
		P99Ms:  ms(h.Quantile(0.99)),
		P999Ms: ms(h.Quantile(0.999)),
		MaxMs:  ms(h.Max()),
	}
}

// LatencySummary is a histogram reduced to the figures a report prints.
type LatencySummary struct {
	Count  uint64  `json:"count"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p999_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// ms converts a duration to milliseconds rounded to the microsecond.
func ms(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
