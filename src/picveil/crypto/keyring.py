"""Circles: named group keys kept in a local keyring, encrypted at rest with age.

A *circle* is a random 32-byte key with a name ("family"). Photos protected
for a circle derive their region keys from it (``container/SPEC.md`` §6.2, the
circle key playing the part of the group key ``K``), so anyone holding the
circle can reveal them without a per-photo container.

The keyring lives in one folder (:func:`default_home`):

``identity.key``
    the user's own age X25519 identity, in ``age-keygen`` layout, mode 600;
    created by ``Keyring.open(create=True)`` unless the keyring is protected
    by a passphrase.
``keyring.age``
    an age file holding the JSON document below, encrypted either to the
    identity's recipient or with a passphrase (scrypt), chosen at creation.
``keyring.lock``
    an empty file that writers lock, so two processes never lose each
    other's changes.

The JSON document (version 1)::

    {"version": 1,
     "circles": {NAME: {"key": HEX64, "id": HEX16, "created": ISO8601,
                        "shared_with": [age1…, …]}},
     "people": {NAME: {"embeddings": [[FLOAT, …], …], "added": ISO8601}}}

``people`` is the face gallery of ``picveil people`` (the ``[identify]``
extra): per person, one or more face embeddings (lists of floats, all of one
length), kept here so that they are encrypted at rest like the circle keys and
never written in plaintext. Unknown keys, at the top level and in circle and
people entries, are kept when the keyring is rewritten.

Derivations (``circle_key`` is the 32-byte circle key):

* circle id, public, 8 bytes:
  ``HKDF-SHA256(circle_key, salt="", info="picveil circle id", L=32)[:8]``;
* key check for an in-image header salt, 4 bytes:
  ``HMAC-SHA256(HKDF-SHA256(circle_key, salt, "picveil v1 key check"), "check")[:4]``.

A shared circle is a plain age file (``age -d -i KEY`` opens it) to chosen
recipients, holding ``{"picveil_circle": 1, "name", "key", "created"}``.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as _dt
import hashlib
import hmac as _hmac
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import pyrage

from ..errors import (
    CircleNameError,
    CircleNotFoundError,
    InputError,
    KeyFileError,
    KeyringCorruptError,
    KeyringNotFoundError,
    NotRecipientError,
    PersonNameError,
    PersonNotFoundError,
    RecipientError,
    UnsupportedVersionError,
)
from .keys import KEY_BYTES, GroupKey, Identity, _hkdf, load_identities, parse_recipient

try:  # POSIX
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - Windows
    _fcntl = None  # type: ignore[assignment]
    import msvcrt as _msvcrt

#: Environment variable naming the keyring folder (overrides the XDG default).
HOME_ENV = "PICVEIL_HOME"
IDENTITY_FILE = "identity.key"
KEYRING_FILE = "keyring.age"
LOCK_FILE = "keyring.lock"

KEYRING_VERSION = 1
SHARE_VERSION = 1
CIRCLE_ID_BYTES = 8
KEY_CHECK_BYTES = 4
NAME_MAX = 64

_NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,%d}\Z" % NAME_MAX)
_CIRCLE_ID_INFO = b"picveil circle id"
_KEY_CHECK_INFO = b"picveil v1 key check"
_KEY_CHECK_MSG = b"check"
_AGE_PREFIX = b"age-encryption.org/v1\n"
_AGE_ARMOR = b"-----BEGIN AGE ENCRYPTED FILE-----"

_T = TypeVar("_T")


# --- helpers ----------------------------------------------------------------------
def default_home() -> Path:
    """The keyring folder: ``$PICVEIL_HOME``, else ``$XDG_CONFIG_HOME/picveil``,
    else ``~/.config/picveil``."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    if xdg and os.path.isabs(xdg):  # the XDG spec says to ignore relative paths
        return Path(xdg) / "picveil"
    return Path.home() / ".config" / "picveil"


def _now_iso() -> str:
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    return now.isoformat().replace("+00:00", "Z")


