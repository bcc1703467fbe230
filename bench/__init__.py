"""ladabench: the benchmarking suite around LadaGAN (CLI, registry, data, training, metrics, reports)."""

__version__ = "0.1.0"
