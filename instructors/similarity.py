"""Pairs of students whose solution code is unusually alike: a copying check for one assignment.

    python -m instructors.similarity ASSIGNMENT [--course DIR] [--threshold 0.5]

It reads nbgrader's folders, ``DIR/release/ASSIGNMENT/ASSIGNMENT.ipynb`` (the
notebook every student starts from) and ``DIR/submitted/<student>/ASSIGNMENT/
ASSIGNMENT.ipynb``, and compares only the solution cells: the code cells that
the *release* notebook marks ``nbgrader.solution``, looked up in each student's
notebook by grade id, so a student who edits a cell's metadata changes nothing.
A submission is read as grading reads it (:func:`autograder.untrusted.intake.read_path`:
bounded, no link followed); one that cannot be read is left out and said so.

The method is MOSS's (Schleimer, Wilkerson and Aiken, "Winnowing", SIGMOD 2003),
because what it ignores is what a copier changes and what it keeps is what a
copier keeps:

* **Normalise.** Each cell goes through the standard library's ``tokenize``;
  comments, blank lines, indentation, line breaks and bare string statements
  (docstrings) go, so re-laying-out or re-commenting code changes nothing.
  Numbers and strings become one placeholder each. Keywords, builtins and
  attribute names (``torch.rand_like``, ``x.mul_``) stay: that is the API the
  code calls, which a copier keeps and two independent writers often choose
  differently. Every other name becomes a placeholder numbered by its first
  occurrence *within each k-gram*: consistent renaming changes nothing, and
  ``a = b + a`` still differs from ``a = b + c`` (one placeholder for every name
  would make unrelated code collide more). Numbering across the whole cell would
  do as well against renaming, but one inserted variable would renumber every
  name after it; within a k-gram, an inserted or moved line only changes the
  k-grams that touch it. Code that does not tokenize (a notebook magic, an
  unclosed bracket) is split on words and symbols by a regular expression instead.
* **Fingerprint.** Every run of ``K`` tokens is hashed (a stable hash, so a
  report is the same on every run) and winnowing keeps the smallest hash of
  every ``WINDOW`` consecutive ones: about 2/(WINDOW+1) of them, yet any match of
  WINDOW+K-1 tokens or more (about one line of code) is sure to share one.
* **Ignore what is not copying.** A fingerprint of any code cell of the release
  notebook is boilerplate every student starts from. A fingerprint more than
  ``max(2, COMMON_SHARE × students)`` students hold is the canonical solution or
  a common idiom: when a dozen students write the same three lines, that is
  the obvious answer, not a copying ring. (So a group of copiers larger than
  that cut-off looks canonical too; raise ``common_share`` to look for one.)
* **Score** a pair by the share of the rarer fingerprints they hold that both
  hold, ``|A∩B| / min(|A|, |B|)``: whoever copied one answer into a longer
  notebook is still found. At least ``MIN_SHARED`` shared fingerprints are
  needed, so that two short answers, or the same small bug made twice, do not
  count.

Existing tools were weighed: ``copydetect`` winnows the same way and takes
boilerplate files, but reads files from disk (a temporary file per cell),
brings numpy, matplotlib and jinja2, and has no notion of code the whole class
shares; ``pycode_similar`` compares the ASTs of two functions at a time, so
it cannot read an answer that does not parse, ignores the handout and compares
pairs by text diff. This module is a page of standard library.
"""
from __future__ import annotations

import argparse
import builtins
import hashlib
import io
import keyword
import os
import re
import sys
import time
import tokenize
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

#: Tokens in one k-gram: about one short line of code.
K = 6
#: Hashes per winnowing window: any match of WINDOW+K-1 = 9 tokens shares a fingerprint.
WINDOW = 4
#: A fingerprint held by more than max(2, COMMON_SHARE of the class) students is ignored.
COMMON_SHARE = 0.05
#: Fewer shared rare fingerprints than this is too little code to call copied.
MIN_SHARED = 8
#: The score from which a pair is reported.
THRESHOLD = 0.5
#: Characters of one cell compared; a longer answer is compared by its start.
CELL_LIMIT = 100_000

_NUMBER, _STRING, _NAME = "<number>", "<string>", "\0"   # _NAME prefixes a name to be renamed
_KEPT_NAMES = set(dir(builtins))
_LAYOUT = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
           tokenize.ENCODING, tokenize.ENDMARKER}
_STATEMENT_START = {tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}
_FSTRING_START = getattr(tokenize, "FSTRING_START", None)  # Python 3.12 splits f-strings up
_FSTRING_END = getattr(tokenize, "FSTRING_END", None)
_WORDS = re.compile(r"""'''.*?'''|\"\"\".*?\"\"\"|'[^'\n]*'|"[^"\n]*"|(\#[^\n]*)|([A-Za-z_]\w*)|(\d[\w.]*)|(\S)""",
                    re.DOTALL)


