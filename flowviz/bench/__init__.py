"""Benchmarks behind `flowviz bench`."""
