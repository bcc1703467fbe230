"""Registry entries for the built-in models: each module registers one model family on import."""
