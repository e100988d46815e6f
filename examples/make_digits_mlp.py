"""Write examples/data/digits_mlp.safetensors: a float32 MLP trained on scikit-learn's 8x8 digits.

In: `sklearn.datasets.load_digits` (1,797 images, bundled with scikit-learn: no download). Out: a
safetensors file with a 64-128-10 ReLU MLP trained by scikit-learn (`fc1.weight` [64, 128], `fc1.bias`,
`fc2.weight` [128, 10], `fc2.bias`) and the held-out test split (`x_test` [360, 64] float32 in 0..1,
`y_test` [360] int32), with a fixed split and seed, so `examples/custom_quantizers.triton` quantizes the
layers of a real trained network. Run from the repository root: `python examples/make_digits_mlp.py`
(needs scikit-learn: `pip install '.[examples]'`). The file in the repository was made by this script.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from safetensors.numpy import save_file
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

OUT = Path(__file__).resolve().parent / "data" / "digits_mlp.safetensors"


def main() -> None:
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, digits.target, test_size=360, random_state=0,
                                                        stratify=digits.target)
    mlp = MLPClassifier(hidden_layer_sizes=(128,), activation="relu", max_iter=400, random_state=0)
    mlp.fit(x_train, y_train)
    tensors = {"fc1.weight": mlp.coefs_[0], "fc1.bias": mlp.intercepts_[0],
               "fc2.weight": mlp.coefs_[1], "fc2.bias": mlp.intercepts_[1]}
    tensors = {k: np.ascontiguousarray(v, np.float32) for k, v in tensors.items()}
    tensors["x_test"] = np.ascontiguousarray(x_test)
    tensors["y_test"] = y_test.astype(np.int32)
    OUT.parent.mkdir(exist_ok=True)
    save_file(tensors, str(OUT), metadata={"source": "sklearn.datasets.load_digits, MLPClassifier(128)"})
    print(f"wrote {OUT.name}: test accuracy {mlp.score(x_test, y_test):.3f} (float64 scikit-learn)")


if __name__ == "__main__":
    main()
