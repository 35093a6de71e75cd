"""Circles and the keyring: storage, encryption at rest, sharing, the CLI.

Real age keys throughout. Passphrase (scrypt) operations cost about half a
second each, so only one test uses them, sparingly.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import hmac
import json
import os
import shutil
import subprocess

import pyrage
import pytest

from picveil.crypto import Circle, GroupKey, Identity, Keyring, default_home
from picveil.crypto.keyring import IDENTITY_FILE, KEYRING_FILE, LOCK_FILE
from picveil.errors import (
    CircleNameError,
    CircleNotFoundError,
    InputError,
    KeyringCorruptError,
    KeyringNotFoundError,
    NotRecipientError,
    RecipientError,
    UnsupportedVersionError,
)


@pytest.fixture()
def home(tmp_path, monkeypatch):
    h = tmp_path / "me"
    monkeypatch.setenv("PICVEIL_HOME", str(h))
    monkeypatch.delenv("PICVEIL_PASSPHRASE", raising=False)
    return h


@pytest.fixture()
def friend_home(tmp_path):
    return tmp_path / "friend"


def _hkdf_reference(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 with the standard library only: an outside check of the derivations."""
    prk = hmac.new(salt or bytes(32), ikm, "sha256").digest()
    okm, block, i = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([i]), "sha256").digest()
        okm += block
        i += 1
    return okm[:length]


def _plaintext(home) -> dict:
    ident = pyrage.x25519.Identity.from_str(
        next(l for l in (home / IDENTITY_FILE).read_text().splitlines() if l.startswith("AGE-SECRET-KEY-1"))
    )
    return json.loads(pyrage.decrypt((home / KEYRING_FILE).read_bytes(), [ident]))


def _same_key(a: Circle, b: Circle) -> bool:
    salt = b"\x01" * 16
    return a.group_key().region_key(salt).stream(b"x", 16) == b.group_key().region_key(salt).stream(b"x", 16)


# --- the Python API ------------------------------------------------------------------
def test_default_home(tmp_path, monkeypatch):
    monkeypatch.setenv("PICVEIL_HOME", str(tmp_path / "a"))
    assert default_home() == tmp_path / "a"
    monkeypatch.delenv("PICVEIL_HOME")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert default_home() == tmp_path / "xdg" / "picveil"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert default_home() == tmp_path / "h" / ".config" / "picveil"


def test_missing_keyring_needs_create(home):
    with pytest.raises(KeyringNotFoundError) as exc:
        Keyring.open()
    assert str(home) in exc.value.message and "picveil circle create NAME" in exc.value.hint
    assert not home.exists()


def test_create_list_get_remove(home):
    ring = Keyring.open(create=True)
    assert ring.path == home / KEYRING_FILE and ring.circles == []
    assert ring.recipient.startswith("age1") and ring.identity.recipient == ring.recipient
    fam = ring.create_circle("family")
    ring.create_circle("work.team_2-b")
    assert [c.name for c in ring.circles] == ["family", "work.team_2-b"]
    assert len(fam.circle_id) == 8 and fam.id_hex == fam.circle_id.hex() and len(fam.id_hex) == 16
    got = ring.get("family")
    assert got.circle_id == fam.circle_id and _same_key(got, fam)
    assert ring.find_by_id(fam.circle_id).name == "family"
    assert ring.find_by_id(b"\0" * 8) is None
    assert isinstance(fam.group_key(), GroupKey)
    ring.remove_circle("family")
    assert [c.name for c in ring.circles] == ["work.team_2-b"]
    with pytest.raises(CircleNotFoundError) as exc:
        ring.get("family")
    assert exc.value.name == "family" and isinstance(exc.value, NotRecipientError)
    with pytest.raises(CircleNotFoundError):
        ring.remove_circle("family")
    assert "secret" not in repr(fam) and fam.group_key()._key.hex() not in repr(fam)


