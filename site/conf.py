"""Sphinx configuration of the course site (``make site``; see site/build.py).

The source folder is ``site/_build/src``, staged by site/build.py from the repository: the
README as the home page, the notebooks with their committed outputs (never executed here),
docs/errors.md. Everything a page loads is a file of the build: MathJax 2.7 comes from the
``jupyter-server-mathjax`` package (copied into ``_static/mathjax`` by build.py), and no
extension is allowed a remote script (``nb_ipywidgets_js`` empty, no launch buttons, no thebe).
"""
project = "minidl"
author = "minidl"
copyright = "minidl's authors"

extensions = ["myst_nb"]
root_doc = "index"
exclude_patterns = ["_raw/**", "figures/**", "**/.ipynb_checkpoints"]

# myst: $...$ and $$...$$ maths as in Jupyter, HTML images, anchors for the README's links to #headings
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "html_image"]
myst_heading_anchors = 4
myst_dmath_double_inline = True

# Notebooks: the committed outputs, never re-executed (the kit's own `make figures` does that)
nb_execution_mode = "off"
nb_ipywidgets_js = {}          # no require.js / widget manager from a CDN
nb_merge_streams = True

# MathJax 2.7, local: build.py copies jupyter_server_mathjax/static to _static/mathjax.
# That package ships the HTML-CSS output with the STIX-Web web fonts only.
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
mathjax2_config = {
    "HTML-CSS": {"availableFonts": [], "webFont": "STIX-Web", "imageFont": None,
                 # MathJax's blank font for its font checks: url(about:blank) fails to load either
                 # way, but Chromium logs it as a console error; a local() that is never there does not
                 "styles": {"@font-face": {"font-family": "MathJax_Blank", "src": "local('MathJax_Blank_absent')"}}},
    # myst-nb marks notebook pages tex2jax_ignore (raw $ in outputs stay text); Sphinx's maths
    # elements carry the class "math", which MathJax 2 must still process
    # HTML-CSS everywhere: for Chromium (which has MathML now) MathJax 2 would pick NativeMML
    "MMLorHTML": {"prefer": "HTML"},
    "tex2jax": {"processClass": "math|tex2jax_process|mathjax_process"},
    "menuSettings": {"zoom": "None", "assistiveMML": False},   # the hidden MathML would ask for TeX fonts the package does not ship,
    "showMathMenu": False,
    "messageStyle": "none",
}

html_theme = "sphinx_book_theme"
html_title = "minidl: backpropagation, from the equations to a network that learns"
# relative to this folder, not to the staged sources: build.py stages _static with MathJax in it
html_favicon = "favicon.svg"   # so no page asks for a missing /favicon.ico (a console error)
html_static_path = ["_build/src/_static"]
html_theme_options = {
    "use_download_button": True,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "use_issues_button": False,
    "use_edit_page_button": False,
    "launch_buttons": {},
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_last_updated_fmt = None
# the light theme from the start: with no mode saved, the theme logs "invalid theme mode" as an error
html_context = {"default_mode": "light"}
html_copy_source = True
# the README and notebooks skip heading levels (## then ####) on purpose; GitHub does not mind either
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]
