"""Student content, shown as HTML to the instructor and to students, made inert.

The formgrader draws each submission on the instructor's own Jupyter server, on
the same origin as its APIs: a script in a student's markdown answer or output
would run as the instructor there, change grades, or write the course's
``nbgrader_config.py`` (which the next nbgrader command then runs outside any
jail). The feedback file and the class report carry student text too. Two
layers keep all of it inert:

* **Sanitising.** :class:`SanitizeNotebook` runs before either exporter draws a
  notebook. It keeps only output types that cannot carry script (plain text,
  HTML and Markdown, which the template then passes through :func:`clean_html`,
  and images whose bytes are valid base64), drops everything else (JavaScript,
  widgets, LaTeX for MathJax), keeps of output metadata only numeric image sizes
  (nbconvert writes them into unquoted attributes), and makes raw cells plain
  text. :func:`clean_html` (bleach, an allow-list) keeps text structure, tables,
  MathML and ``data:`` images, and drops every script, event handler, frame,
  form, ``id`` and ``class`` (the formgrader's own code finds its inputs by
  those), style but a few harmless properties, and any link but http(s) and mail.
* **A Content-Security-Policy** in each page's head, before any student byte:
  the feedback runs no script at all (:data:`FEEDBACK_POLICY`); the formgrader
  page runs only its own files and the inline scripts of nbgrader's own header,
  allowed by their hashes (:func:`formgrader_policy`).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import html
import re
from functools import lru_cache

from nbconvert.preprocessors import Preprocessor

#: Output types kept; anything else is replaced by a line saying it was not shown.
KEPT_TYPES = ("text/plain", "text/html", "text/markdown", "image/png", "image/jpeg", "image/gif",
              "image/svg+xml")
_IMAGES = ("image/png", "image/jpeg", "image/gif")
_CELL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

TAGS = {"a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "details", "div", "dl", "dt",
        "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd",
        "li", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub", "summary", "sup",
        "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "var",
        # MathML, as the feedback draws formulas (autograder/feedback/exporter.py)
        "math", "mi", "mn", "mo", "ms", "mspace", "mtext", "mrow", "mfrac", "msqrt", "mroot", "msub",
        "msup", "msubsup", "munder", "mover", "munderover", "mtable", "mtr", "mtd", "mstyle",
        "semantics", "annotation", "mpadded", "mphantom", "menclose"}
STYLES = ["color", "background-color", "font-weight", "font-style", "text-align", "text-decoration"]


def _attribute(tag: str, name: str, value: str) -> bool:
    if name == "style":
        return True  # the CSS sanitizer keeps only STYLES
    if tag == "img":
        if name == "src":
            return bool(re.match(r"^data:image/(png|jpeg|gif|svg\+xml);base64,[A-Za-z0-9+/=\s]*$", value))
        return name in ("alt", "title", "width", "height")
    if tag == "a":
        return name == "title" or (name == "href" and bool(re.match(r"^(https?:|mailto:|#)", value, re.I)))
    if tag in ("td", "th"):
        return name in ("colspan", "rowspan", "align")
    if tag.startswith("m") or tag in ("semantics", "annotation"):  # MathML's presentation attributes
        return name in ("display", "mathvariant", "stretchy", "fence", "separator", "lspace", "rspace",
                        "linethickness", "columnalign", "accent", "encoding", "xmlns", "width")
    return name == "title" or (tag == "details" and name == "open")


@lru_cache(maxsize=1)
def _cleaner():
    import bleach
    from bleach.css_sanitizer import CSSSanitizer

    return bleach.sanitizer.Cleaner(tags=TAGS, attributes=_attribute, protocols={"http", "https", "mailto", "data"},
                                    strip=True, strip_comments=True,
                                    css_sanitizer=CSSSanitizer(allowed_css_properties=STYLES))


def clean_html(html) -> str:
    """``html`` with nothing that runs, loads or reaches the page around it (see the module)."""
    text = html.decode() if isinstance(html, bytes) else str(html)
    return _cleaner().clean(text)


def _base64(data) -> str | None:
    text = "".join(data) if isinstance(data, list) else data
    if not isinstance(text, str):
        return None
    try:
        base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    return text


def _text(value) -> str:
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else ""


def _safe_output(output: dict) -> dict:
    """One output with only what the templates can draw inertly."""
    kind = output.get("output_type")
    if kind == "stream":
        return {"output_type": "stream", "name": "stderr" if output.get("name") == "stderr" else "stdout",
                "text": _text(output.get("text"))}
    if kind == "error":
        return {"output_type": "error", "ename": _text(output.get("ename")), "evalue": _text(output.get("evalue")),
                "traceback": [t for t in output.get("traceback", []) if isinstance(t, str)]}
    data = output.get("data") if isinstance(output.get("data"), dict) else {}
    kept, dropped = {}, []
    for mime, value in data.items():
        if mime not in KEPT_TYPES:
            dropped.append(mime)
        elif mime in _IMAGES:
            encoded = _base64(value)
            if encoded is None:
                dropped.append(mime)
            else:
                kept[mime] = encoded
        else:
            kept[mime] = _text(value)
    if not kept:
        kept["text/plain"] = f"[output not shown: {', '.join(sorted(set(dropped)))[:200] or 'empty'}]"
    metadata = {}
    for mime in _IMAGES:
        sizes = output.get("metadata", {}).get(mime) if isinstance(output.get("metadata"), dict) else None
        if isinstance(sizes, dict):
            whole = {k: int(v) for k, v in sizes.items() if k in ("width", "height")
                     and isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 100_000}
            if whole:
                metadata[mime] = whole
    safe = {"output_type": "display_data" if kind != "execute_result" else "execute_result",
            "data": kept, "metadata": metadata}
    if kind == "execute_result":
        count = output.get("execution_count")
        safe["execution_count"] = count if isinstance(count, int) and not isinstance(count, bool) else None
    return safe


class SanitizeNotebook(Preprocessor):
    """Leave a notebook only content the course's templates draw inertly (see the module)."""

    def preprocess(self, nb, resources):
        import nbformat

        for index, cell in enumerate(nb.cells):
            if not isinstance(cell.get("id"), str) or not _CELL_ID.match(cell.get("id", "")):
                cell["id"] = f"cell-{index}"
            if cell.cell_type == "code":
                cell.outputs = [nbformat.from_dict(_safe_output(o)) for o in cell.get("outputs", [])
                                if isinstance(o, dict)]
                count = cell.get("execution_count")
                cell.execution_count = count if isinstance(count, int) and not isinstance(count, bool) else None
            elif cell.cell_type == "raw":
                cell.metadata.pop("raw_mimetype", None)
                cell.metadata.pop("format", None)
            attachments = cell.get("attachments")
            if attachments is not None:
                cell["attachments"] = {
                    name: {mime: data for mime, data in bundle.items() if mime in _IMAGES and _base64(data)}
                    for name, bundle in (attachments.items() if isinstance(attachments, dict) else ())
                    if isinstance(name, str) and isinstance(bundle, dict)}
        resources["should_sanitize_html"] = True
        # nbgrader's formgrader writes these into its header and navigation as they are; a
        # student's id (a zip_collect file name) or name (a roster) is a student's text.
        for key in ("student", "first_name", "last_name", "notebook_path", "notebook_id", "assignment_id",
                    "submission_id"):
            if isinstance(resources.get(key), str):
                resources[key] = html.escape(resources[key], quote=True)
        return nb, resources


#: The feedback page: no script, nothing loaded from anywhere; its own inline styles and data: images.
FEEDBACK_POLICY = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
                   "base-uri 'none'; form-action 'none'")

_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)
_HANDLER = re.compile(r"""\son[a-z]+\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def formgrader_policy(trusted_html: str) -> str:
    """The formgrader page's policy: its own files, and the inline scripts and handlers of
    ``trusted_html`` (nbgrader's header and navigation, drawn before any student content) by hash."""
    scripts = sorted({_sha256(m) for m in _INLINE_SCRIPT.findall(str(trusted_html))})
    handlers = sorted({_sha256(a or b) for a, b in _HANDLER.findall(str(trusted_html))})
    allowed = " ".join(["'self'", *scripts, *(["'unsafe-hashes'", *handlers] if handlers else [])])
    return (f"default-src 'self'; script-src {allowed}; style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data:; object-src 'none'; frame-src 'none'; base-uri 'none'; form-action 'self'")
