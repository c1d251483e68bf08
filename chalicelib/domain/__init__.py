"""The pure domain: no I/O, no clocks, no environment. Time arrives as an argument."""
