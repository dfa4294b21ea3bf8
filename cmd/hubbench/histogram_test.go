package main

import (
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"
)

func TestBucketsAreContiguous(t *testing.T) {
	prevHi := uint64(0)
	for i := range numBuckets {
		lo, hi := bucketRange(i)
		if i > 0 && lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d [%d,%d] maps back to %d and %d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		prevHi = hi
	}
	if prevHi != math.MaxUint64 {
		t.Fatalf("last bucket ends at %d, want MaxUint64", prevHi)
	}
}

func TestBucketRelativeError(t *testing.T) {
	for i := 2 * subBuckets; i < numBuckets; i++ {
		lo, hi := bucketRange(i)
		if float64(hi-lo)/float64(lo) > 1.0/subBuckets {
			t.Fatalf("bucket %d [%d,%d] is wider than 1/%d of its start", i, lo, hi, subBuckets)
		}
	}
}

func TestQuantilesMatchExactSort(t *testing.T) {
	var h Histogram
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([]time.Duration, 100000)
	for i := range vals {
		// Log-uniform between 1 µs and 1 s.
		vals[i] = time.Duration(math.Exp(rng.Float64()*math.Log(1e6)) * 1e3)
		h.Record(vals[i])
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := vals[int(q*float64(len(vals)))-1]
		got := h.Quantile(q)
		if rel := math.Abs(float64(got-exact)) / float64(exact); rel > 0.02 {
			t.Errorf("q%.3f = %v, exact %v (relative error %.3f)", q, got, exact, rel)
		}
	}
	if h.Max() != vals[len(vals)-1] {
		t.Errorf("max = %v, want %v", h.Max(), vals[len(vals)-1])
	}
	if h.Count() != uint64(len(vals)) {
		t.Errorf("count = %d, want %d", h.Count(), len(vals))
	}
}

func TestSmallValuesAreExact(t *testing.T) {
	var h Histogram
	for v := range 100 {
		h.Record(time.Duration(v + 1))
	}
	if got := h.Quantile(0.5); got != 50 {
		t.Errorf("median = %d, want 50", got)
	}
	if got := h.Mean(); got != 50 {
		t.Errorf("mean = %d, want 50", got)
	}
	if got := h.Quantile(1); got != 100 {
		t.Errorf("q1 = %d, want 100", got)
	}
}

func TestEmptyAndNegative(t *testing.T) {
	var h Histogram
	if h.Quantile(0.99) != 0 || h.Mean() != 0 || h.Max() != 0 {
		t.Fatal("empty histogram should report zeros")
	}
	h.Record(-time.Second)
	if h.Count() != 1 || h.Max() != 0 {
		t.Fatalf("negative sample: count %d max %v, want 1 and 0", h.Count(), h.Max())
	}
}

func TestConcurrentRecord(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10000 {
				h.Record(time.Duration(g*10000 + i))
			}
		}()
	}
	wg.Wait()
	if h.Count() != 80000 || h.Max() != 79999 {
		t.Fatalf("count %d max %d, want 80000 and 79999", h.Count(), h.Max())
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	var h Histogram
	if n := testing.AllocsPerRun(1000, func() { h.Record(123456) }); n != 0 {
		t.Fatalf("Record allocates %.1f times", n)
	}
}

func TestMerge(t *testing.T) {
	var a, b, all Histogram
	for i := range 1000 {
		d := time.Duration(i * i)
		all.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(&b)
	if a.Summary() != all.Summary() {
		t.Fatalf("merged %+v; want %+v", a.Summary(), all.Summary())
	}
}
