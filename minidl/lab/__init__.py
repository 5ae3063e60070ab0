"""minidl.lab: what the notebooks, tests and benchmarks use around the framework.

Not part of the framework (``minidl/*.py``), which never imports it:

- ``gradcheck``: finite-difference and autograd checks of any module or loss;
- ``compare``: the same network in ``torch.nn`` + autograd, the reference to compare against;
- ``plots``: the data set, decision regions and learning curves (matplotlib);
- ``graph``: the computational graph of an MLP, drawn (notebook 02);
- ``animation``: decision regions after each epoch, as small multiples and a GIF (notebook 04);
- ``tables``: mean ± std over runs, and the tables beside the paper's (Markdown + JSON);
- ``experiments``: the paper's Figs. 1-3 (notebook 04);
- ``studies``: Figs. 4-6, momentum, batch sizes, smoothness of curves (notebooks 05-06);
- ``playground``: the sliders of notebook 07;
- ``grading``: the checks of the nbgrader course (``course/``), with messages that teach;
- ``hints``: the likely mistake a wrong result's signature shows (transposed, N times too large,
  negated, ...), named by ``grading``'s messages;
- ``regrade``: ``make grade``, every submission in parallel and sandboxed, its notebook run by
  ``execute`` and its answers checked again by ``recheck``, where the student's code cannot
  reach the checks;
- ``reproduce``: the main job, ``python -m minidl.lab.reproduce``, executing every notebook.
- ``corepath``: the two-hour lab's core path (each notebook down to ``# Appendix``) and its minutes.
"""
