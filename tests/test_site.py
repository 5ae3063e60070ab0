"""The course site's offline certificate: every page of ``site/_build/html`` (``make site``) in
headless Chromium with no network but this machine.

A local ``http.server`` on 127.0.0.1 serves the built site; Playwright drives Debian's chromium
(``/usr/bin/chromium``, never a downloaded browser) and aborts every request to any other host.
Each HTML page is opened and must show:

- no request that left the machine (every aborted request is a failure: a CDN script, a font,
  an analytics beacon, ...);
- every formula rendered: each Sphinx maths element (``.math``) holds MathJax's output and no
  MathJax error, and no raw ``\\(``, ``\\[``, ``$$`` or ``$...$`` is left in the text outside code;
- every image loaded (``naturalWidth > 0``);
- no console error and no uncaught page error;
- every internal link resolves: HTTP 200 from the local server, and its ``#fragment``, if any,
  is an id of the target page;
- no serious or critical accessibility violation found by axe-core (its ``axe.min.js``, from
  the site's environment ``.venv-site``, where requirements-site.txt installs it, injected into
  the page; moderate and minor findings are counted, not failed).

A second test puts a CDN script back into a copy of a page and shows the certificate catching it.
A screenshot of the first page goes to ``test-artifacts/``. Skipped, with the reason, until
``make site`` has built the site (so ``make test`` is unaffected); ``make test-site`` builds it
and runs this file.
"""
from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import os
import re
import shutil
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "site" / "_build" / "html"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 60_000
AXE_JS = sorted((ROOT / ".venv-site").glob("lib/python3*/site-packages/axe_playwright_python/axe.min.js"))
# preload: false: axe would fetch the theme's @import-ed stylesheets again, resolving them against
# the page (a 404 that is axe's, not the site's); only its css-orientation-lock rule needs them
AXE_RUN = "async () => (await axe.run(document, {resultTypes: ['violations'], preload: false})).violations.map(v => [v.id, v.impact, v.help, v.nodes.length])"
CDN_MATHJAX = "https://cdn.jsdelivr.net/npm/mathjax@2.7.9/MathJax.js?config=TeX-AMS-MML_HTMLorMML"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def chromium_or_skip() -> None:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} not found"
        if in_ci():
            pytest.fail(f"{reason}, and CI is set: .ci/run installs chromium with apt-get")
        pytest.skip(f"{reason}: install Debian's chromium (apt-get install chromium) to run this test")


