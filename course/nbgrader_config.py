"""nbgrader's configuration for the minidl course: run nbgrader from this folder (course/).

The standard layout: source/<assignment>/<notebook>.ipynb are the solutions (the only copy of
each exercise, committed); release/, submitted/, autograded/, feedback/, gradebook.db and
grades.csv are made by `make student` and `make grade` and are not committed.
"""
c = get_config()  # noqa: F821 (nbgrader provides it)

c.CourseDirectory.course_id = "minidl"
# The assignment notebooks train networks: the training test runs for some seconds, longer on a
# busy machine; nbgrader's default of 30 s per cell would cut it off.
c.Execute.timeout = 600
# The notebooks run in the kernel 'python3' found on PATH: make student / make grade put the
# environment's bin/ first, so it is that environment's Python, with minidl installed.
