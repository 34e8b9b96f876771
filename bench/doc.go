// Package bench measures the gateway as issue 6 asks: enrollment throughput
// beside the crypto ceiling and step-ca, federated reads beside nginx
// serving the same bytes, and how reads, memory and start-up behave as the
// database grows; given a mosaic binary built from an earlier commit, it
// also measures reads and enrollment on it beside the current one, before
// and after in the same runs. Everything it measures runs as real processes on loopback:
// `mosaic gateway serve`, PostgreSQL, step-ca, nginx, and the load generator
// of bench/cmd/loadgen. The orchestrator is bench/cmd/bench; `make bench`
// (scripts/bench.sh) builds what it needs, runs it and writes
// BENCHMARKS.md.
//
// Every figure is the median of several runs, and every comparison is a
// ratio of two figures measured back to back within one run, so that the
// noise of a shared machine affects both sides alike.
package bench