def built_or_skip() -> None:
    if not (HTML / "index.html").exists():
        pytest.skip(f"the site is not built ({HTML.relative_to(ROOT)}/index.html missing): "
                    f"run make site, or make test-site to build it and run this certificate")
    chromium_or_skip()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    """serve(folder) -> base URL of a local HTTP server for ``folder``; all stopped afterwards."""
    servers = []

    def start(folder: Path) -> str:
        handler = functools.partial(QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


RENDERED = ".MathJax, .MathJax_Display, .MathJax_SVG, .MathJax_MathML, .MathJax_CHTML, mjx-container"
# until every maths element holds MathJax's output (or MATHJAX_TIMEOUT_MS passes: then it is reported)
# Sphinx's maths elements (MathJax 2's own output has inner spans of class "math" too)
SPHINX_MATHS = "'.math.notranslate'"
ALL_TYPESET = """() => [...document.querySelectorAll(%s)].every(e => e.querySelector('%s'))""" % (SPHINX_MATHS, RENDERED)
MATHJAX_TIMEOUT_MS = 30_000

MATHS = """() => {
  const elements = [...document.querySelectorAll(%s)];
  const unrendered = elements.filter(e => !e.querySelector('%s'))
                             .map(e => e.textContent.trim().slice(0, 80));
  const errors = [...document.querySelectorAll('.MathJax .merror, .MathJax_Display .merror, [data-mjx-error]')]
                   .map(e => e.textContent.trim().slice(0, 80));
  if (document.body.innerText.includes('Math Processing Error')) errors.push('Math Processing Error');
  // raw TeX left in the text, outside code, scripts and MathJax's own elements
  const skip = 'pre, code, script, style, textarea, .MathJax_Preview, .highlight, .output, %s';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const raw = [];
  const pattern = /\\\\\\(|\\\\\\[|\\$\\$|\\$[^$\\s](?:[^$\\n]*[^$\\s\\\\])?\\$/;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest(skip)) continue;
    if (parent.closest('[hidden], .visually-hidden')) continue;
    const m = node.textContent.match(pattern);
    if (m) raw.push(node.textContent.trim().slice(0, 100));
  }
  return {count: elements.length, unrendered, errors, raw};
}""" % (SPHINX_MATHS, RENDERED, RENDERED)

IMAGES = """() => Promise.all([...document.images].map(img => {
  img.loading = 'eager';
  return img.decode().then(() => [img.currentSrc || img.src, img.naturalWidth],
                           () => [img.currentSrc || img.src, img.naturalWidth]);
}))"""

LINKS = "() => [...document.querySelectorAll('a[href]')].map(a => a.href)"


def load_and_check(page, base: str, path: str, found: list[str], summary: dict, links: dict,
                   typeset_js: str, maths_js: str, mathjax_timeout_ms: int) -> None:
    """Open ``path`` in ``page`` (console errors and page errors go to ``found``), then check it as
    every page and deck is checked: HTTP 200, MathJax done (``typeset_js``) and no formula left
    unrendered, erroneous or raw (``maths_js``), every image loaded; its links to ``base``'s
    host are collected in ``links`` for the check at the end."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    page.on("console", lambda msg: msg.type == "error" and found.append(f"console error: {msg.text}"))
    page.on("pageerror", lambda error: found.append(f"page error: {error}"))
    response = page.goto(base + path, wait_until="load", timeout=TIMEOUT_MS)
    if response is None or response.status != 200:
        found.append(f"HTTP {response.status if response else None} for the page itself")
    try:
        page.wait_for_function(typeset_js, timeout=mathjax_timeout_ms, polling=200)
    except PlaywrightTimeout:
        found.append(f"MathJax had not typeset every formula after {mathjax_timeout_ms / 1000:.0f} s")
    maths = page.evaluate(maths_js)
    summary["formulas"] += maths["count"]
    found += [f"formula not rendered: {text!r}" for text in maths["unrendered"]]
    found += [f"MathJax error: {text!r}" for text in maths["errors"]]
    found += [f"raw TeX in the text: {text!r}" for text in maths["raw"]]
    for src, width in page.evaluate(IMAGES):
        summary["images"] += 1
        if not width:
            found.append(f"image not loaded: {src[:80]}")
    origin = urlsplit(base).netloc
    for href in page.evaluate(LINKS):
        if urlsplit(href).netloc == origin:
            links.setdefault(href, set()).add(path)


def offline_context(browser, base: str, left: list[str], height: int):
    """A browser context that lets through requests to ``base``'s host only; the URL of every
    other request is appended to ``left`` and the request aborted."""
    origin = urlsplit(base).netloc
    context = browser.new_context(viewport={"width": 1280, "height": height}, service_workers="block")

    def route(route_):
        if urlsplit(route_.request.url).netloc == origin:
            route_.continue_()
        else:
            left.append(route_.request.url)
            route_.abort()

    context.route("**/*", route)
    return context


def accessibility(violations: list, where: str, found: list[str], summary: dict) -> None:
    """axe-core's violations, each ``[rule, impact, help, nodes]``: serious and critical ones are
    problems (``where`` before each), moderate and minor ones counted."""
    for rule, impact, help_, nodes in violations:
        if impact in ("serious", "critical"):
            found.append(f"{where}accessibility ({impact}): {rule}: {help_} ({nodes} elements)")
        else:
            summary["minor accessibility findings"] += 1


def close(page, path: str, found: list[str], left: list[str], problems: dict, summary: dict, counted: str) -> None:
    """After a page's checks: a late request (a font, a beacon) still counts; every request that
    left is a problem; the page's problems go to ``problems[path]``."""
    page.wait_for_timeout(100)
    found += [f"request left the machine (aborted): {url}" for url in left]
    page.close()
    summary[counted] += 1
    if found:
        problems[path] = found


def check_links(links: dict[str, set[str]], problems: dict, summary: dict) -> None:
    """Every internal link: HTTP 200 from the local server, and its #fragment, if any (and not a
    reveal.js slide address, #/...), an id of the target page."""
    bodies: dict[str, str | int] = {}
    for href, sources in sorted(links.items()):
        url, fragment = urldefrag(href)
        summary["internal links"] += 1
        if url not in bodies:
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    bodies[url] = response.read().decode("utf-8", "replace")
            except urllib.error.HTTPError as error:
                bodies[url] = error.code
        body = bodies[url]
        where = sorted(sources)[0]
        if isinstance(body, int):
            problems.setdefault(where, []).append(f"internal link {href}: HTTP {body}")
        elif (fragment and not fragment.startswith("/") and url.endswith(".html")
              and not re.search(rf'\bid="{re.escape(fragment)}"', body)):
            problems.setdefault(where, []).append(f"internal link {href}: no id {fragment!r} in its page")


def certify(browser, folder: Path, base: str, pages: list[str], screenshot: Path | None = None,
            mathjax_timeout_ms: int = MATHJAX_TIMEOUT_MS) -> dict:
    """Open each page (paths relative to ``folder``) from ``base``: {page: [problems]} with
    every problem found, plus "_summary" counts. Requests to any host but ``base``'s are aborted
    and reported."""
    problems: dict[str, list[str]] = {}
    summary = {"pages": 0, "formulas": 0, "images": 0, "internal links": 0, "minor accessibility findings": 0}
    left: list[str] = []
    context = offline_context(browser, base, left, height=900)
    links: dict[str, set[str]] = {}
    try:
        for index, page_path in enumerate(pages):
            found: list[str] = []
            left.clear()
            page = context.new_page()
            load_and_check(page, base, page_path, found, summary, links, ALL_TYPESET, MATHS, mathjax_timeout_ms)
            if index == 0 and screenshot is not None:
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot), full_page=False)
            if AXE_JS:
                page.add_script_tag(path=str(AXE_JS[0]))
                accessibility(page.evaluate(AXE_RUN), "", found, summary)
            close(page, page_path, found, left, problems, summary, "pages")
    finally:
        context.close()
    check_links(links, problems, summary)
    problems["_summary"] = summary
    return problems