def test_circle_id_and_key_check_follow_the_spec(home):
    ring = Keyring.open(create=True)
    c = ring.create_circle("family")
    key = bytes.fromhex(_plaintext(home)["circles"]["family"]["key"])
    assert c.circle_id == _hkdf_reference(key, b"", b"picveil circle id", 32)[:8]
    salt = bytes(range(16))
    check_key = _hkdf_reference(key, salt, b"picveil v1 key check", 32)
    expected = hmac.new(check_key, b"check", "sha256").digest()[:4]
    assert c.key_check(salt) == expected and c.matches(salt, expected)
    assert not c.matches(salt, bytes(4)) and c.key_check(bytes(16)) != expected
    # the circle key is the group key K: region keys follow SPEC §6.2
    region = _hkdf_reference(key, salt, b"picveil v1 region", 32)
    assert c.group_key().region_key(salt)._key == region
    other = ring.create_circle("work")
    assert [x.name for x in ring.find_by_key_check(salt, expected)] == ["family"]
    assert not other.matches(salt, expected)


def test_persistence_and_encryption_at_rest(home):
    ring = Keyring.open(create=True)
    fam = ring.create_circle("family")
    again = Keyring.open()
    assert [c.name for c in again.circles] == ["family"]
    assert again.recipient == ring.recipient and _same_key(again.get("family"), fam)
    blob = (home / KEYRING_FILE).read_bytes()
    key_hex = _plaintext(home)["circles"]["family"]["key"]
    assert blob.startswith(b"age-encryption.org/v1\n")
    for secret in (key_hex.encode(), key_hex.upper().encode(), bytes.fromhex(key_hex), b"family", fam.id_hex.encode()):
        assert secret not in blob
    assert oct((home / KEYRING_FILE).stat().st_mode & 0o777) == "0o600"
    assert oct((home / IDENTITY_FILE).stat().st_mode & 0o777) == "0o600"
    ident_text = (home / IDENTITY_FILE).read_text()
    assert f"# public key: {ring.recipient}" in ident_text  # age-keygen layout


def test_atomic_save_leaves_no_temp_files_and_keeps_unknown_keys(home):
    ring = Keyring.open(create=True)
    doc = _plaintext(home)
    doc["future"] = {"x": 1}
    doc["people"] = {"alice": {"embedding": [0.5]}}
    (home / KEYRING_FILE).write_bytes(
        pyrage.encrypt(json.dumps(doc).encode(), [pyrage.x25519.Recipient.from_str(ring.recipient)])
    )
    ring = Keyring.open()
    ring.create_circle("a")
    ring.create_circle("b")
    ring.remove_circle("a")
    ring.save()
    assert sorted(p.name for p in home.iterdir()) == sorted([IDENTITY_FILE, KEYRING_FILE, LOCK_FILE])
    doc = _plaintext(home)
    assert doc["version"] == 1 and doc["future"] == {"x": 1} and doc["people"] == {"alice": {"embedding": [0.5]}}
    assert list(doc["circles"]) == ["b"]


def test_names_are_checked_and_unique(home):
    ring = Keyring.open(create=True)
    ring.create_circle("family")
    with pytest.raises(CircleNameError) as exc:
        ring.create_circle("family")
    assert "already exists" in exc.value.message
    for bad in ("", "a" * 65, "has space", "naïve", "a/b", "a\n"):
        with pytest.raises(CircleNameError):
            ring.create_circle(bad)
    ring.create_circle("a" * 64)
    assert len(Keyring.open().circles) == 2


def test_two_keyring_objects_do_not_lose_changes(home):
    a = Keyring.open(create=True)
    b = Keyring.open()
    a.create_circle("one")
    b.create_circle("two")  # b reads a's change before writing
    with pytest.raises(CircleNameError):
        b.create_circle("one")
    a.remove_circle("two")
    assert [c.name for c in Keyring.open().circles] == ["one"]


def _create_many(home: str, prefix: str, n: int) -> None:
    ring = Keyring.open(home)
    for i in range(n):
        ring.create_circle(f"{prefix}{i}")


