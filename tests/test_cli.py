"""The `picveil` command: happy paths and every documented error path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from picveil.cli.main import main

from .conftest import decode, encode_jpeg


def run(capsys, *argv):
    code = main(list(map(str, argv)))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.fixture()
def photo_file(tmp_path, photo):
    p = tmp_path / "photo.jpg"
    p.write_bytes(encode_jpeg(photo))
    return p


@pytest.fixture()
def me(tmp_path, capsys):
    key = tmp_path / "me.key"
    code, out, _ = run(capsys, "keygen", "-o", key)
    assert code == 0 and out.strip().startswith("age1")
    return key, out.strip()


def test_keygen_file_is_age_compatible(tmp_path, capsys, me):
    key, recipient = me
    text = key.read_text()
    assert "# public key: " + recipient in text
    assert any(line.startswith("AGE-SECRET-KEY-1") for line in text.splitlines())
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    code, out, _ = run(capsys, "keygen", "-y", key)
    assert code == 0 and out.strip() == recipient
    code, _, err = run(capsys, "keygen", "-o", key)
    assert code == 7 and "picveil: error:" in err
    if shutil.which("age"):  # interoperability with the reference tool, where installed
        enc = subprocess.run(["age", "-r", recipient], input=b"hi", capture_output=True).stdout
        assert subprocess.run(["age", "-d", "-i", str(key)], input=enc, capture_output=True).stdout == b"hi"


def test_a_secret_key_given_as_recipient_is_never_echoed(tmp_path, capsys, photo_file, me):
    """`-R me.key` (the identity file where a recipients file belongs), or the
    secret pasted into --to: refused without printing the secret."""
    key, _ = me
    secret = next(line for line in key.read_text().splitlines() if line.startswith("AGE-SECRET-KEY-1"))
    for args in (["-R", key], ["--to", secret]):
        code, out, err = run(capsys, "protect", photo_file, "-o", tmp_path / "x.jpg", "--box", "150,10,155,175", *args)
        assert code == 4 and "secret key" in err and "keygen -y" in err, err
        assert secret not in err and secret[15:40] not in err and secret not in out
    assert not (tmp_path / "x.jpg").exists()


def test_protect_inspect_reveal(tmp_path, capsys, photo_file, me):
    key, recipient = me
    shared = tmp_path / "shared.jpg"
    code, out, err = run(capsys, "protect", photo_file, "-o", shared, "--box", "150,10,155,175", "--to", recipient)
    assert code == 0, err
    assert out.strip() == str(shared)
    code, out, _ = run(capsys, "inspect", shared)
    # a --to protect paints (fill): inspect says so rather than naming the header's scheme
    assert code == 0 and "regions painted (fill)" in out and "scramble-v8" not in out and "144,0,176,192" in out
    code, out, _ = run(capsys, "inspect", shared, "--json")
    assert code == 0 and '"format_version": 1' in out
    code, out, err = run(capsys, "inspect", photo_file, "--json")  # a plain photo: JSON on stdout too
    assert code == 6 and json.loads(out)["error"]["type"] == "NoPicveilDataError" and "no picveil data" in err
    restored = tmp_path / "restored.jpg"
    code, out, err = run(capsys, "reveal", shared, "-i", key, "-o", restored)
    assert code == 0, err
    assert "Revealed 1 of 1" in err
    assert np.array_equal(decode(restored.read_bytes()), decode(photo_file.read_bytes()))


def test_per_region_groups(tmp_path, capsys, photo_file, me):
    key, recipient = me
    other = tmp_path / "other.key"
    code, other_rcpt, _ = run(capsys, "keygen", "-o", other)
    shared = tmp_path / "s.jpg"
    code, _, err = run(
        capsys, "protect", photo_file, "-o", shared, "--group", f"family={other_rcpt.strip()},{recipient}",
        "--box", "150,10,155,175@family", "--box", "276,336,58,36", "--to", recipient,
    )
    assert code == 0, err
    code, _, err = run(capsys, "reveal", shared, "-i", other, "-o", tmp_path / "r.jpg")
    assert code == 0 and "Revealed 1 of 2" in err and "Still protected" in err
    code, _, err = run(capsys, "reveal", shared, "-i", other, "-o", tmp_path / "r2.jpg", "--require-all")
    assert code == 4
    code, _, err = run(capsys, "protect", photo_file, "-o", tmp_path / "x.jpg", "--box", "1,1,5,5@nobody", "--to", recipient)
    assert code == 3 and "nobody" in err


def test_passphrase_via_environment(tmp_path, capsys, photo_file, monkeypatch):
    monkeypatch.setenv("PICVEIL_PASSPHRASE", "open sesame")
    shared = tmp_path / "s.jpg"
    assert run(capsys, "protect", photo_file, "-o", shared, "--box", "0,0,64,64", "--passphrase")[0] == 0
    assert run(capsys, "reveal", shared, "-o", tmp_path / "r.jpg", "--passphrase")[0] == 0
    monkeypatch.setenv("PICVEIL_PASSPHRASE", "wrong")
    code, _, err = run(capsys, "reveal", shared, "-o", tmp_path / "r2.jpg", "--passphrase")
    assert code == 4 and "picveil: error:" in err and "hint:" in err


def _err(capsys, code_expected, *argv):
    code, _, err = run(capsys, *argv)
    assert code == code_expected, err
    lines = err.strip().splitlines()
    assert lines[0].startswith("picveil: error: ")
    assert any(line.startswith("hint: ") for line in lines)
    return err


def test_error_paths(tmp_path, capsys, photo, photo_file, me):
    key, recipient = me
    r = ["--to", recipient]
    text = tmp_path / "notes.jpg"
    text.write_text("not an image at all")
    _err(capsys, 3, "protect", text, "-o", tmp_path / "o1.jpg", "--box", "0,0,8,8", *r)
    trunc = tmp_path / "trunc.jpg"
    trunc.write_bytes(photo_file.read_bytes()[:5000])
    _err(capsys, 3, "protect", trunc, "-o", tmp_path / "o2.jpg", "--box", "0,0,8,8", *r)
    _err(capsys, 3, "protect", photo_file, "-o", tmp_path / "o3.jpg", "--box", "500,500,40,40", *r)
    _err(capsys, 3, "protect", photo_file, "-o", tmp_path / "o4.jpg", "--box", "10,10,0,5", *r)
    _err(capsys, 7, "protect", photo_file, "-o", photo_file, "--box", "0,0,8,8", *r)
    _err(capsys, 3, "protect", photo_file, "-o", tmp_path / "o5.jpg", "--box", "0,0,8,8", "--max-pixels", "1000", *r)
    cmyk = tmp_path / "cmyk.jpg"  # converted, with a warning (not an error)
    Image.fromarray(photo).convert("CMYK").save(cmyk)
    code, out, err = run(capsys, "protect", cmyk, "-o", tmp_path / "o6.jpg", "--box", "0,0,8,8", *r)
    assert code == 0 and "CMYK" in out + err and (tmp_path / "o6.jpg").exists()
    _err(capsys, 4, "protect", photo_file, "-o", tmp_path / "o7.jpg", "--box", "0,0,8,8", "--to", "age1bogus")
    _err(capsys, 4, "protect", photo_file, "-o", tmp_path / "o8.jpg", "--box", "0,0,8,8")
    # reveal side
    _err(capsys, 6, "reveal", photo_file, "-i", key, "-o", tmp_path / "r0.jpg")
    _err(capsys, 6, "inspect", photo_file)
    shared = tmp_path / "shared.jpg"
    assert run(capsys, "protect", photo_file, "-o", shared, "--box", "0,0,64,64", *r)[0] == 0
    stranger = tmp_path / "stranger.key"
    run(capsys, "keygen", "-o", stranger)
    _err(capsys, 4, "reveal", shared, "-i", stranger, "-o", tmp_path / "r1.jpg")
    bad_key = tmp_path / "bad.key"
    bad_key.write_text("AGE-SECRET-KEY-1NOTVALID\n")
    _err(capsys, 4, "reveal", shared, "-i", bad_key, "-o", tmp_path / "r2.jpg")
    # tamper with the header inside the container
    from picveil.container import decode_container
    from picveil.jpeg.markers import app11_payloads

    data = shared.read_bytes()
    raw = decode_container(app11_payloads(data)).header.to_bytes()
    pos = data.index(raw) + len(raw) - 1  # last byte of the last region's salt
    tampered = tmp_path / "tampered.jpg"
    tampered.write_bytes(data[:pos] + bytes([data[pos] ^ 0x80]) + data[pos + 1 :])
    _err(capsys, 5, "reveal", tampered, "-i", key, "-o", tmp_path / "r3.jpg")
    assert not (tmp_path / "r3.jpg").exists()
    _err(capsys, 7, "reveal", shared, "-i", key, "-o", shared)


def test_output_names_say_what_is_written(tmp_path, capsys, photo_file, me):
    """An output name whose extension names another image format than the
    command writes is refused before any work (it once got JPEG bytes under a
    .png or .webp name); reveal writes a real PNG for .png; a name without an
    image extension gets the command's format. A folder is called a folder."""
    key, recipient = me
    r = ["--to", recipient]
    for name in ("p.png", "p.webp", "p.TIF"):
        err = _err(capsys, 7, "protect", photo_file, "-o", tmp_path / name, "--box", "0,0,64,64", *r)
        assert "writes JPEG" in err and ".jpg" in err and not (tmp_path / name).exists()
    shared = tmp_path / "shared.out"
    assert run(capsys, "protect", photo_file, "-o", shared, "--box", "0,0,64,64", *r)[0] == 0
    assert shared.read_bytes()[:2] == b"\xff\xd8"
    err = _err(capsys, 7, "reveal", shared, "-i", key, "-o", tmp_path / "r.webp")
    assert "JPEG or PNG" in err and not (tmp_path / "r.webp").exists()
    assert run(capsys, "reveal", shared, "-i", key, "-o", tmp_path / "r.PNG")[0] == 0
    with Image.open(tmp_path / "r.PNG") as im:
        assert im.format == "PNG"
        assert np.array_equal(np.asarray(im.convert("RGB")), decode(photo_file.read_bytes()))
    _err(capsys, 7, "fit", photo_file, "--platform", "x", "-o", tmp_path / "f.png")
    _err(capsys, 7, "simulate", photo_file, "--chain", "webp75", "-o", tmp_path / "s.jpg")
    assert run(capsys, "simulate", photo_file, "--chain", "webp75", "-o", tmp_path / "s.webp")[0] == 0
    _err(capsys, 7, "detect", photo_file, "--preview", tmp_path / "d.jpg")
    (tmp_path / "folder").mkdir()
    err = _err(capsys, 7, "protect", photo_file, "-o", tmp_path / "folder", "--box", "0,0,64,64", *r)
    assert "is a folder" in err and "--force" not in err


