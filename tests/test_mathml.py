"""minidl.lab.mathml: the maths of an HTML page as MathML, so that it reads with no network."""
from minidl.lab.mathml import render_math


def test_inline_and_display_maths_become_mathml_and_mathjax_goes():
    page = ('<script src="https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/latest.js"></script>'
            '<p>Eq. (1): $\\nabla \\ell = 2(\\hat y - t)$, and</p><p>$$s = w x + b \\tag{2}$$</p>')
    rendered = render_math(page)
    assert rendered.converted == 2 and not rendered.failed
    assert rendered.html.count("<math") == 2 and 'display="block"' in rendered.html
    assert "$" not in rendered.html and "mathjax" not in rendered.html.lower()


def test_code_and_escaped_dollars_are_left_alone():
    page = "<pre>cost = $5 and $6</pre><p>a price of 5 \\$ and $x &lt; 1$</p><code>$y$</code>"
    rendered = render_math(page)
    assert "<pre>cost = $5 and $6</pre>" in rendered.html and "<code>$y$</code>" in rendered.html
    assert "5 \\$" in rendered.html and rendered.converted == 1
    assert "<mo>&#x0003C;</mo>" in rendered.html        # the HTML entity read as "<", written back escaped


def test_a_formula_it_cannot_read_is_kept_and_reported():
    rendered = render_math("<p>$\\frac{1}{$</p>")
    assert rendered.failed == ["\\frac{1}{"] and rendered.converted == 0
    assert "$\\frac{1}{$" in rendered.html
