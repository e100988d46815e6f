"""Benchmark: one training step of a 784-256-10 ternary MLP with STE, batch 64: forward, backward, Adam.

Run from the repository root: `python -m benchmarks.bench_train_step [--quick]`. In: random data (a fixed
seed). Out: milliseconds per step, median of rounds, for the DSL (the step written in the language,
`backward` and the stdlib's `Adam`, timed inside the program with `clock()`) and, in the same run, for
PyTorch CPU eager float32 when `torch` is installed, else the same step written by hand in numpy float32;
then the ratio. The weights are float latent weights quantized per output channel (TWN) in every forward,
the straight-through estimator passes the gradient to them. Timing is never a test.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

import triton_dsl
from benchmarks.common import machine_description, quick_parser

DSL = """
fn ternary_ste(w: Tensor<float32, [i, o]>) -> Tensor<float32, [i, o]> {
    let a = abs(w)
    let kept = where(a > 0.7 * mean(a, dim=0, keepdim=true), 1.0, 0.0)
    let alpha = sum(a * kept, dim=0, keepdim=true) / maximum(sum(kept, dim=0, keepdim=true), 1.0)
    return w + stop_gradient(where(w > 0.0, kept, -kept) * alpha - w)
}

fn steps(x: Tensor<float32, [64, 784]>, y: Tensor<int64, [64]>, n: int32) -> float64 {
    seed(0)
    let w1 = uniform(-0.036, 0.036, [784, 256], requires_grad=true)
    let b1 = zeros([256], requires_grad=true)
    let w2 = uniform(-0.0625, 0.0625, [256, 10], requires_grad=true)
    let b2 = zeros([10], requires_grad=true)
    let opt = Adam([w1, b1, w2, b2], lr=0.001)
    let t0 = clock()
    for i in range(n) {
        opt.zero_grad()
        let h = relu(x @ ternary_ste(w1) + b1)
        let loss = cross_entropy(h @ ternary_ste(w2) + b2, y)
        backward(loss)
        opt.step()
    }
    return (clock() - t0) / float64(n)
}
"""


def _ternary(w):
    a = np.abs(w)
    kept = (a > 0.7 * a.mean(axis=0, keepdims=True)).astype(np.float32)
    alpha = (a * kept).sum(axis=0, keepdims=True) / np.maximum(kept.sum(axis=0, keepdims=True), 1.0)
    return np.where(w > 0, kept, -kept) * alpha


def numpy_steps(x: np.ndarray, y: np.ndarray, n: int) -> float:
    rng = np.random.default_rng(0)
    params = [rng.uniform(-0.036, 0.036, (784, 256)).astype(np.float32), np.zeros(256, np.float32),
              rng.uniform(-0.0625, 0.0625, (256, 10)).astype(np.float32), np.zeros(10, np.float32)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    onehot = np.eye(10, dtype=np.float32)[y]
    start = time.perf_counter()
    for t in range(1, n + 1):
        w1, b1, w2, b2 = params
        q1, q2 = _ternary(w1), _ternary(w2)
        z = x @ q1 + b1
        h = np.maximum(z, 0)
        logits = h @ q2 + b2
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        g_logits = (p - onehot) / len(x)
        g_h = g_logits @ q2.T * (z > 0)
        grads = [x.T @ g_h, g_h.sum(0), h.T @ g_logits, g_logits.sum(0)]
        for i, g in enumerate(grads):
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g * g
            params[i] -= 0.001 * (m[i] / (1 - 0.9 ** t)) / (np.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8)
    return (time.perf_counter() - start) / n


def torch_steps(x: np.ndarray, y: np.ndarray, n: int) -> float:
    import torch

    torch.manual_seed(0)
    params = [torch.empty(784, 256).uniform_(-0.036, 0.036).requires_grad_(),
              torch.zeros(256, requires_grad=True),
              torch.empty(256, 10).uniform_(-0.0625, 0.0625).requires_grad_(),
              torch.zeros(10, requires_grad=True)]
    opt = torch.optim.Adam(params, lr=0.001)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def ste(w):
        a = w.abs()
        kept = (a > 0.7 * a.mean(0, keepdim=True)).float()
        alpha = (a * kept).sum(0, keepdim=True) / kept.sum(0, keepdim=True).clamp(min=1.0)
        return w + (torch.where(w > 0, kept, -kept) * alpha - w).detach()

    start = time.perf_counter()
    for _ in range(n):
        opt.zero_grad()
        h = torch.relu(xt @ ste(params[0]) + params[1])
        loss = torch.nn.functional.cross_entropy(h @ ste(params[2]) + params[3], yt)
        loss.backward()
        opt.step()
    return (time.perf_counter() - start) / n


def main() -> None:
    args = quick_parser(__doc__).parse_args()
    rounds, n = (3, 10) if args.quick else (7, 50)
    rng = np.random.default_rng(1)
    x = rng.random((64, 784), dtype=np.float32)
    y = rng.integers(0, 10, 64).astype(np.int64)
    module = triton_dsl.compile(DSL, name="bench_train_step.triton")
    try:
        import torch  # noqa: F401
        peer, peer_steps = "PyTorch eager f32", torch_steps
    except ImportError:
        peer, peer_steps = "numpy f32 (torch not installed)", numpy_steps
    ours, theirs = [], []
    for _ in range(rounds):  # alternate, so both see the same machine state
        ours.append(float(module.steps(x, y, n)))
        theirs.append(peer_steps(x, y, n))
    o, t = statistics.median(ours) * 1e3, statistics.median(theirs) * 1e3
    for line in machine_description():
        print(line)
    print("one training step, 784-256-10 ternary MLP (STE, TWN per channel), batch 64, Adam, 1 process")
    print(f"{'triton_dsl':<34} {o:8.3f} ms")
    print(f"{peer:<34} {t:8.3f} ms")
    print(f"ratio {peer.split(' (')[0]} / triton_dsl: {t / o:.2f}x")


if __name__ == "__main__":
    main()
