"""Paths from users: one rule (inside the upload's folder, or refused with one message) everywhere."""

from __future__ import annotations

import io
import os
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from clipdemo.errors import InputError
from clipdemo.probes.custom import load_probe_set
from clipdemo.search.evaluate import encode_pairs, load_pairs, pairs_from_upload
from clipdemo.search.reader import list_images
from clipdemo.safe_paths import extract_zip, resolve_inside
from clipdemo.ui import examples


@pytest.fixture
def secret(tmp_path):
    """A file outside the upload folder that a hostile CSV would like to reach."""
    p = tmp_path / "secret.png"
    shutil.copy(examples.scene_files()[0], p)
    return p


def _refusal(root, name) -> str:
    with pytest.raises(InputError) as info:
        resolve_inside(root, name)
    return str(info.value).replace(repr(name[:200]), "NAME")


@pytest.mark.parametrize("name", ["/etc/hostname", "/no/such/file", "../secret.png", "../missing.png",
                                  "a/../../secret.png", "..\\secret.png", "C:\\Windows\\win.ini", "\\\\server\\x",
                                  "", "a\x00b"])
def test_escaping_names_are_refused(tmp_path, secret, name):
    upload = tmp_path / "upload"
    upload.mkdir()
    with pytest.raises(InputError, match="not a file inside the upload"):
        resolve_inside(upload, name)


def test_one_message_whether_or_not_the_target_exists(tmp_path, secret):
    upload = tmp_path / "upload"
    upload.mkdir()
    assert _refusal(upload, "../secret.png") == _refusal(upload, "../missing.png")
    assert _refusal(upload, "/etc/hostname") == _refusal(upload, "/no/such/file")
    (upload / "link.png").symlink_to(secret)
    (upload / "dangling.png").symlink_to(tmp_path / "missing.png")
    assert _refusal(upload, "link.png") == _refusal(upload, "dangling.png").replace("dangling", "link")


def test_names_inside_resolve_and_links_inside_are_followed(tmp_path):
    upload = tmp_path / "upload"
    (upload / "sub").mkdir(parents=True)
    (upload / "sub" / "a.png").write_bytes(b"x")
    (upload / "alias.png").symlink_to(upload / "sub" / "a.png")
    assert resolve_inside(upload, "sub/a.png") == (upload / "sub" / "a.png").resolve()
    assert resolve_inside(upload, "sub\\a.png") == (upload / "sub" / "a.png").resolve()
    assert resolve_inside(upload, "./sub/./a.png") == (upload / "sub" / "a.png").resolve()
    assert resolve_inside(upload, "alias.png") == (upload / "sub" / "a.png").resolve()


