"""Write examples/data/digits.safetensors: scikit-learn's 8x8 digits with a fixed train/test split.

In: `sklearn.datasets.load_digits` (1,797 images bundled with scikit-learn: no download). Out: a
safetensors file with `x_train` [1437, 64] and `x_test` [360, 64] (int8 pixel values 0..16, as the data
set stores them; programs divide by 16) and `y_train` [1437], `y_test` [360] (int64 class indices), the
split of examples/make_digits_mlp.py (test_size 360, random_state 0, stratified).
`examples/train_digits.triton` trains on it. Run from the repository root:
`python examples/make_digits_data.py` (needs scikit-learn: `pip install '.[examples]'`). The file in the
repository was made by this script.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from safetensors.numpy import save_file
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

OUT = Path(__file__).resolve().parent / "data" / "digits.safetensors"


def main() -> None:
    digits = load_digits()
    x = digits.data.astype(np.int8)
    x_train, x_test, y_train, y_test = train_test_split(x, digits.target, test_size=360, random_state=0,
                                                        stratify=digits.target)
    tensors = {"x_train": x_train, "y_train": y_train.astype(np.int64),
               "x_test": x_test, "y_test": y_test.astype(np.int64)}
    OUT.parent.mkdir(exist_ok=True)
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(OUT),
              metadata={"source": "sklearn.datasets.load_digits; train_test_split(test_size=360, "
                                  "random_state=0, stratify=target)"})
    print(f"wrote {OUT.name}: {len(x_train)} training and {len(x_test)} test images")


if __name__ == "__main__":
    main()
