"""Lab 06's benchmark, one module per concern; bench.py runs it and lists
the modules."""
