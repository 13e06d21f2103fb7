package main

import (
	"flag"
	"fmt"
	"strconv"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/mercure"
)

// batchLimits are herald serve's flags for the batch endpoint
// (mercure.BatchPath), kept apart from the rest of serve's flags.
type batchLimits struct {
	max     rangeFlag
	maxBody rangeFlag
}

// register defines --max-batch and --max-batch-body on fs.
func (b *batchLimits) register(fs *flag.FlagSet) {
	b.max = rangeFlag{v: mercure.DefaultMaxBatch, min: 1, max: herald.MaxBatchLen}
	b.maxBody = rangeFlag{v: mercure.DefaultMaxBatchBodyBytes, min: 1, max: 1 << 40}
	fs.Var(&b.max, "max-batch", fmt.Sprintf("take at most `N` updates in one batch request (POST %s, one JSON object per line; N at most %d)", mercure.BatchPath, herald.MaxBatchLen))
	fs.Var(&b.maxBody, "max-batch-body", "largest batch request body, in `bytes`")
}

// rangeFlag is an integer flag that refuses values outside [min, max].
type rangeFlag struct{ v, min, max int64 }

func (f *rangeFlag) String() string { return strconv.FormatInt(f.v, 10) }

func (f *rangeFlag) Set(s string) error {
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	if v < f.min || v > f.max {
		return fmt.Errorf("%d is not between %d and %d", v, f.min, f.max)
	}
	f.v = v
	return nil
}
