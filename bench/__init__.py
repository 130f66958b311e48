"""Benchmarks: real servers on loopback, a real load generator (wrk), figures in bench/README.md."""
