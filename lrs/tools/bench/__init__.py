"""``lrs bench``: a reproducible performance suite for the LRS pipeline, side by side with Ralph.

Everything runs on an isolated local stack (own state directory, free loopback ports); see
``docs/benchmarks.md`` for what each measurement means and how to read the JSON it writes.
"""