def html_pages(folder: Path) -> list[str]:
    """index.html first, then every other page in path order."""
    pages = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.html")
                   if "_static" not in p.parts and "_sources" not in p.parts)
    pages.remove("index.html")
    return ["index.html"] + pages


@pytest.mark.site
def test_every_page_of_the_site_works_offline(browser, serve):
    built_or_skip()
    assert AXE_JS, "axe-core's axe.min.js not found in .venv-site: make site installs requirements-site.txt there"
    pages = html_pages(HTML)
    assert len(pages) >= 14, pages       # the home page, 12 notebook pages, docs/errors, ...
    report = certify(browser, HTML, serve(HTML), pages, screenshot=ARTIFACTS / "site_index.png")
    summary = report.pop("_summary")
    print(f"offline certificate: {summary}")
    assert not report, json.dumps(report, indent=1)
    assert summary["pages"] == len(pages) and summary["formulas"] > 100 and summary["images"] > 10, summary


@pytest.mark.site
def test_the_certificate_catches_a_cdn_put_back(browser, serve, tmp_path):
    """A copy of the site where one page loads MathJax from a CDN again, as Sphinx does by
    default: the certificate must report the request that left and the formulas left raw."""
    built_or_skip()
    copy = tmp_path / "html"
    shutil.copytree(HTML, copy, ignore=shutil.ignore_patterns("_sources", "_downloads"))
    page = "notebooks/02_backpropagation.html"
    text = (copy / page).read_text(encoding="utf-8")
    local = re.search(r'src="([^"]*_static/mathjax/MathJax\.js[^"]*)"', text)
    assert local, "the page does not load the local MathJax"
    (copy / page).write_text(text.replace(local.group(1), CDN_MATHJAX), encoding="utf-8")
    report = certify(browser, copy, serve(copy), [page], mathjax_timeout_ms=5_000)
    report.pop("_summary")
    found = report.get(page, [])
    assert any(p.startswith("request left the machine") and "cdn.jsdelivr.net" in p for p in found), found
    assert any(p.startswith("formula not rendered") for p in found), found
    assert any(p.startswith("raw TeX in the text") for p in found), found


