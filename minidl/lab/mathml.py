r"""Maths that renders with no network: the ``$...$`` of an HTML page turned into MathML.

nbconvert's HTML (and so nbgrader's feedback) leaves the maths of the markdown cells as TeX,
``$s = w x + b$``, for MathJax to typeset in the browser, and loads MathJax from a CDN: opened
offline, a student sees raw dollars. Browsers render MathML themselves (MathML Core), so
``render_math`` converts every formula at build time (``latex2mathml``) and drops the MathJax
``<script>`` tags; the page then needs nothing but itself.

    render_math('<p>Eq. (1): $\nabla \ell = 2(\hat y - t)$</p>')  ->  '<p>Eq. (1): <math ...>...</math></p>'

Code (``<pre>``, ``<code>``) is left as it is; a formula latex2mathml cannot read is left as TeX
and counted in ``RenderedMath.failed``, so that a caller (and its test) can see it.
"""
from __future__ import annotations

import html
import re
from typing import NamedTuple

from latex2mathml.converter import convert

CODE = re.compile(r"(<pre\b.*?</pre>|<code\b.*?</code>|<script\b.*?</script>|<style\b.*?</style>)", re.S | re.I)
DISPLAY = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]", re.S)
INLINE = re.compile(r"(?<![\\$])\$(?!\$)(.+?)(?<![\\$])\$|\\\((.+?)\\\)", re.S)
MATHJAX_SCRIPT = re.compile(r"<script[^>]*(?:mathjax|MathJax)[^>]*>.*?</script>|<script[^>]*>\s*MathJax\.Hub.*?</script>"
                            r"|<script[^>]*type=\"text/x-mathjax-config\"[^>]*>.*?</script>", re.S | re.I)


class RenderedMath(NamedTuple):
    html: str
    converted: int      # formulas now MathML
    failed: list[str]   # formulas left as TeX (latex2mathml could not read them)


def _mathml(tex: str, display: str) -> str:
    return convert(html.unescape(tex).strip(), display=display)


def render_math(page: str) -> RenderedMath:
    """``page`` with every ``$$...$$`` / ``\\[...\\]`` (block) and ``$...$`` / ``\\(...\\)``
    (inline) outside code turned into MathML, and MathJax's script tags removed."""
    converted, failed = 0, []

    def replace(display: str):
        def sub(match: re.Match) -> str:
            nonlocal converted
            tex = next(group for group in match.groups() if group is not None)
            try:
                mathml = _mathml(tex, display)
            except Exception:          # noqa: BLE001 (latex2mathml raises several types; keep the TeX)
                failed.append(tex)
                return match.group(0)
            converted += 1
            return mathml
        return sub

    parts = CODE.split(MATHJAX_SCRIPT.sub("", page))
    for k in range(0, len(parts), 2):          # the even parts are outside code
        parts[k] = INLINE.sub(replace("inline"), DISPLAY.sub(replace("block"), parts[k]))
    return RenderedMath("".join(parts), converted, failed)
