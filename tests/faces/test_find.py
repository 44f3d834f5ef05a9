"""``ned faces``: the faces of a clip numbered as --face-index numbers them, with a
thumbnail sheet; a face index past them is an error naming how many there are."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ned.cli import main
from ned.errors import NedError
from ned.faces.find import contact_sheet, find_faces
from ned.io import read_frames
from tests.conftest import make_video


def test_one_face(single_face_path):
    report = find_faces(single_face_path, every=0.5)
    assert report.most == 1 and [f.index for f in report.faces] == [0]
    f = report.faces[0]
    assert f.first == 0 and f.last > 1.9 and f.samples == report.sampled
    assert 150 < f.size < 260 and f.thumbnail.shape == (128, 128, 3)
    sheet = contact_sheet(report)
    assert sheet.shape[1] == 128 and sheet.dtype == np.uint8


def test_no_face_and_bad_inputs(no_face_path, tmp_path):
    report = find_faces(no_face_path, every=0.5)
    assert report.faces == [] and "0 faces" in report.lines()[0]
    assert contact_sheet(report).shape[2] == 3
    with pytest.raises(NedError, match="no such video"):
        find_faces(tmp_path / "none.mp4")
    with pytest.raises(NedError, match="--every"):
        find_faces(no_face_path, every=0)


@pytest.fixture(scope="module")
def two_faces(tmp_path_factory, single_face_path, carphone_path):
    a = [f.image for f in read_frames(single_face_path)][:40]
    b = [f.image for f in read_frames(carphone_path)][:40]
    frames = []
    for x, y in zip(a, b):
        img = np.zeros((288, 720, 3), np.uint8)
        img[32:257, :400] = cv2.resize(x, (400, 225))
        img[:, 400:] = cv2.resize(y, (352, 288))[:, :320]
        frames.append(img)
    return make_video(tmp_path_factory.mktemp("faces") / "two.mp4", frames, fps=30)


@pytest.mark.slow
def test_two_faces_and_the_sheet(two_faces, tmp_path, capsys):
    sheet = tmp_path / "sheet.png"
    assert main(["faces", str(two_faces), "--sheet", str(sheet)]) == 0
    out = capsys.readouterr().out
    assert "2 faces" in out and "face 0:" in out and "face 1:" in out
    img = cv2.imread(str(sheet))
    assert img is not None and img.shape[1] == 2 * 128
    # asking for a face that is not there names how many there are
    code = main(["edit", str(two_faces), "--emotion", "happy", "--face-index", "2",
                 "-o", str(tmp_path / "x.mp4"), "-q"])
    err = capsys.readouterr().err
    assert code == 1 and "shows at most 2 faces" in err and "0 to 1" in err
    assert not (tmp_path / "x.mp4").exists()


def test_cli_checks_the_sheet_first(single_face_path, tmp_path, capsys):
    assert main(["faces", str(single_face_path), "--sheet", str(tmp_path / "s.jpg")]) == 1
    assert ".png" in capsys.readouterr().err