@dataclass
class SimilarPair:
    """Two students whose rare fingerprints overlap; ``cells`` shows where, most shared first."""
    assignment: str
    first: str                 # student ids, first before second in natural order
    second: str
    score: float               # shared / the smaller of their rare fingerprint counts, 0..1
    shared: int                # rare fingerprints both hold
    cells: list[tuple[str, str, str]] = field(default_factory=list)  # (grade_id, first's, second's source)


@dataclass
class Solutions:
    """The solution cells of a class as handed in, and who could not be read and why."""
    grade_ids: list[str]                  # the release notebook's solution cells, in order
    handout: list[str]                    # every code cell of the release notebook
    cells: dict[str, dict[str, str]]      # student -> grade_id -> source
    skipped: dict[str, str] = field(default_factory=dict)


# --- reading the class ------------------------------------------------------------

def _source(cell) -> str:
    source = cell.get("source", "") if isinstance(cell, dict) else ""
    if isinstance(source, list):
        source = "".join(s for s in source if isinstance(s, str))
    return source[:CELL_LIMIT] if isinstance(source, str) else ""


def _grade_id(cell):
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None


def read_solutions(course_root: Path, assignment: str) -> Solutions:
    """Every readable submission's solution cells, keyed by the release notebook's grade ids."""
    import nbformat

    from autograder.untrusted.intake import NOTEBOOK_LIMIT, Refused, read_path

    course_root = Path(course_root)
    release = nbformat.read(course_root / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    grade_ids = [_grade_id(c) for c in release.cells if c.cell_type == "code"
                 and c.metadata.get("nbgrader", {}).get("solution") and _grade_id(c)]
    found = Solutions(grade_ids, [c.source for c in release.cells if c.cell_type == "code"], {})
    submitted = course_root / "submitted"
    for student in sorted(os.listdir(submitted)) if submitted.is_dir() else []:
        folder = submitted / student / assignment
        linked = next((p for p in (folder.parent, folder) if p.is_symlink()), None)
        if linked is not None:  # read nothing through it: it may lead to anyone's files
            found.skipped[student] = f"{linked} is a symbolic link, not a folder handed in; it was not read"
            continue
        if not folder.is_dir():
            continue  # a stray file, or a student who did not hand this assignment in
        path = folder / f"{assignment}.ipynb"
        try:
            notebook = nbformat.reads(read_path(str(path), NOTEBOOK_LIMIT).decode("utf-8"), as_version=4)
            cells = notebook.get("cells")
            by_id = {}
            for cell in cells if isinstance(cells, list) else []:
                by_id.setdefault(_grade_id(cell), cell)  # the first cell of a grade id, as grading takes
        except Refused as refused:
            found.skipped[student] = f"{path} is {refused.strerror}; it was not read"
            continue
        except Exception as error:  # noqa: BLE001 - any unreadable file is the same problem
            found.skipped[student] = f"{path} is not a notebook that can be read ({type(error).__name__}: {error})"[:300]
            continue
        found.cells[student] = {g: _source(by_id[g]) for g in grade_ids if g in by_id}
    return found


# --- normalising and fingerprinting code --------------------------------------------

def _name(text: str, after_dot: bool) -> str:
    if keyword.iskeyword(text) or text in _KEPT_NAMES or after_dot:
        return text
    return _NAME + text


def _python_tokens(source: str) -> list[str]:
    raw = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
           if t.type != tokenize.ERRORTOKEN or t.string.strip()]
    out, previous, depth = [], tokenize.NEWLINE, 0   # previous: the last token that was not a comment or NL
    for i, tok in enumerate(raw):
        if depth:  # inside an f-string (3.12+): it is one string placeholder
            depth += (tok.type == _FSTRING_START) - (tok.type == _FSTRING_END)
            continue
        if tok.type == _FSTRING_START:
            depth = 1
            out.append(_STRING)
        elif tok.type == tokenize.STRING:
            after = i + 1
            while after < len(raw) and raw[after].type in (tokenize.COMMENT, tokenize.NL):
                after += 1
            following = raw[after].type if after < len(raw) else tokenize.ENDMARKER
            if not (previous in _STATEMENT_START and following in (tokenize.NEWLINE, tokenize.ENDMARKER)):
                out.append(_STRING)       # a bare string statement is a docstring: left out
        elif tok.type == tokenize.NUMBER:
            out.append(_NUMBER)
        elif tok.type == tokenize.NAME:
            out.append(_name(tok.string, bool(out) and out[-1] == "."))
        elif tok.type not in _LAYOUT:
            out.append(tok.string)
        if tok.type not in (tokenize.COMMENT, tokenize.NL):
            previous = tok.type
    return out


def _word_tokens(source: str) -> list[str]:
    """Code that does not tokenize, split into strings, names, numbers and symbols."""
    out = []
    for match in _WORDS.finditer(source):
        comment, name, number, symbol = match.groups()
        if comment:
            continue
        if name:
            out.append(_name(name, bool(out) and out[-1] == "."))
        else:
            out.append(_NUMBER if number else symbol or _STRING)
    return out


