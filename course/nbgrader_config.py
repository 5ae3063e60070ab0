"""nbgrader's configuration for the minidl course: run nbgrader from this folder (course/).

The standard layout, with one difference: source/<assignment>/<notebook>.ipynb, the solutions, are
built from the lab notebooks (notebooks/, the only copy of each exercise) by
`python -m minidl.lab.course`, which `make student` and `make grade` run first: a header from
headers/<assignment>.md, then the lab notebook's cells tagged `assignment`. source/, release/
(with release/lab/, the student edition of the lab), submitted/, autograded/, feedback/,
gradebook.db and grades.csv are made by `make student` and `make grade` and are not committed.
"""
c = get_config()  # noqa: F821 (nbgrader provides it)

c.CourseDirectory.course_id = "minidl"
# The limits of `make grade` (minidl.lab.regrade), for each submission's kernel and its clean
# re-check: a cell (or check) has 60 s, a notebook 600 s; the training test, the longest cell,
# takes about 15 s on a busy 2-core machine. A looping cell costs the class one minute, not ten.
c.Execute.timeout = 60
c.Grading.notebook_timeout = 600
# Memory per process (RLIMIT_AS: address space; Python with torch maps about 1 GB by itself).
c.Grading.memory_limit_mb = 4096
# The notebooks run in the kernel 'python3' found on PATH: make student / make grade put the
# environment's bin/ first, so it is that environment's Python, with minidl installed.