def test_error_messages_say_what_to_do(tmp_path, capsys, photo_file, me, monkeypatch):
    """A box clipped to nothing is called outside the image (it was called
    empty, with negative sizes); a passphrase-protected photo revealed with no
    key is told to give --passphrase; protecting for a circle the keyring lacks
    says how to create it (it said to ask whoever shared the photo)."""
    monkeypatch.setenv("PICVEIL_HOME", str(tmp_path / "home"))
    err = _err(capsys, 3, "protect", photo_file, "-o", tmp_path / "o.jpg", "--box", "2000,2000,20,20", "--clip", "--to", me[1])
    assert "wholly outside" in err
    monkeypatch.setenv("PICVEIL_PASSPHRASE", "open sesame")
    shared = tmp_path / "s.jpg"
    assert run(capsys, "protect", photo_file, "-o", shared, "--box", "0,0,64,64", "--passphrase")[0] == 0
    err = _err(capsys, 4, "reveal", shared, "-o", tmp_path / "r.jpg")
    assert "No key was given" in err and "--passphrase" in err
    assert run(capsys, "circle", "create", "family")[0] == 0
    err = _err(capsys, 4, "protect", photo_file, "-o", tmp_path / "c.jpg", "--box", "0,0,64,64", "--circle", "friends")
    assert "circle create friends" in err
    # a group defined twice (the last definition won: the first one's people could reveal nothing)
    err = _err(capsys, 4, "protect", photo_file, "-o", tmp_path / "g.jpg", "--box", "0,0,64,64@fam",
               "--group", f"fam={me[1]}", "--group", f"fam={me[1]}")
    assert "defined twice" in err
    # a look on a whole-image protection (a frost-painted file was labelled searchable-v2)
    err = _err(capsys, 3, "protect", photo_file, "-o", tmp_path / "w.jpg", "--whole", "--look", "frost", "--to", me[1])
    assert "does not apply" in err