def _circle_id(key: bytes) -> bytes:
    return _hkdf(key, b"", _CIRCLE_ID_INFO)[:CIRCLE_ID_BYTES]


def check_circle_name(name: str) -> str:
    """Return ``name`` if it is a valid circle name, else raise :class:`CircleNameError`."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise CircleNameError(f"Invalid circle name {name!r}.")
    return name


def check_person_name(name: str) -> str:
    """Return ``name`` if it is a valid gallery name (same rules as circle names),
    else raise :class:`PersonNameError`."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise PersonNameError(f"Invalid person name {name!r}.")
    return name


def _check_embeddings(rows: object, *, where: str) -> list[list[float]]:
    """``rows`` as a non-empty list of equal-length lists of finite floats, else :class:`ValueError`."""
    if not isinstance(rows, (list, tuple)) or not rows:
        raise ValueError(f"{where}: expected a non-empty list of embeddings")
    out: list[list[float]] = []
    for row in rows:
        if isinstance(row, (str, bytes)) or not hasattr(row, "__iter__"):
            raise ValueError(f"{where}: an embedding is a list of numbers")
        vals = [float(v) for v in row]
        if not vals or any(v != v or v in (float("inf"), float("-inf")) for v in vals):
            raise ValueError(f"{where}: an embedding holds finite numbers")
        if out and len(vals) != len(out[0]):
            raise ValueError(f"{where}: embeddings of different lengths")
        out.append(vals)
    return out


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` atomically: temporary file, fsync, rename, fsync folder."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.chmod(tmp, mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename durable (POSIX only)
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    """Hold the keyring's exclusive write lock (blocks until it is free)."""
    fd = os.open(home / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if _fcntl is not None:
            _fcntl.flock(fd, _fcntl.LOCK_EX)
        else:  # pragma: no cover - Windows
            _msvcrt.locking(fd, _msvcrt.LK_LOCK, 1)
        yield
    finally:
        try:
            if _fcntl is not None:
                _fcntl.flock(fd, _fcntl.LOCK_UN)
            else:  # pragma: no cover - Windows
                os.lseek(fd, 0, os.SEEK_SET)
                _msvcrt.locking(fd, _msvcrt.LK_UNLCK, 1)
        finally:
            os.close(fd)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise KeyFileError(f"Cannot read {path}: {exc.strerror}.") from None


def _digest(blob: bytes) -> bytes:
    return hashlib.sha256(blob).digest()


def _is_age(data: bytes) -> bool:
    return data.startswith(_AGE_PREFIX) or data.lstrip().startswith(_AGE_ARMOR)


def _is_scrypt(data: bytes) -> bool:
    """Whether an age file's header holds a passphrase (scrypt) stanza."""
    end = data.find(b"\n---")
    header = data[: end if end >= 0 else len(data)]
    return any(line.startswith(b"-> scrypt ") for line in header.split(b"\n"))


def _load_identity(path: Path) -> Identity | None:
    if not path.exists():
        return None
    return load_identities(path)[0]


# --- circles ----------------------------------------------------------------------
class Circle:
    """A named group key. Opaque: the key never leaves this object as bytes.

    Attributes
    ----------
    name : str
        Its name in this keyring (a friend may know it under another name).
    circle_id : bytes
        Public 8-byte identifier derived from the key; safe to show and store.
    created : str
        ISO 8601 UTC time the circle was created (by whoever created it).
    shared_with : tuple of str
        age recipients this keyring has shared the circle to.
    """

    __slots__ = ("_name", "_key", "_circle_id", "_created", "_shared_with")

    def __init__(self, name: str, key: bytes, *, created: str, shared_with: Iterable[str] = ()) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("a circle key is 32 bytes")
        self._name = name
        self._key = key
        self._circle_id = _circle_id(key)
        self._created = created
        self._shared_with = tuple(shared_with)

    name = property(lambda self: self._name)
    circle_id = property(lambda self: self._circle_id)
    created = property(lambda self: self._created)
    shared_with = property(lambda self: self._shared_with)

    @property
    def id_hex(self) -> str:
        """The circle id as 16 lowercase hex characters."""
        return self._circle_id.hex()

    def group_key(self) -> GroupKey:
        """The circle key as the group key ``K`` of SPEC §6.2."""
        return GroupKey(self._key)

    def image_group_key(self, file_salt: bytes) -> GroupKey:
        """The group key ``K`` of this circle in one image (container SPEC §6.4).

        ``K = HKDF-SHA256(circle_key, salt=file_salt, info="picveil v1 circle image key")``:
        fresh for every image, so it may also be wrapped for ``--to``
        recipients without revealing the circle key.
        """
        return GroupKey(_hkdf(self._key, bytes(file_salt), b"picveil v1 circle image key"))

    def key_check(self, salt: bytes) -> bytes:
        """4 bytes that let a revealer test this circle against an in-image header.

        ``HMAC-SHA256(HKDF-SHA256(circle_key, salt, "picveil v1 key check"), "check")[:4]``.
        """
        check_key = _hkdf(self._key, bytes(salt), _KEY_CHECK_INFO)
        return _hmac.new(check_key, _KEY_CHECK_MSG, "sha256").digest()[:KEY_CHECK_BYTES]

    def matches(self, salt: bytes, check: bytes) -> bool:
        """Constant-time test of a header's key check against :meth:`key_check`."""
        return _hmac.compare_digest(self.key_check(salt), bytes(check))

    def __repr__(self) -> str:  # never print the key
        return f"Circle(name={self._name!r}, id={self.id_hex})"


# --- the keyring ------------------------------------------------------------------
class Keyring:
    """The user's circles, stored encrypted in one folder.

    Open it with :meth:`open`. Changes (:meth:`create_circle`,
    :meth:`remove_circle`, :meth:`share_circle`, :meth:`import_circle`) are
    written at once, under the keyring's lock; when another process changed
    the file since it was read, its changes are read first and kept.
    """

    __slots__ = ("_home", "_doc", "_identity", "_passphrase", "_stamp")

    def __init__(self, home: Path, doc: dict, *, identity: Identity | None, passphrase: str | None, stamp: bytes) -> None:
        self._home = home
        self._doc = doc
        self._identity = identity
        self._passphrase = passphrase  # set only for passphrase-protected keyrings
        self._stamp = stamp  # SHA-256 of the file this document was read from

    # -- opening ---------------------------------------------------------------
    @classmethod
    def open(cls, home: str | os.PathLike[str] | None = None, *, passphrase: str | None = None, create: bool = False) -> "Keyring":
        """Open the keyring in ``home`` (default: :func:`default_home`).

        Parameters
        ----------
        passphrase
            For a passphrase-protected keyring. With ``create=True`` and no
            keyring yet, giving one creates a passphrase-protected keyring;
            otherwise the keyring is encrypted to ``identity.key`` (created if
            missing). Ignored by a keyring that is encrypted to an identity.
        create
            Create the folder, identity and an empty keyring when missing.

        Raises
        ------
        KeyringNotFoundError
            No keyring and ``create`` is false.
        NotRecipientError
            Wrong passphrase or identity.
        KeyringCorruptError
            The file is damaged or not a keyring.
        """
        home = Path(home).expanduser() if home is not None else default_home()
        if passphrase == "":
            raise RecipientError("The passphrase is empty.")
        kpath, ipath = home / KEYRING_FILE, home / IDENTITY_FILE
        raw = _read(kpath)
        if raw is None:
            if not create:
                raise KeyringNotFoundError(f"There is no picveil keyring at {home}.")
            try:
                home.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:
                raise KeyFileError(f"Cannot create the keyring folder {home}: {exc.strerror}.") from None
            with _locked(home):
                raw = _read(kpath)
                if raw is None:  # still none: this process creates it
                    identity = _load_identity(ipath)
                    if identity is None and passphrase is None:
                        identity = Identity.generate()
                        _write_atomic(ipath, identity.to_file_text().encode(), 0o600)
                    doc = {"version": KEYRING_VERSION, "circles": {}, "people": {}}
                    ring = cls(home, doc, identity=identity, passphrase=passphrase, stamp=b"")
                    blob = ring._encrypt(doc)
                    _write_atomic(kpath, blob, 0o600)
                    ring._stamp = _digest(blob)
                    return ring
        identity = _load_identity(ipath)
        scrypt = _is_scrypt(raw)
        ring = cls(home, {}, identity=identity, passphrase=passphrase if scrypt else None, stamp=_digest(raw))
        ring._doc = ring._decrypt(raw)
        return ring

    @staticmethod
    def needs_passphrase(home: str | os.PathLike[str] | None = None) -> bool:
        """Whether the keyring in ``home`` exists and is protected by a
        passphrase (read from the file's age header; nothing is decrypted)."""
        home = Path(home).expanduser() if home is not None else default_home()
        raw = _read(home / KEYRING_FILE)
        return raw is not None and _is_scrypt(raw)

    # -- properties ------------------------------------------------------------
    @property
    def home(self) -> Path:
        """The keyring folder."""
        return self._home

    @property
    def path(self) -> Path:
        """The encrypted keyring file (``HOME/keyring.age``)."""
        return self._home / KEYRING_FILE

    @property
    def identity(self) -> Identity | None:
        """The user's own identity (``identity.key``), or ``None`` if there is none."""
        return self._identity

    @property
    def recipient(self) -> str | None:
        """The user's own ``age1…`` recipient, for friends to share circles to."""
        return self._identity.recipient if self._identity is not None else None

    @property
    def passphrase_protected(self) -> bool:
        return self._passphrase is not None

    # -- reading ---------------------------------------------------------------
    @property
    def circles(self) -> list[Circle]:
        """All circles, sorted by name."""
        return [self._circle(name) for name in sorted(self._doc["circles"])]

    def get(self, name: str) -> Circle:
        """The circle called ``name``; :class:`CircleNotFoundError` if there is none."""
        if name not in self._doc["circles"]:
            raise CircleNotFoundError(f"There is no circle named {name!r} in the keyring at {self.path}.", name=name)
        return self._circle(name)

    def find_by_id(self, circle_id: bytes) -> Circle | None:
        """The circle with this 8-byte id, or ``None``."""
        wanted = bytes(circle_id).hex()
        for name, entry in self._doc["circles"].items():
            if entry["id"] == wanted:
                return self._circle(name)
        return None

    def find_by_key_check(self, salt: bytes, check: bytes) -> list[Circle]:
        """The circles whose :meth:`Circle.key_check` for ``salt`` equals ``check``."""
        return [c for c in self.circles if c.matches(salt, check)]

    @property
    def people(self) -> dict[str, list[list[float]]]:
        """The face gallery: each person's name → their embeddings (copies), sorted by name.

        Raises
        ------
        KeyringCorruptError
            A people entry is not in the documented layout.
        """
        out: dict[str, list[list[float]]] = {}
        for name in sorted(self._doc["people"]):
            entry = self._doc["people"][name]
            try:
                out[name] = _check_embeddings(entry["embeddings"], where=name)
            except (KeyError, TypeError, ValueError):
                raise KeyringCorruptError(f"The face gallery entry {name!r} in the keyring at {self.path} is damaged.") from None
        return out

    def add_person(self, name: str, embeddings: Sequence[Sequence[float]]) -> int:
        """Add face ``embeddings`` for ``name`` (created if new) and save; return how many they now have.

        New embeddings must have the length of the ones already stored for that person.
        """
        check_person_name(name)
        rows = _check_embeddings(list(embeddings), where=name)

        def change(doc: dict) -> tuple[int, bool]:
            entry = doc["people"].setdefault(name, {"embeddings": [], "added": _now_iso()})
            have = entry.get("embeddings") or []
            if have and len(have[0]) != len(rows[0]):
                raise PersonNameError(
                    f"{name!r} already has embeddings of another model ({len(have[0])} numbers, not {len(rows[0])}).",
                    hint=f"Remove them first (`picveil people remove {name}`), then add the photos again.",
                )
            entry["embeddings"] = [*have, *rows]
            return len(entry["embeddings"]), True

        return self._mutate(change)

    def remove_person(self, name: str) -> None:
        """Delete ``name`` and all their embeddings from the gallery, and save."""

        def change(doc: dict) -> tuple[None, bool]:
            if name not in doc["people"]:
                raise PersonNotFoundError(f"There is no person named {name!r} in the face gallery at {self.path}.")
            del doc["people"][name]
            return None, True

        self._mutate(change)

    def __len__(self) -> int:
        return len(self._doc["circles"])

    def __contains__(self, name: object) -> bool:
        return name in self._doc["circles"]

    def __repr__(self) -> str:
        return f"Keyring(path={str(self.path)!r}, circles={len(self)})"

    # -- changing --------------------------------------------------------------
    def create_circle(self, name: str) -> Circle:
        """Create a circle with a fresh random key and save the keyring."""
        check_circle_name(name)
        key = os.urandom(KEY_BYTES)

        def change(doc: dict) -> tuple[None, bool]:
            if name in doc["circles"]:
                raise CircleNameError(
                    f"A circle named {name!r} already exists.",
                    hint=f"Choose another name, or remove it first (`picveil circle remove {name} --yes`).",
                )
            doc["circles"][name] = self._entry(key, _now_iso())
            return None, True

        self._mutate(change)
        return self._circle(name)

    def remove_circle(self, name: str) -> None:
        """Delete a circle and save. Photos protected only for it can no longer be revealed here."""

        def change(doc: dict) -> tuple[None, bool]:
            if name not in doc["circles"]:
                raise CircleNotFoundError(f"There is no circle named {name!r} in the keyring at {self.path}.", name=name)
            del doc["circles"][name]
            return None, True

        self._mutate(change)

    def share_circle(self, name: str, recipients: Sequence[str]) -> bytes:
        """Encrypt circle ``name`` to age ``recipients``; return the age file (binary).

        The recipients are recorded in the circle's ``shared_with``. The file
        is a plain age file: ``age -d -i KEY`` opens it too.
        """
        if isinstance(recipients, str):
            recipients = [recipients]
        wanted = list(dict.fromkeys(r.strip() for r in recipients))
        if not wanted:
            raise RecipientError(
                "Sharing a circle needs at least one age recipient.",
                hint="Your friend prints theirs with `picveil circle whoami`; pass it with --to.",
            )
        parsed = [parse_recipient(r) for r in wanted]

        def change(doc: dict) -> tuple[bytes, bool]:
            if name not in doc["circles"]:
                raise CircleNotFoundError(f"There is no circle named {name!r} in the keyring at {self.path}.", name=name)
            entry = doc["circles"][name]
            payload = {"picveil_circle": SHARE_VERSION, "name": name, "key": entry["key"], "created": entry["created"]}
            try:
                blob = pyrage.encrypt(json.dumps(payload, sort_keys=True).encode(), parsed)
            except pyrage.EncryptError as exc:  # pragma: no cover - recipients were validated
                raise RecipientError(f"Cannot encrypt the circle: {exc}.") from None
            entry["shared_with"] = list(dict.fromkeys([*entry.get("shared_with", []), *wanted]))
            return blob, True

        return self._mutate(change)

    def import_circle(
        self,
        data: bytes,
        *,
        identities: Iterable[Identity | str | os.PathLike[str]] = (),
        passphrase: str | None = None,
        rename: str | None = None,
    ) -> Circle:
        """Add the circle in a file made by :meth:`share_circle` (or ``age`` by hand).

        ``identities`` (objects or identity files) default to the keyring's own
        identity; ``passphrase`` opens a circle file encrypted with ``age -p``.
        A circle already present (same id) is returned unchanged. A different
        circle under the same name is refused unless ``rename`` gives a new name.
        """
        data = bytes(data)
        if not _is_age(data):
            raise InputError(
                "This is not a picveil circle file (not an age file).",
                hint="A circle file is written by `picveil circle share`.",
            )
        ids = load_identities(identities) if identities else ([self._identity] if self._identity else [])
        plaintext = None
        if passphrase and _is_scrypt(data):
            with contextlib.suppress(pyrage.DecryptError):
                plaintext = pyrage.passphrase.decrypt(data, passphrase)
        elif ids:
            with contextlib.suppress(pyrage.DecryptError):
                plaintext = pyrage.decrypt(data, [i._inner for i in ids])
        if plaintext is None:
            if not ids and not passphrase:
                raise NotRecipientError(
                    "There is no identity to open the circle file with.",
                    hint="Give the identity it was shared to with -i, or add one to the keyring (`picveil circle whoami`).",
                )
            raise NotRecipientError(
                "This circle file was not shared with your identity (or it is damaged).",
                hint="Ask the sender to share it to the recipient `picveil circle whoami` prints, or give the right identity with -i.",
            )
        their_name, key, created = self._parse_share(plaintext)
        name = check_circle_name(rename) if rename is not None else their_name
        cid = _circle_id(key).hex()

        def change(doc: dict) -> tuple[str, bool]:
            for have, entry in doc["circles"].items():
                if entry["id"] == cid:
                    return have, False  # already here: nothing to write
            if name is None:
                raise CircleNameError(f"The shared circle's name {their_name!r} is not valid here.", hint="Import it under another name with --as NAME.")
            if name in doc["circles"]:
                raise CircleNameError(
                    f"You already have a different circle named {name!r}.",
                    hint="Import it under another name with --as NAME.",
                )
            doc["circles"][name] = self._entry(key, created)
            return name, True

        return self._circle(self._mutate(change))

    def save(self) -> None:
        """Write the keyring again (re-encrypted), keeping other processes' changes.

        Every change method already saves; this is for callers that want to
        re-encrypt the file explicitly.
        """
        self._mutate(lambda doc: (None, True))

    # -- internals -------------------------------------------------------------
    @staticmethod
    def _entry(key: bytes, created: str) -> dict:
        return {"key": key.hex(), "id": _circle_id(key).hex(), "created": created, "shared_with": []}

    def _circle(self, name: str) -> Circle:
        entry = self._doc["circles"][name]
        return Circle(name, bytes.fromhex(entry["key"]), created=entry["created"], shared_with=entry.get("shared_with", ()))

    def _mutate(self, change: Callable[[dict], tuple[_T, bool]]) -> _T:
        """Apply ``change`` to a copy of the newest document and write it, under the lock."""
        with _locked(self._home):
            raw = _read(self.path)
            if raw is not None and _digest(raw) != self._stamp:
                self._doc = self._decrypt(raw)  # another process wrote: start from its version
                self._stamp = _digest(raw)
            doc = copy.deepcopy(self._doc)
            result, dirty = change(doc)
            if dirty or raw is None:
                blob = self._encrypt(doc)
                _write_atomic(self.path, blob, 0o600)
                self._stamp = _digest(blob)
            self._doc = doc
            return result

    def _encrypt(self, doc: dict) -> bytes:
        plaintext = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        if self._passphrase is not None:
            return pyrage.passphrase.encrypt(plaintext, self._passphrase)
        if self._identity is None:  # pragma: no cover - open() guarantees one
            raise KeyFileError(f"The keyring at {self.path} has neither an identity nor a passphrase.")
        return pyrage.encrypt(plaintext, [parse_recipient(self._identity.recipient)])

    def _decrypt(self, raw: bytes) -> dict:
        path = self.path
        if not raw.startswith(_AGE_PREFIX):
            raise KeyringCorruptError(f"The keyring at {path} is not an age file.")
        wrong = NotRecipientError(
            f"Cannot open the keyring at {path}: wrong passphrase or identity.",
            hint="Give the passphrase the keyring was created with (a passphrase-protected keyring), or restore its identity.key.",
        )
        try:
            if _is_scrypt(raw):
                if self._passphrase is None:
                    raise NotRecipientError(
                        f"The keyring at {path} is protected by a passphrase.",
                        hint="Type it when asked, or set PICVEIL_KEYRING_PASSPHRASE (the web app: the keyring passphrase field).",
                    )
                plaintext = pyrage.passphrase.decrypt(raw, self._passphrase)
            else:
                if self._identity is None:
                    raise KeyFileError(
                        f"The keyring at {path} is encrypted to an identity, but {self._home / IDENTITY_FILE} is missing.",
                        hint="Restore identity.key from your backup.",
                    )
                plaintext = pyrage.decrypt(raw, [self._identity._inner])
        except pyrage.DecryptError as exc:
            # age says "No matching keys found" for a wrong identity and
            # "Decryption failed" for a wrong passphrase; anything else is damage.
            text = str(exc)
            if "No matching keys" in text or ("Decryption failed" in text and _is_scrypt(raw)):
                raise wrong from None
            raise KeyringCorruptError(f"The keyring at {path} is damaged and cannot be decrypted.") from None
        return self._parse_doc(plaintext)

    def _parse_doc(self, plaintext: bytes) -> dict:
        bad = KeyringCorruptError(f"The keyring at {self.path} decrypts, but its content is not a valid keyring.")
        try:
            doc = json.loads(plaintext.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise bad from None
        if not isinstance(doc, dict) or not isinstance(doc.get("version"), int):
            raise bad
        if doc["version"] > KEYRING_VERSION:
            raise UnsupportedVersionError(f"The keyring at {self.path} is version {doc['version']}; this picveil reads version {KEYRING_VERSION}.")
        if doc["version"] != KEYRING_VERSION:
            raise bad
        circles = doc.setdefault("circles", {})
        people = doc.setdefault("people", {})
        if not isinstance(circles, dict) or not isinstance(people, dict):
            raise bad
        for name, entry in circles.items():
            try:
                check_circle_name(name)
                key = bytes.fromhex(entry["key"])
                ok = (
                    len(key) == KEY_BYTES
                    and entry["id"] == _circle_id(key).hex()
                    and isinstance(entry["created"], str)
                    and isinstance(entry.setdefault("shared_with", []), list)
                    and all(isinstance(r, str) for r in entry["shared_with"])
                )
            except (CircleNameError, KeyError, TypeError, ValueError, AttributeError):
                ok = False
            if not ok:
                raise bad
        return doc

    @staticmethod
    def _parse_share(plaintext: bytes) -> tuple[str | None, bytes, str]:
        """``(name or None if not a valid name, key, created)`` of a decrypted circle file."""
        bad = InputError(
            "The file decrypts, but it is not a picveil circle.",
            hint="A circle file is written by `picveil circle share`.",
        )
        try:
            obj = json.loads(plaintext.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise bad from None
        if not isinstance(obj, dict) or not isinstance(obj.get("picveil_circle"), int):
            raise bad
        if obj["picveil_circle"] > SHARE_VERSION:
            raise UnsupportedVersionError(f"This circle file is version {obj['picveil_circle']}; this picveil reads version {SHARE_VERSION}.")
        try:
            key = bytes.fromhex(obj["key"])
        except (KeyError, TypeError, ValueError):
            raise bad from None
        if obj["picveil_circle"] != SHARE_VERSION or len(key) != KEY_BYTES:
            raise bad
        name = obj.get("name")
        name = name if isinstance(name, str) and _NAME_RE.match(name) else None
        created = obj.get("created")
        return name, key, created if isinstance(created, str) else _now_iso()
