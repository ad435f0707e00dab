"""release/ is exactly what nbgrader generates from source/: nobody edits it by hand."""
import json
from pathlib import Path

from instructors.course import Course

ROOT = Path(__file__).resolve().parents[1]


def _cells(path: Path):
    nb = json.loads(path.read_text())
    return nb["metadata"], [(c["cell_type"], c["source"], c["metadata"]) for c in nb["cells"]]


def test_committed_release_matches_a_fresh_generate_assignment(tmp_path):
    course = Course.copy_of_this_course(tmp_path / "course")
    for source_dir in sorted((ROOT / "source").iterdir()):
        name = source_dir.name
        course.nbgrader("generate_assignment", name, "--force")
        generated = sorted(p.relative_to(course.root / "release") for p in (course.root / "release" / name).rglob("*") if p.is_file())
        committed = sorted(p.relative_to(ROOT / "release") for p in (ROOT / "release" / name).rglob("*") if p.is_file())
        assert generated == committed, f"release/{name} has other files than nbgrader generates"
        for rel in generated:
            if rel.suffix == ".ipynb":
                fresh_meta, fresh = _cells(course.root / "release" / rel)
                meta, cells = _cells(ROOT / "release" / rel)
                assert meta == fresh_meta
                differing = [i for i, (a, b) in enumerate(zip(cells, fresh)) if a != b]
                assert len(cells) == len(fresh) and not differing, (
                    f"release/{rel} differs from source/ at cells {differing}: "
                    f"run `python -m instructors.release` to regenerate it")
            else:
                assert (ROOT / "release" / rel).read_bytes() == (course.root / "release" / rel).read_bytes()