def _pairs_csv(folder: Path, rows: list[tuple[str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pairs.csv").write_text("image,caption\n" + "".join(f"{i},{c}\n" for i, c in rows))
    return folder / "pairs.csv"


def test_pairs_csv_cannot_probe_the_server(tmp_path, secret, random_engine):
    """Before: /etc/hostname answered 'not an image' and a missing path 'file not found' (an oracle)."""
    scene = examples.scene_files()[0]
    folder = tmp_path / "upload"
    folder.mkdir()
    shutil.copy(scene, folder / "ok.png")
    csv = _pairs_csv(folder, [("ok.png", "a caption"), ("/etc/hostname", "x"), ("/no/such/file", "x"),
                              (f"../{secret.name}", "x"), ("../missing.png", "x")])
    pairs = load_pairs(str(csv))
    assert [Path(p).name for p in pairs.images] == ["ok.png"]
    assert len(pairs.skipped) == 4
    # the same words for a file that exists (/etc/hostname, the secret) and one that does not
    assert len({re.sub(r"^line \d+: the image '[^']*' ", "", r) for r in pairs.skipped}) == 1
    sim, kept = encode_pairs(random_engine, pairs)
    assert sim.shape == (1, 1) and kept.captions == ["a caption"]


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_a_bad_row_is_reported_by_name_and_the_rest_evaluated(tmp_path, bundled_engine):
    scenes = examples.scene_files()
    captions = examples.scene_captions()
    members = {f"imgs/{Path(s).name}": Path(s).read_bytes() for s in scenes[:4]}
    members["imgs/broken.png"] = b"\x89PNG\r\n\x1a\n not really"
    rows = "".join(f"imgs/{Path(s).name},{c}\n" for s, c in zip(scenes[:4], captions[:4]))
    members["pairs.csv"] = ("image,caption\n" + rows + "imgs/broken.png,a broken file\n"
                            "imgs/absent.png,not in the zip\n").encode()
    with pairs_from_upload(str(_zip(tmp_path / "set.zip", members))) as pairs:
        folder = Path(pairs.images[0]).parent.parent
        sim, pairs = encode_pairs(bundled_engine, pairs, batch_size=2)
    assert not folder.exists()  # the extracted upload is removed afterwards
    assert pairs.captions == captions[:4] and sim.shape == (4, 4)
    assert any("broken.png" in r for r in pairs.skipped) and any("absent.png" in r for r in pairs.skipped)
    assert (sim.argmax(0) == range(4)).all()  # the right scene wins for each caption on the bundled model


def test_zip_bomb_stops_at_the_byte_cap(tmp_path):
    bomb = _zip(tmp_path / "bomb.zip", {"pairs.csv": b"image,caption\n", "big.png": b"\0" * (8 << 20)})
    assert bomb.stat().st_size < 100_000  # 8 MB of zeros compress to a few KB
    before = set(Path(os.environ.get("TMPDIR", "/tmp")).glob("clipdemo-zip-*"))
    with pytest.raises(InputError, match="uncompressed"):
        extract_zip(bomb, max_bytes=1 << 20)
    assert set(Path(os.environ.get("TMPDIR", "/tmp")).glob("clipdemo-zip-*")) == before  # nothing left behind


def test_zip_member_count_is_capped(tmp_path):
    many = _zip(tmp_path / "many.zip", {f"{i}.png": b"x" for i in range(30)})
    with pytest.raises(InputError, match="30 files; the limit is 20"):
        extract_zip(many, max_members=20)


@pytest.mark.parametrize("member", ["../evil.png", "/tmp/evil.png", "a/../../evil.png", "..\\evil.png"])
def test_zip_slip_is_refused(tmp_path, member):
    evil = _zip(tmp_path / "evil.zip", {member: b"x", "pairs.csv": b"image,caption\n"})
    with pytest.raises(InputError, match="not a file inside the upload"):
        extract_zip(evil, dest=tmp_path)
    assert not (tmp_path / "evil.png").exists() and not Path("/tmp/evil.png").exists()


def test_zip_symlink_member_is_refused(tmp_path):
    info = zipfile.ZipInfo("link.png")
    info.external_attr = (0o120777 << 16)  # a symbolic link, as `zip --symlinks` stores it
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(info, "/etc/hostname")
    (tmp_path / "links.zip").write_bytes(buf.getvalue())
    with pytest.raises(InputError, match="not a file inside the upload"):
        extract_zip(tmp_path / "links.zip")


def test_probe_set_zip_uses_the_same_rule(tmp_path, secret):
    scene = examples.scene_files()[0]
    ok = _zip(tmp_path / "ok.zip", {"set/probe.csv": b"image,captions,answer\nimgs/a.png,red|blue,0\n",
                                    "set/imgs/a.png": Path(scene).read_bytes()})
    (item,) = load_probe_set(str(ok))
    assert item.candidates == ["red", "blue"]
    for name in (f"../{secret.name}", str(secret)):
        bad = _zip(tmp_path / "bad.zip", {"probe.csv": f"image,captions,answer\n{name},red|blue,0\n".encode()})
        with pytest.raises(InputError, match="not a file inside the upload"):
            load_probe_set(str(bad))


def test_gallery_folder_leaves_out_links_that_leave_it(tmp_path, secret):
    gallery = tmp_path / "gallery"
    gallery.mkdir()
    shutil.copy(examples.scene_files()[1], gallery / "own.png")
    (gallery / "escape.png").symlink_to(secret)
    assert [Path(p).name for p in list_images(gallery)] == ["own.png"]
