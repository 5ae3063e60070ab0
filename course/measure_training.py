"""How many epochs the graded training test of assignment 2 needs: the paper's network trained
as Algorithm 1 says (step size 0.01, decay 0.9 per epoch, 1000 training points), from many
seeds, by minidl itself; the test accuracy on fresh points after each epoch.

    .venv/bin/python course/measure_training.py [runs] [first_seed]     (defaults: 500 5000)

Prints, for some epoch counts, the lowest accuracy over the runs and how many runs fall below
0.95, on 1000 test points (what the test draws) and on 10000 (less noise from the test set).
The R runs train at once (minidl.runs), one generator per seed: data, weights, shuffles.
"""
import sys
import time

import torch

from minidl import build_data, paper_model
from minidl.runs import fit_runs, stack_models
from minidl.utils import torch_threads

runs = int(sys.argv[1]) if len(sys.argv) > 1 else 500
first = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
EPOCHS = 40

start = time.time()
generators = [torch.Generator().manual_seed(first + r) for r in range(runs)]
data = [(build_data(1000, generator=g), build_data(10000, generator=g)) for g in generators]
x, y = (torch.stack([d[0][k] for d in data]) for k in (0, 1))
x_test, y_test = (torch.stack([d[1][k] for d in data]) for k in (0, 1))
model = stack_models([paper_model(generator=g) for g in generators])
accuracy = []          # per epoch: (runs, 10000) correct or not


def record(epoch, logs):
    accuracy.append((model.forward(x_test).argmax(-1) == y_test).double())


with torch_threads(1):
    fit_runs(model, x, y, epochs=EPOCHS, step_size=0.01, generator=generators, callback=record)
print(f"{runs} runs (seeds {first} to {first + runs - 1}), {time.time() - start:.0f} s")
print("epochs  test points  lowest accuracy  runs below 0.95")
for epochs in (20, 25, 30, 35, 40):
    for points in (1000, 10000):
        a = accuracy[epochs - 1][:, :points].mean(-1)
        print(f"{epochs:6d}  {points:11d}  {a.min():15.4f}  {int((a < 0.95).sum()):6d} / {runs}")
