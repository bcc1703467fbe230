"""Child process: read a TensorFlow checkpoint with TensorFlow and save the chosen variables as one .npz.

Run as a script (`python tf_dump.py PREFIX OUT.npz KEEP...`), never imported next to torch:
loading triton after TensorFlow's native libraries crashes the process (measured: a segmentation
fault importing torch._dynamo after `import tensorflow`). Exit codes: 0 written; 3 the checkpoint
could not be read (one line on stdout says why); 4 TensorFlow is not installed.
"""

import sys

import numpy as np


def main(prefix: str, out: str, keep: tuple[str, ...]) -> int:
    """Read every numeric variable (so damage anywhere is found) and save those whose key starts with `keep`."""
    try:
        import tensorflow as tf
    except ImportError:
        return 4
    try:
        reader = tf.train.load_checkpoint(prefix)
        names = sorted(n for n, dtype in reader.get_variable_to_dtype_map().items() if dtype != tf.string)
        kept = {}
        for name in names:
            value = reader.get_tensor(name)  # TensorFlow checks each tensor's stored checksum as it reads it
            if name.startswith(keep):
                kept[name] = np.asarray(value)
    except (tf.errors.OpError, IndexError, ValueError, OSError) as exc:
        text = str(exc).strip()
        print(text.splitlines()[0][:160] if text else type(exc).__name__)
        return 3
    arrays = {f"v{i}": value for i, value in enumerate(kept.values())}
    np.savez(out, names=np.array(list(kept), dtype=str), tensorflow=np.array(tf.__version__), **arrays)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], tuple(sys.argv[3:])))
