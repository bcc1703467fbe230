"""ladabench: the benchmarking suite around LadaGAN (CLI, registry, data, training, metrics, reports).

Scripts import the public API from `ladabench` (`from ladabench import train, TrainOptions, RunDir`);
this package holds the layers (see design.md): core, data, registry, train, metrics, report, commands.
"""

__version__ = "0.1.0"