def test_concurrent_processes_do_not_corrupt_the_keyring(home):
    Keyring.open(create=True)
    with concurrent.futures.ProcessPoolExecutor(4) as pool:
        list(pool.map(_create_many, [str(home)] * 4, "abcd", [5] * 4))
    names = {c.name for c in Keyring.open().circles}
    assert names == {f"{p}{i}" for p in "abcd" for i in range(5)}


def test_wrong_identity_and_corruption(home, tmp_path):
    ring = Keyring.open(create=True)
    ring.create_circle("family")
    good = (home / KEYRING_FILE).read_bytes()
    # a wrong identity
    saved = (home / IDENTITY_FILE).read_text()
    (home / IDENTITY_FILE).write_text(Identity.generate().to_file_text())
    with pytest.raises(NotRecipientError) as exc:
        Keyring.open()
    assert exc.value.message == f"Cannot open the keyring at {home / KEYRING_FILE}: wrong passphrase or identity."
    (home / IDENTITY_FILE).write_text(saved)
    # damage: not an age file, a flipped payload byte, truncation, bad JSON inside
    flipped = bytearray(good)
    flipped[-5] ^= 1
    for damaged in (b"garbage", bytes(flipped), good[: len(good) - 20]):
        (home / KEYRING_FILE).write_bytes(damaged)
        with pytest.raises(KeyringCorruptError) as exc:
            Keyring.open()
        assert "damaged" in exc.value.message or "not an age file" in exc.value.message
    recipient = [pyrage.x25519.Recipient.from_str(ring.recipient)]
    for doc in (b"[1]", b"{\"version\": 1, \"circles\": {\"x\": {\"key\": \"00\"}}}", b"not json"):
        (home / KEYRING_FILE).write_bytes(pyrage.encrypt(doc, recipient))
        with pytest.raises(KeyringCorruptError):
            Keyring.open()
    (home / KEYRING_FILE).write_bytes(pyrage.encrypt(b'{"version": 2}', recipient))
    with pytest.raises(UnsupportedVersionError):
        Keyring.open()


def test_passphrase_keyring(home):
    # scrypt operations: create (1) + circle (1) + reopen (1) + wrong (1) + no passphrase (0)
    ring = Keyring.open(passphrase="correct horse", create=True)
    assert ring.passphrase_protected and ring.identity is None and ring.recipient is None
    assert not (home / IDENTITY_FILE).exists()
    fam = ring.create_circle("family")
    blob = (home / KEYRING_FILE).read_bytes()
    assert b"-> scrypt " in blob and b"family" not in blob
    again = Keyring.open(passphrase="correct horse")
    assert _same_key(again.get("family"), fam)
    with pytest.raises(NotRecipientError, match="wrong passphrase or identity"):
        Keyring.open(passphrase="wrong")
    with pytest.raises(NotRecipientError, match="protected by a passphrase"):
        Keyring.open()


def test_share_and_import_on_a_friends_keyring(home, friend_home):
    mine = Keyring.open(create=True)
    fam = mine.create_circle("family")
    friend = Keyring.open(friend_home, create=True)
    blob = mine.share_circle("family", [friend.recipient])
    assert blob.startswith(b"age-encryption.org/v1\n")
    assert mine.get("family").shared_with == (friend.recipient,)
    assert Keyring.open().get("family").shared_with == (friend.recipient,)
    # a plain age file: the friend's identity opens it with pyrage (and age, where installed)
    inner = pyrage.decrypt(blob, [pyrage.x25519.Identity.from_str(
        next(l for l in (friend_home / IDENTITY_FILE).read_text().splitlines() if l.startswith("AGE-SECRET-KEY-1")))])
    payload = json.loads(inner)
    assert payload["picveil_circle"] == 1 and payload["name"] == "family"
    assert set(payload) == {"picveil_circle", "name", "key", "created"}
    if shutil.which("age"):
        res = subprocess.run(["age", "-d", "-i", str(friend_home / IDENTITY_FILE)], input=blob, capture_output=True)
        assert json.loads(res.stdout) == payload
    got = friend.import_circle(blob)
    assert got.name == "family" and got.circle_id == fam.circle_id and _same_key(got, fam)
    assert got.created == fam.created and got.shared_with == ()
    salt = os.urandom(16)
    assert got.key_check(salt) == fam.key_check(salt)
    # importing again is a no-op, whatever the name asked for
    assert friend.import_circle(blob, rename="other").name == "family"
    assert [c.name for c in Keyring.open(friend_home).circles] == ["family"]
    # sharing again records new recipients once
    third = Identity.generate()
    mine.share_circle("family", [third.recipient, friend.recipient])
    assert mine.get("family").shared_with == (friend.recipient, third.recipient)


