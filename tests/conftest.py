"""Loaded by pytest before every test module: the hypothesis profile of the whole suite.

No deadline (a gradient check of a random network takes tens of milliseconds on a busy 2-core
machine, and hypothesis' default 200 ms deadline would fail it for the machine, not for the
code) and 25 examples per property unless a test asks for more. The helpers that several
test modules share are in ``tests/helpers.py``. It also builds ``course/source/`` from the lab
notebooks (``minidl.lab.course``), as ``make student`` does.
"""
from hypothesis import settings

from minidl.lab.course import build


settings.register_profile("minidl", max_examples=25, deadline=None)
settings.load_profile("minidl")

# course/source/ is built from the lab notebooks (it is not committed): the course tests grade
# the exercises that notebooks/ holds, as `make student` would hand them out.
build()
