"""The suite's base layer: errors, cache paths, consoles, atomic file writes and the run directory.

It imports nothing else from `bench`; every other layer may import it.
"""