def test_import_wrong_identity_and_bad_files(home, friend_home, tmp_path):
    mine = Keyring.open(create=True)
    mine.create_circle("family")
    friend = Keyring.open(friend_home, create=True)
    stranger = Identity.generate()
    blob = mine.share_circle("family", [stranger.recipient])
    with pytest.raises(NotRecipientError) as exc:
        friend.import_circle(blob)
    assert "not shared with your identity" in exc.value.message and "whoami" in exc.value.hint
    # the right identity, given explicitly (object or file)
    key = tmp_path / "stranger.key"
    key.write_text(stranger.to_file_text())
    assert friend.import_circle(blob, identities=[key]).name == "family"
    with pytest.raises(InputError):
        friend.import_circle(b"this is not an age file")
    junk = pyrage.encrypt(b'{"hello": 1}', [pyrage.x25519.Recipient.from_str(friend.recipient)])
    with pytest.raises(InputError, match="not a picveil circle"):
        friend.import_circle(junk)
    with pytest.raises(RecipientError):
        mine.share_circle("family", [])
    with pytest.raises(RecipientError):
        mine.share_circle("family", ["age1notarecipient"])
    with pytest.raises(CircleNotFoundError):
        mine.share_circle("nope", [stranger.recipient])


def test_import_name_clash_needs_rename(home, friend_home):
    mine = Keyring.open(create=True)
    mine.create_circle("family")
    friend = Keyring.open(friend_home, create=True)
    theirs = friend.create_circle("family")  # same name, another key
    blob = mine.share_circle("family", [friend.recipient])
    with pytest.raises(CircleNameError) as exc:
        friend.import_circle(blob)
    assert "--as" in exc.value.hint
    with pytest.raises(CircleNameError):
        friend.import_circle(blob, rename="bad name")
    got = friend.import_circle(blob, rename="alices-family")
    assert got.circle_id == mine.get("family").circle_id != theirs.circle_id
    assert [c.name for c in Keyring.open(friend_home).circles] == ["alices-family", "family"]


