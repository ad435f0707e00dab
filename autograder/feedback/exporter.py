"""The HTML exporter of this course's feedback: nbgrader's feedback page, readable offline.

nbgrader's feedback template loads MathJax from a CDN, so on a laptop with no
network a formula shows as raw LaTeX. Here math is rendered to MathML when the
file is made (browsers draw MathML themselves), the page carries no script, and
the template (``templates/course_feedback``) puts the summary of
:mod:`.summary` at the top.
"""
from __future__ import annotations

import html
import re

from jinja2 import FileSystemLoader, pass_context
from latex2mathml.converter import convert
from nbconvert.exporters import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from traitlets import default

from .safe_html import FEEDBACK_POLICY, SanitizeNotebook, clean_html

_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>\s*", re.S | re.I)


def mathml(latex: str, display: str = "inline") -> str:
    """``latex`` as MathML; where it cannot be converted, the LaTeX itself, shown as code."""
    try:
        return convert(latex.strip(), display=display)
    except Exception:  # noqa: BLE001 - any unsupported macro: show the source, readable
        return f'<code class="tex">{html.escape(latex.strip())}</code>'


class MathMLRenderer(IPythonRenderer):
    """nbconvert's Markdown renderer, with math written as MathML instead of left to MathJax."""

    def block_math(self, body: str) -> str:
        return mathml(body, "block")

    def inline_math(self, body: str) -> str:
        return mathml(body)

    def latex_environment(self, name: str, body: str) -> str:
        return mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", "block")


def without_scripts(text: str) -> str:
    """The HTML with every ``<script>`` element removed: feedback needs none and loads nothing."""
    return _SCRIPT.sub("", text)


def _markdown(context, source: str, **options) -> str:
    """Markdown as HTML, math as MathML; Markdown it cannot draw (an attachment that is not
    there) is shown as its text, never an error that stops the page."""
    cell, resources = context.get("cell", {}), context.get("resources", {})
    renderer = MathMLRenderer(escape=False, attachments=cell.get("attachments", {}),
                              path=resources.get("metadata", {}).get("path", ""), **options)
    try:
        return MarkdownWithMath(renderer=renderer).render(source)
    except Exception:  # noqa: BLE001 - nbconvert's InvalidNotebook and kin, from a student's text
        return f"<pre>{html.escape(source)}</pre>"


@pass_context
def markdown_inert(context, source: str) -> str:
    """A Jinja filter: Markdown as sanitised HTML, math as MathML (``c.HTMLExporter.filters``:
    the formgrader draws every Markdown cell through it)."""
    return clean_html(_markdown(context, source))


class FeedbackExporter(HTMLExporter):
    """``c.GenerateFeedback.exporter_class``: this course's template, math as MathML, student content inert.

    Whatever the configuration says, the notebook is sanitised first and the page
    carries :data:`~.safe_html.FEEDBACK_POLICY` (:mod:`.safe_html`).
    """

    def _init_preprocessors(self):
        super()._init_preprocessors()
        if not any(isinstance(p, SanitizeNotebook) for p in self._preprocessors):
            self._preprocessors.insert(0, SanitizeNotebook(parent=self))

    def _init_resources(self, resources):
        resources = super()._init_resources(resources)
        resources["feedback_policy"] = FEEDBACK_POLICY
        return resources

    @default("extra_loaders")
    def _template_folders(self):
        # Our template extends nbgrader's by its folder ("feedback/index.html.j2"), so the
        # folders that hold templates are searched too; GenerateFeedback sets
        # extra_template_paths for its own use, so they cannot go there.
        return [FileSystemLoader(self.extra_template_basedirs)]

    @pass_context
    def markdown2html(self, context, source):
        return clean_html(_markdown(context, source, embed_images=self.embed_images,
                                    anchor_link_text=self.anchor_link_text,
                                    exclude_anchor_links=self.exclude_anchor_links, **self.lexer_options))

    def default_filters(self):
        yield from super().default_filters()
        yield ("without_scripts", without_scripts)
        yield ("clean_html", clean_html)