def load_build_script():
    spec = importlib.util.spec_from_file_location("site_build", ROOT / "site" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_site_cuts_the_core_notebooks_where_corepath_does():
    """site/build.py's core pages end where minidl.lab.corepath's core path does."""
    import nbformat
    from minidl.lab import corepath
    build = load_build_script()
    assert tuple(name[:2] for name in build.CORE) == corepath.CORE_NOTEBOOKS
    assert build.APPENDIX_HEADING == corepath.APPENDIX_HEADING
    for name in build.CORE + build.APPENDIX_ONLY:
        path = ROOT / "notebooks" / f"{name}.ipynb"
        notebook = nbformat.read(path, as_version=4)
        raw = json.loads(path.read_text(encoding="utf-8"))
        core, appendix = build.split_at_appendix(raw["cells"])
        assert len(core) == len(corepath.core_cells(notebook)), name
        assert len(core) + len(appendix) == len(notebook.cells)


@pytest.mark.site
def test_the_certificate_catches_an_image_without_alt_text(browser, serve, tmp_path):
    """axe-core's part of the certificate can fail: an image with no alternative text (serious
    or critical for screen readers) put into a copy of the home page is reported."""
    built_or_skip()
    assert AXE_JS, "axe-core's axe.min.js not found in .venv-site"
    copy = tmp_path / "html"
    shutil.copytree(HTML, copy, ignore=shutil.ignore_patterns("_sources", "_downloads"))
    image = next(p for p in (copy / "_images").iterdir() if p.suffix == ".png")
    text = (copy / "index.html").read_text(encoding="utf-8")
    (copy / "index.html").write_text(text.replace("<main", f'<img src="_images/{image.name}"><main', 1), encoding="utf-8")
    report = certify(browser, copy, serve(copy), ["index.html"])
    report.pop("_summary")
    assert any(p.startswith("accessibility (") and "image-alt" in p for p in report.get("index.html", [])), report


# ---- the lecture slides (make slides: site/_build/slides, one reveal.js deck per core notebook) ----

SLIDES = ROOT / "site" / "_build" / "slides"
CDN_REVEAL = "https://unpkg.com/reveal.js@4.0.2"

# every formula MathJax 2 found has its rendered frame (MathJax inserts "<id>-Frame" before the
# script element that keeps the TeX) with no error in it; raw TeX left anywhere on any slide,
# hidden ones included (outside code, outputs and MathJax's own elements)
DECK_MATHS = """() => {
  const scripts = [...document.querySelectorAll('script[type^="math/tex"]')];
  const unrendered = scripts.filter(s => !document.getElementById(s.id + '-Frame'))
                            .map(s => s.textContent.trim().slice(0, 80));
  const errors = [...document.querySelectorAll('.MathJax .merror, .MathJax_Display .merror')]
                   .map(e => e.textContent.trim().slice(0, 80));
  if (document.body.innerText.includes('Math Processing Error')) errors.push('Math Processing Error');
  const skip = 'pre, code, script, style, .jp-OutputArea-output, .MathJax_Preview, %s';
  const walker = document.createTreeWalker(document.querySelector('.reveal .slides'), NodeFilter.SHOW_TEXT);
  const raw = [];
  const pattern = /\\\\\\(|\\\\\\[|\\$\\$|\\$[^$\\s](?:[^$\\n]*[^$\\s\\\\])?\\$/;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest(skip)) continue;
    if (node.textContent.match(pattern)) raw.push(node.textContent.trim().slice(0, 100));
  }
  return {count: scripts.length, unrendered, errors, raw};
}""" % RENDERED
# MathJax's queue has finished its first typesetting pass
MATHJAX_DONE = "() => window.MathJax && MathJax.Hub && MathJax.isReady && MathJax.Hub.queue.pending === 0 && !MathJax.Hub.queue.running && document.querySelectorAll('script[type^=\"math/tex\"]').length > 0"
# Each slide in turn, all its fragments shown, then axe-core on that slide alone
DECK_WALK = """async () => {
  const found = [];
  let fragments = 0;
  // no transitions: a slide or fragment caught mid-fade would be measured at part opacity
  const still = document.createElement('style');
  still.textContent = '*, *::before, *::after { transition: none !important; animation: none !important; }';
  document.head.appendChild(still);
  Reveal.configure({transition: 'none', backgroundTransition: 'none'});
  const slides = Reveal.getSlides();
  for (const slide of slides) {
    const i = Reveal.getIndices(slide);
    Reveal.slide(i.h, i.v, -1);
    while (Reveal.nextFragment()) fragments += 1;
    await new Promise(r => setTimeout(r, 50));
    if (window.MathJax && MathJax.Hub) await new Promise(r => MathJax.Hub.Queue(r));   // the slide's own rendering done
    const violations = (await axe.run(slide, {resultTypes: ['violations'], preload: false})).violations;
    for (const v of violations) found.push([i.h, i.v, v.id, v.impact, v.help, v.nodes.length]);
  }
  return {slides: slides.length, fragments, found};
}"""


def slides_or_skip() -> None:
    if not (SLIDES / "index.html").exists():
        pytest.skip(f"the slides are not built ({SLIDES.relative_to(ROOT)}/index.html missing): run make slides, "
                    f"or make test-site to build them and run this certificate")
    chromium_or_skip()


def certify_decks(browser, base: str, decks: list[str], screenshots: Path | None = None,
                  mathjax_timeout_ms: int = MATHJAX_TIMEOUT_MS) -> dict:
    """Open each deck from ``base`` with every other host aborted: {deck: [problems]} plus
    "_summary". Each deck is walked slide by slide, fragments shown, axe-core run per slide."""
    problems: dict[str, list[str]] = {}
    summary = {"decks": 0, "slides": 0, "fragments": 0, "formulas": 0, "images": 0, "internal links": 0,
               "minor accessibility findings": 0}
    left: list[str] = []
    context = offline_context(browser, base, left, height=800)
    links: dict[str, set[str]] = {}
    try:
        for deck in decks:
            found: list[str] = []
            left.clear()
            page = context.new_page()
            load_and_check(page, base, deck, found, summary, links, MATHJAX_DONE, DECK_MATHS, mathjax_timeout_ms)
            if not page.evaluate("() => typeof Reveal !== 'undefined' && Reveal.isReady()"):
                found.append("reveal.js did not start")
            else:
                if screenshots is not None and deck == decks[0]:
                    screenshots.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(screenshots / "slides_first.png"))
                page.add_script_tag(path=str(AXE_JS[0]))
                walk = page.evaluate(DECK_WALK)
                summary["slides"] += walk["slides"]
                summary["fragments"] += walk["fragments"]
                for h, v, *violation in walk["found"]:
                    accessibility([violation], f"slide {h}/{v}: ", found, summary)
                if screenshots is not None and deck == decks[0]:
                    # a predict-then-run prompt with its fragments shown
                    page.evaluate("""() => { const s = [...document.querySelectorAll('section')].filter(e => !e.querySelector('section')).find(
                        e => /Predict, then run/.test(e.querySelector('h3, h4')?.textContent || ''));
                        const i = Reveal.getIndices(s); Reveal.slide(i.h, i.v, 99); }""")
                    page.wait_for_timeout(300)
                    page.screenshot(path=str(screenshots / "slides_prompt.png"))
            close(page, deck, found, left, problems, summary, "decks")
    finally:
        context.close()
    check_links(links, problems, summary)
    problems["_summary"] = summary
    return problems


