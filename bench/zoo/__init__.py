"""Registry entries for the built-in models: each module lists one model family as ENTRIES (see bench.registry)."""
