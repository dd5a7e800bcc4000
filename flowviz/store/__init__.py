"""The rolling store: interned nodes/edges, time buckets, latency histograms, window queries."""