def slide_decks(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("[0-9][0-9]_*.html"))


@pytest.mark.site
def test_every_slide_deck_works_offline(browser, serve):
    slides_or_skip()
    assert AXE_JS, "axe-core's axe.min.js not found in .venv-site: make slides installs requirements-site.txt there"
    decks = slide_decks(SLIDES)
    assert [d[:2] for d in decks] == ["01", "02", "03", "04", "07"], decks
    base = serve(SLIDES)
    index = certify(browser, SLIDES, base, ["index.html"])
    index_summary = index.pop("_summary")
    report = certify_decks(browser, base, decks, screenshots=ARTIFACTS)
    summary = report.pop("_summary")
    print(f"offline certificate of the slides: {summary}; the index page: {index_summary}")
    assert not index, json.dumps(index, indent=1)
    assert not report, json.dumps(report, indent=1)
    assert summary["decks"] == 5 and summary["slides"] >= 60 and summary["fragments"] >= 15, summary
    assert summary["formulas"] > 100 and summary["images"] >= 5, summary
    assert index_summary["internal links"] >= 5, index_summary


@pytest.mark.site
def test_the_slides_certificate_catches_a_cdn_put_back(browser, serve, tmp_path):
    """A copy of the slides where one deck loads reveal.js and MathJax from CDNs again, as
    nbconvert's template does by default: the certificate reports both requests, the deck that
    did not start and the formulas left raw."""
    slides_or_skip()
    copy = tmp_path / "slides"
    shutil.copytree(SLIDES, copy)
    deck = "02_backpropagation.html"
    text = (copy / deck).read_text(encoding="utf-8")
    assert "_static/reveal.js" in text and "_static/mathjax/MathJax.js" in text
    text = text.replace("_static/reveal.js", CDN_REVEAL).replace(
        "_static/mathjax/MathJax.js", CDN_MATHJAX.split("?")[0])
    (copy / deck).write_text(text, encoding="utf-8")
    report = certify_decks(browser, serve(copy), [deck], mathjax_timeout_ms=5_000)
    report.pop("_summary")
    found = report.get(deck, [])
    assert any(p.startswith("request left the machine") and "unpkg.com" in p for p in found), found
    assert any(p.startswith("request left the machine") and "cdn.jsdelivr.net" in p for p in found), found
    assert "reveal.js did not start" in found, found
    assert any(p.startswith("raw TeX in the text") for p in found), found