def normalised_tokens(source: str) -> list[str]:
    """A cell's tokens without layout, comments or docstrings; names to rename carry a NUL prefix."""
    try:
        return _python_tokens(source)
    except (tokenize.TokenError, SyntaxError):  # IndentationError is a SyntaxError
        return _word_tokens(source)


def _kgram_hashes(tokens: list[str], k: int) -> list[int]:
    """A stable hash of every k tokens in a row, names numbered by first use within those k."""
    hashes = []
    for start in range(len(tokens) - k + 1):
        order: dict[str, str] = {}
        gram = [order.setdefault(t, f"N{len(order)}") if t.startswith(_NAME) else t
                for t in tokens[start:start + k]]
        digest = hashlib.blake2b("\x1f".join(gram).encode(), digest_size=8).digest()
        hashes.append(int.from_bytes(digest, "big"))
    return hashes


def fingerprints(source: str, k: int = K, window: int = WINDOW) -> set[int]:
    """The winnowed k-gram hashes of one cell: the smallest of every ``window`` consecutive ones."""
    hashes = _kgram_hashes(normalised_tokens(source), k)
    return {min(hashes[start:start + window]) for start in range(max(1, len(hashes) - window + 1))
            if hashes}


def _natural(name: str):
    from .statuses import natural_key

    return natural_key(name), name


# --- the comparison -----------------------------------------------------------------

def compare(solutions: Solutions, assignment: str = "", threshold: float = THRESHOLD, *, k: int = K,
            window: int = WINDOW, common_share: float = COMMON_SHARE,
            min_shared: int = MIN_SHARED) -> list[SimilarPair]:
    """The pairs of :func:`similar_pairs`, from solutions already read."""
    boilerplate = set()
    for source in solutions.handout:  # every k-gram of the handout, not only the winnowed ones
        boilerplate.update(_kgram_hashes(normalised_tokens(source), k))
    where: dict[str, dict[int, set[str]]] = {}   # student -> fingerprint -> grade ids it is in
    holders: dict[int, list[str]] = defaultdict(list)
    for student, cells in solutions.cells.items():
        where[student] = defaultdict(set)
        for grade_id, source in cells.items():
            for fingerprint in fingerprints(source, k, window) - boilerplate:
                where[student][fingerprint].add(grade_id)
        for fingerprint in where[student]:
            holders[fingerprint].append(student)
    common = max(2.0, common_share * len(solutions.cells))
    rare = {f: held for f, held in holders.items() if len(held) <= common}
    count = Counter(student for held in rare.values() for student in held)
    shared: dict[tuple[str, str], list[int]] = defaultdict(list)
    for fingerprint, held in rare.items():
        for pair in combinations(sorted(held, key=_natural), 2):
            shared[pair].append(fingerprint)
    pairs = []
    for (first, second), prints in shared.items():
        score = len(prints) / min(count[first], count[second])
        if len(prints) < min_shared or score < threshold:
            continue
        in_cell = Counter(g for f in prints for g in where[first][f] | where[second][f])
        cells = [(g, solutions.cells[first].get(g, ""), solutions.cells[second].get(g, ""))
                 for g, _ in sorted(in_cell.items(), key=lambda item: (-item[1], solutions.grade_ids.index(item[0])))]
        pairs.append(SimilarPair(assignment, first, second, round(score, 3), len(prints), cells))
    return sorted(pairs, key=lambda p: (-p.score, -p.shared, _natural(p.first), _natural(p.second)))


def similar_pairs(course_root: Path, assignment: str, threshold: float = THRESHOLD, **options) -> list[SimilarPair]:
    """Pairs of submissions of ``assignment`` whose solution code is unusually alike, most alike first.

    ``options`` are :func:`compare`'s: ``k``, ``window``, ``common_share``, ``min_shared``.
    Unreadable submissions are left out; :func:`read_solutions` says which and why.
    """
    return compare(read_solutions(course_root, assignment), assignment, threshold, **options)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignment")
    parser.add_argument("--course", default=".", help="the course folder (default: here)")
    parser.add_argument("--threshold", type=float, default=THRESHOLD, help=f"(default: {THRESHOLD})")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    solutions = read_solutions(Path(args.course), args.assignment)
    pairs = compare(solutions, args.assignment, args.threshold)
    for student, why in solutions.skipped.items():
        print(f"not compared: {student}: {why}")
    print(f"{len(solutions.cells)} submissions of {args.assignment} compared in "
          f"{time.perf_counter() - start:.1f} s; {len(pairs)} pairs alike from {args.threshold:.0%} on")
    for pair in pairs:
        print(f"\n{pair.first} and {pair.second}: {pair.score:.0%} of their rare code alike "
              f"({pair.shared} fingerprints), most in {', '.join(g for g, _, _ in pair.cells)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