def test_usage_error_exit_code(capsys):
    assert run(capsys, "protect")[0] == 2


def test_demo_console_script(tmp_path):
    """The README's first command: `picveil demo` as a real process."""
    exe = shutil.which("picveil") or None
    cmd = [exe, "demo", "-o", str(tmp_path / "demo")] if exe else [sys.executable, "-m", "picveil", "demo", "-o", str(tmp_path / "demo")]
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    assert res.returncode == 0, res.stderr
    assert "exact: yes" in res.stdout
    for name in ("sample.jpg", "protected.jpg", "revealed.jpg", "revealed-by-family.jpg"):
        assert (tmp_path / "demo" / name).exists()
    a = decode((tmp_path / "demo" / "sample.jpg").read_bytes())
    assert np.array_equal(a, decode((tmp_path / "demo" / "revealed.jpg").read_bytes()))
    assert not np.array_equal(a, decode((tmp_path / "demo" / "protected.jpg").read_bytes()))


def test_demo_never_writes_over_files(tmp_path, capsys, monkeypatch):
    """`picveil demo` twice in the same folder writes the second into
    picveil-demo-2 (it replaced the first one's files, keys among them), and
    an --out folder that holds a key file of that name is refused without
    --force."""
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "demo")[0] == 0 and run(capsys, "demo")[0] == 0
    first = (tmp_path / "picveil-demo" / "owner.key").read_bytes()
    assert (tmp_path / "picveil-demo-2" / "owner.key").read_bytes() != first
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "owner.key").write_text("MY KEY")
    err = _err(capsys, 7, "demo", "-o", mine)
    assert "owner.key" in err and "--force" in err and (mine / "owner.key").read_text() == "MY KEY"
    assert run(capsys, "demo", "-o", mine, "--force")[0] == 0


def test_age_keygen_identity_works(tmp_path, capsys, photo_file):
    if shutil.which("age-keygen") is None:
        pytest.skip("age-keygen not installed")
    key = tmp_path / "age.key"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    recipient = subprocess.run(["age-keygen", "-y", str(key)], check=True, capture_output=True, text=True).stdout.strip()
    shared = tmp_path / "s.jpg"
    assert run(capsys, "protect", photo_file, "-o", shared, "--box", "0,0,64,64", "--to", recipient)[0] == 0
    assert run(capsys, "reveal", shared, "-i", key, "-o", tmp_path / "r.jpg")[0] == 0
    assert np.array_equal(decode((tmp_path / "r.jpg").read_bytes()), decode(photo_file.read_bytes()))
