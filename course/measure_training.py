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

from minidl import paper_model
from minidl.runs import fit_runs, paper_runs
from minidl.utils import torch_threads

runs = int(sys.argv[1]) if len(sys.argv) > 1 else 500
first = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
EPOCHS = 40

start = time.time()
# each seed draws 1000 training points, then 10000 test points, then the weights (minidl.runs.make_run)
generators, (x, y, x_test, y_test), model, _ = paper_runs(list(range(first, first + runs)), paper_model,
                                                          n_train=1000, n_validation=10000)
accuracy = []          # per epoch: (runs, 10000) correct or not


def record(epoch, logs):
    accuracy.append((model.predict(x_test) == y_test).double())


with torch_threads(1):
    fit_runs(model, x, y, epochs=EPOCHS, step_size=0.01, generator=generators, callback=record)
print(f"{runs} runs (seeds {first} to {first + runs - 1}), {time.time() - start:.0f} s")
print("epochs  test points  lowest accuracy  runs below 0.95")
for epochs in (20, 25, 30, 35, 40):
    for points in (1000, 10000):
        a = accuracy[epochs - 1][:, :points].mean(-1)
        print(f"{epochs:6d}  {points:11d}  {a.min():15.4f}  {int((a < 0.95).sum()):6d} / {runs}")