# --- the CLI ------------------------------------------------------------------------
def _cli(capsys, *argv):
    """Run `picveil circle ARGV…`: through the main app once it is wired, else the sub-app."""
    from picveil.cli import main as cli_main

    args = [str(a) for a in argv]
    if any(g.name == "circle" for g in cli_main.app.registered_groups):
        code = cli_main.main(["circle", *args])
    else:
        from picveil.cli.circle_cmd import circle_app

        try:
            circle_app(args=args, prog_name="picveil circle", standalone_mode=True)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_cli_round_trip(home, friend_home, tmp_path, capsys):
    code, out, err = _cli(capsys, "list")
    assert code == 4 and "picveil: error:" in err and "hint: `picveil circle create NAME`" in err
    code, friend_rcpt, err = _cli(capsys, "whoami", "--keyring", friend_home)
    friend_rcpt = friend_rcpt.strip()
    assert code == 0 and friend_rcpt.startswith("age1") and friend_rcpt == Keyring.open(friend_home).recipient
    code, out, err = _cli(capsys, "create", "family")
    assert code == 0, err
    circle_id = out.strip()
    assert len(circle_id) == 16 and "Created a keyring" in err
    code, out, err = _cli(capsys, "create", "family")
    assert code == 3 and "already exists" in err
    code, out, err = _cli(capsys, "create", "bad name")
    assert code == 3 and "Invalid circle name" in err

    shared = tmp_path / "family.circle"
    code, out, err = _cli(capsys, "share", "family", "--to", friend_rcpt, "-o", shared)
    assert code == 0, err
    assert out.strip() == str(shared) and shared.read_bytes().startswith(b"age-encryption.org/v1\n")
    code, out, err = _cli(capsys, "share", "family", "--to", friend_rcpt, "-o", shared)
    assert code == 7 and "will not overwrite" in err
    code, out, err = _cli(capsys, "share", "family", "--to", "age1bogus", "-o", tmp_path / "x.circle")
    assert code == 4 and "Not an age recipient" in err and not (tmp_path / "x.circle").exists()

    code, out, err = _cli(capsys, "import", shared, "--keyring", friend_home)
    assert code == 0, err
    assert out.strip() == "family" and "Imported circle family" in err
    code, out, err = _cli(capsys, "import", shared, "--keyring", friend_home, "--as", "other")
    assert code == 0 and "already have this circle" in err
    code, out, err = _cli(capsys, "import", shared)  # not shared with me
    assert code == 4 and "not shared with your identity" in err
    code, out, err = _cli(capsys, "import", tmp_path / "missing.circle")
    assert code == 3
    code, out, err = _cli(capsys, "import", shared, "--keyring", tmp_path / "nobody")  # no keyring: nothing created
    assert code == 3 and "no keyring yet" in err and "whoami" in err and not (tmp_path / "nobody").exists()

    code, out, err = _cli(capsys, "list", "--keyring", friend_home)
    assert code == 0 and "family" in out and circle_id in out
    code, out, err = _cli(capsys, "list")
    assert code == 0 and "family" in out and circle_id in out
    assert Keyring.open().get("family").shared_with == (friend_rcpt,)

    code, out, err = _cli(capsys, "remove", "family")  # stdin is not a terminal under pytest
    assert code == 3 and "--yes" in err
    code, out, err = _cli(capsys, "remove", "nope", "--yes")
    assert code == 4 and "no circle named 'nope'" in err
    code, out, err = _cli(capsys, "remove", "family", "--yes")
    assert code == 0 and Keyring.open().circles == []
    code, out, err = _cli(capsys, "list")
    assert code == 0 and "No circles" in err


def test_cli_passphrase_keyring_needs_passphrase(home, monkeypatch, capsys):
    monkeypatch.setenv("PICVEIL_PASSPHRASE", "s3cret")
    code, out, err = _cli(capsys, "create", "family", "--passphrase")
    assert code == 0, err
    monkeypatch.delenv("PICVEIL_PASSPHRASE")
    code, out, err = _cli(capsys, "list")
    assert code == 4 and "protected by a passphrase" in err and "PICVEIL_KEYRING_PASSPHRASE" in err  # read as protect and reveal read it


def test_cli_photo_passphrase_must_not_open_the_keyring(home, monkeypatch, capsys, tmp_path):
    """$PICVEIL_PASSPHRASE stands in for the keyring's passphrase: protecting a photo
    with it as well would hand the keyring to everyone told the photo's passphrase."""
    import numpy as np

    from picveil.cli import main as cli_main

    from .conftest import encode_jpeg

    monkeypatch.setenv("PICVEIL_PASSPHRASE", "s3cret")
    code, out, err = _cli(capsys, "create", "family", "--passphrase")
    assert code == 0, err
    src = tmp_path / "p.jpg"
    src.write_bytes(encode_jpeg(np.full((64, 64, 3), 100, np.uint8)))
    argv = ["protect", str(src), "--box", "0,0,16,16", "--passphrase", "-o", str(tmp_path / "o.jpg")]
    code = cli_main.main(argv)
    err = capsys.readouterr().err
    assert code == 4 and "keyring's passphrase" in err and "PICVEIL_KEYRING_PASSPHRASE" in err
    assert not (tmp_path / "o.jpg").exists()
    monkeypatch.setenv("PICVEIL_KEYRING_PASSPHRASE", "s3cret")
    monkeypatch.setenv("PICVEIL_PASSPHRASE", "another one")
    assert cli_main.main(argv) == 0
