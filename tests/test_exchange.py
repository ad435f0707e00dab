"""instructors.exchange: the exchange folder's modes, named when wrong and put right."""
import stat

from instructors.exchange import EXPECTED, fix, main, problems


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode) & 0o2777


def _released(root, course="dropout101"):
    """The folders as nbgrader's release and release_feedback leave them."""
    root.mkdir(mode=0o777)
    root.chmod(0o777)
    for relative, (mode, _) in EXPECTED.items():
        if relative != ".":
            path = root / relative.format(course=course)
            path.mkdir()
            path.chmod(mode)
    return root


def test_an_exchange_as_nbgrader_makes_it_has_no_problems(tmp_path):
    root = _released(tmp_path / "exchange")
    assert problems(root, "dropout101") == []
    assert main([str(root)]) == 0


def test_before_the_first_release_only_the_root_matters(tmp_path):
    root = tmp_path / "exchange"
    root.mkdir()
    root.chmod(0o755)
    [(path, mode, message)] = problems(root, "dropout101")
    assert (path, mode) == (root, 0o777)
    assert "has mode 755; it needs 777" in message


def test_each_wrong_folder_is_named_with_its_mode_and_why_and_fix_repairs_it(tmp_path, capsys):
    root = _released(tmp_path / "exchange")
    (root / "dropout101/inbound").chmod(0o755)        # students could not submit
    (root / "dropout101/feedback").chmod(0o755)       # students could list everyone's feedback
    found = {path.name: message for path, _, message in problems(root, "dropout101")}
    assert set(found) == {"inbound", "feedback"}
    assert "inbound has mode 755; it needs 2733 because students submit here" in found["inbound"]
    assert "feedback has mode 755; it needs 711" in found["feedback"]
    assert main([str(root)]) == 1
    assert "wrong:" in capsys.readouterr().err
    done = fix(root, "dropout101")
    assert len(done) == 2 and all(line.startswith("fixed: ") for line in done)
    assert (_mode(root / "dropout101/inbound"), _mode(root / "dropout101/feedback")) == (0o2733, 0o711)
    assert problems(root, "dropout101") == []


def test_a_missing_exchange_is_a_problem_that_fix_creates(tmp_path):
    root = tmp_path / "nowhere" / "exchange"
    [(_, _, message)] = problems(root, "dropout101")
    assert "does not exist" in message and "--fix" in message
    assert main([str(root), "--fix"]) == 0
    assert _mode(root) == 0o777
