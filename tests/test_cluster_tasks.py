"""What a cluster task carries and writes, without a cluster (instructors/cluster.py).

tests/test_cluster.py grades a class on a real Dask cluster; these pin the two
rules about files that keep a task from reaching past its submission.
"""
import os

import pytest

from instructors.cluster import _files, _write


def test_a_task_carries_no_file_a_link_in_the_submission_points_at(tmp_path):
    secret = tmp_path / "instructor" / "gradebook.db"
    secret.parent.mkdir()
    secret.write_text("every student's grades")
    submission = tmp_path / "submitted" / "mallory" / "hw"
    submission.mkdir(parents=True)
    (submission / "hw.ipynb").write_text("{}")
    os.symlink(secret, submission / "answers.ipynb")
    os.symlink(secret.parent, submission / "notes")
    carried = _files(submission, tmp_path)
    assert carried == {"submitted/mallory/hw/hw.ipynb": b"{}"}
    assert not any(b"grades" in data for data in carried.values())


@pytest.mark.parametrize("path", ["../outside.txt", "autograded/../../outside.txt", "/etc/outside.txt"])
def test_what_a_task_sends_back_is_written_only_inside_the_course(tmp_path, path):
    course = tmp_path / "course"
    course.mkdir()
    with pytest.raises(ValueError, match="refusing to write outside"):
        _write(course, {path: b"x"})
    assert not (tmp_path / "outside.txt").exists()
    _write(course, {"feedback/ada/hw/hw.html": b"ok"})
    assert (course / "feedback/ada/hw/hw.html").read_bytes() == b"ok"
