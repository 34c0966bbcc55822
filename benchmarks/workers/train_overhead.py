"""Scenario 2: the digits example's training loop with and without tracking.

argv: ``on|off EPOCHS`` (one measurement per fresh interpreter, the full-size method) or
``both EPOCHS REPS`` (off and on alternated REPS times in one interpreter: QUICK mode, where
importing torch ten times would cost more than the training it measures).

The loop is examples/train_digits.ipynb's (2-layer MLP, Adam, batch 64, 2 threads), with one
``run.log`` per batch when tracking is on: the figure is the slowdown a user pays for it.
The report writer that ``finish()`` starts is off here (``DLBENCH_AUTO_REPORT=0``, set by
run.py): it runs after training, detached at nice 19, and left on it took a core from the next
round, so untracked rounds measured our report writer and looked up to 4x slower.
"""

import sys
import time

import torch
from _common import emit
from sklearn.datasets import load_digits

torch.set_num_threads(2)
digits = load_digits()
x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
y = torch.tensor(digits.target, dtype=torch.long)


def train(tracked: bool, epochs: int) -> tuple[float, int]:
    """Seconds of one training (finish() included when tracked) and its number of batches."""
    torch.manual_seed(0)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=64,
                                         shuffle=True, generator=torch.Generator().manual_seed(0))
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    run = None
    if tracked:
        import jupyter_dlbench as dlb

        run = dlb.init(project="bench-train", params={"lr": 0.01})
    step = 0
    t0 = time.perf_counter()
    for _epoch in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            if run is not None:
                run.log({"loss": loss.item()}, step=step)
            else:
                loss.item()  # the same sync point either way
            step += 1
    if run is not None:
        run.finish()
    return time.perf_counter() - t0, step


mode, epochs = sys.argv[1], int(sys.argv[2])
if mode == "both":
    train(False, 1)  # warm-up: first-call costs belong to neither side
    off, on = [], []
    for _ in range(int(sys.argv[3])):
        off.append(train(False, epochs)[0])
        seconds, steps = train(True, epochs)
        on.append(seconds)
    emit(off=off, on=on, steps=steps)
else:
    seconds, steps = train(mode == "on", epochs)
    emit(seconds=seconds, steps=steps)
