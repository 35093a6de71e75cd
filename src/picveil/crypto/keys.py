"""Key objects: age identities, recipients, group keys, region keys, MAC keys."""

from __future__ import annotations

import datetime as _dt
import hmac as _hmac
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import pyrage
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import KeyFileError, RecipientError

#: Wrap kinds, as stored in the container (``pvkg`` box).
WRAP_X25519 = 1
WRAP_PASSPHRASE = 2
WRAP_CIRCLE = 3  #: data = the 8-byte circle id; K derives from the circle key

KEY_BYTES = 32
SALT_BYTES = 16
_AGE_PREFIX = b"age-encryption.org/v1\n"


def random_salt(n: int = SALT_BYTES) -> bytes:
    """Return ``n`` bytes from the operating system's CSPRNG (a salt or nonce)."""
    return os.urandom(n)


def _hkdf(ikm: bytes, salt: bytes, info: bytes, length: int = KEY_BYTES) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt or None, info=info).derive(ikm)


# --- age identities and recipients ------------------------------------------------
class Identity:
    """An age X25519 identity (a private key). Interoperable with ``age-keygen``."""

    __slots__ = ("_inner",)

    def __init__(self, inner: pyrage.x25519.Identity) -> None:
        self._inner = inner

    @classmethod
    def generate(cls) -> "Identity":
        return cls(pyrage.x25519.Identity.generate())

    @classmethod
    def from_str(cls, text: str) -> "Identity":
        try:
            return cls(pyrage.x25519.Identity.from_str(text.strip()))
        except Exception as exc:  # pyrage raises IdentityError / ValueError
            raise KeyFileError("This is not an age identity (AGE-SECRET-KEY-1…).") from exc

    @property
    def recipient(self) -> str:
        """The public ``age1…`` recipient string of this identity."""
        return str(self._inner.to_public())

    def to_file_text(self, *, now: _dt.datetime | None = None) -> str:
        """Serialise in the ``age-keygen`` file layout."""
        now = now or _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
        return (
            f"# created: {now.isoformat().replace('+00:00', 'Z')}\n"
            f"# public key: {self.recipient}\n"
            f"{self._inner}\n"
        )

    def __repr__(self) -> str:  # never print the secret
        return f"Identity(recipient={self.recipient!r})"


def load_identities(source: str | os.PathLike[str] | Identity | Iterable[Identity | str | os.PathLike[str]]) -> list[Identity]:
    """Load identities from a path, an :class:`Identity`, or an iterable of both.

    An identity file holds ``AGE-SECRET-KEY-1…`` lines; ``#`` comments and blank
    lines are ignored, as in age. Raises :class:`KeyFileError` for unreadable or
    invalid files.
    """
    if isinstance(source, Identity):
        return [source]
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise KeyFileError(f"Identity file not found: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise KeyFileError(f"Cannot read identity file {path}: {exc}") from None
        found = []
        for lineno, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not line.startswith("AGE-SECRET-KEY-1"):
                raise KeyFileError(f"{path}, line {lineno}: not an age X25519 identity.")
            found.append(Identity.from_str(line))
        if not found:
            raise KeyFileError(f"{path} holds no identity.")
        return found
    out: list[Identity] = []
    for item in source:
        out.extend(load_identities(item))
    return out


def parse_recipient(text: str) -> pyrage.x25519.Recipient:
    """Parse an ``age1…`` X25519 recipient; :class:`RecipientError` if invalid."""
    text = text.strip()
    try:
        return pyrage.x25519.Recipient.from_str(text)
    except Exception:
        pass
    if "AGE-SECRET-KEY-" in text.upper():  # never echo a secret key back (terminals, logs, HTTP replies)
        raise RecipientError(
            "Found a secret key (an age identity) where a recipient was expected; it is not shown here.",
            hint="Give its public key instead (age1…): `picveil keygen -y KEYFILE` prints it. Keep the secret key to yourself.",
        ) from None
    shown = text if len(text) <= 70 else text[:24] + "…"
    raise RecipientError(f"Not an age recipient: {shown!r}") from None


def count_age_stanzas(age_file: bytes) -> int:
    """Count the X25519 recipient stanzas in a binary age file's header (no key needed)."""
    if not age_file.startswith(_AGE_PREFIX):
        return 0
    end = age_file.find(b"\n---")
    header = age_file[: end if end >= 0 else len(age_file)]
    # count X25519 stanzas only: age writes random "grease" stanzas too
    return sum(1 for line in header.split(b"\n") if line.startswith(b"-> X25519 "))


# --- symmetric keys ----------------------------------------------------------------
class MacKey:
    """HMAC-SHA256 key for the container's tags."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    def tag(self, label: bytes, *parts: bytes | memoryview) -> bytes:
        """HMAC-SHA256 over ``label ‖ parts…`` (32 bytes)."""
        h = _hmac.new(self._key, label, "sha256")
        for p in parts:
            h.update(p)
        return h.digest()

    def verify(self, tag: bytes, label: bytes, *parts: bytes | memoryview) -> bool:
        """Constant-time comparison of ``tag`` against :meth:`tag`."""
        return _hmac.compare_digest(tag, self.tag(label, *parts))


class RegionKey:
    """Per-region secret; source of the scheme's key streams."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    def stream(self, label: bytes, n: int) -> bytes:
        """``n`` bytes of AES-256-CTR key stream under a subkey for ``label``.

        subkey = HKDF-SHA256(region_key, salt="", info=label); the counter
        block starts at 16 zero bytes. Each label gives an independent stream.
        """
        if n < 0:
            raise ValueError("n must be non-negative")
        subkey = _hkdf(self._key, b"", label)
        enc = Cipher(algorithms.AES(subkey), modes.CTR(bytes(16))).encryptor()
        return enc.update(bytes(n)) + enc.finalize()

    def _aead(self, kind: int):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM(_hkdf(self._key, b"", b"picveil v1 region data" + bytes([kind])))

    def seal(self, kind: int, aad: bytes, plaintext: bytes) -> bytes:
        """AES-256-GCM under a subkey of this region key for ``kind``.

        The subkey is unique per (region, kind), so the fixed zero nonce is
        never reused.
        """
        return self._aead(kind).encrypt(bytes(12), plaintext, aad)

    def open(self, kind: int, aad: bytes, ciphertext: bytes) -> bytes | None:
        """Decrypt what :meth:`seal` made; ``None`` if it does not authenticate."""
        from cryptography.exceptions import InvalidTag

        try:
            return self._aead(kind).decrypt(bytes(12), ciphertext, aad)
        except InvalidTag:
            return None

    def seal_short(self, label: bytes, aad: bytes, plaintext: bytes, tag_bytes: int = 4) -> bytes:
        """Encrypt with a short tag, for a channel where every byte counts
        (the robust header's region thumbnails, robust SPEC §13.7.3).

        ``enc_key ‖ mac_key = HKDF-SHA256(region_key, salt="", info=label, 64)``;
        ``ciphertext = plaintext XOR AES-256-CTR(enc_key, counter block 0)``;
        ``tag = HMAC-SHA256(mac_key, aad ‖ ciphertext)[:tag_bytes]``; returns
        ``ciphertext ‖ tag``. The subkeys are unique per (region, label), so
        the fixed counter block is never reused: seal one message per label.
        A forgery passes with probability ``2^(-8 tag_bytes)``.
        """
        if not 4 <= tag_bytes <= 32:
            raise ValueError(f"tag_bytes must be 4..32, got {tag_bytes}")
        enc_key, mac_key = self._short_keys(label)
        enc = Cipher(algorithms.AES(enc_key), modes.CTR(bytes(16))).encryptor()
        ct = enc.update(bytes(plaintext)) + enc.finalize()
        return ct + _hmac.new(mac_key, bytes(aad) + ct, "sha256").digest()[:tag_bytes]

    def open_short(self, label: bytes, aad: bytes, sealed: bytes, tag_bytes: int = 4) -> bytes | None:
        """Decrypt what :meth:`seal_short` made; ``None`` if it does not authenticate."""
        if not 4 <= tag_bytes <= 32:
            raise ValueError(f"tag_bytes must be 4..32, got {tag_bytes}")
        sealed = bytes(sealed)
        if len(sealed) < tag_bytes:
            return None
        ct, tag = sealed[:-tag_bytes], sealed[-tag_bytes:]
        enc_key, mac_key = self._short_keys(label)
        if not _hmac.compare_digest(tag, _hmac.new(mac_key, bytes(aad) + ct, "sha256").digest()[:tag_bytes]):
            return None
        dec = Cipher(algorithms.AES(enc_key), modes.CTR(bytes(16))).decryptor()
        return dec.update(ct) + dec.finalize()

    def _short_keys(self, label: bytes) -> tuple[bytes, bytes]:
        okm = _hkdf(self._key, b"", label, 2 * KEY_BYTES)
        return okm[:KEY_BYTES], okm[KEY_BYTES:]

    def __repr__(self) -> str:
        return "RegionKey(<secret>)"


class GroupKey:
    """The random 32-byte key of one recipient group in one image."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("a group key is 32 bytes")
        self._key = key

    @classmethod
    def generate(cls) -> "GroupKey":
        return cls(os.urandom(KEY_BYTES))

    def mac_key(self, file_salt: bytes) -> MacKey:
        return MacKey(_hkdf(self._key, file_salt, b"picveil v1 mac"))

    def region_key(self, region_salt: bytes) -> RegionKey:
        return RegionKey(_hkdf(self._key, region_salt, b"picveil v1 region"))

    # -- wrapping ----------------------------------------------------------------
    def wrap(self, recipients: Sequence[str] = (), passphrase: str | None = None) -> list[tuple[int, bytes]]:
        """Wrap this key for X25519 recipients and/or a passphrase.

        Returns ``[(kind, age_file_bytes), ...]``: one age file for all the
        recipients (kind 1) and, separately, one for the passphrase (kind 2),
        since age allows a scrypt stanza only on its own.
        """
        if not recipients and not passphrase:
            raise RecipientError(
                "No recipient: give at least one age recipient or a passphrase.",
                hint="Use --to age1… (see `picveil keygen`) or --passphrase.",
            )
        wraps: list[tuple[int, bytes]] = []
        if recipients:
            parsed = [parse_recipient(r) for r in recipients]
            wraps.append((WRAP_X25519, pyrage.encrypt(self._key, parsed)))
        if passphrase:
            wraps.append((WRAP_PASSPHRASE, pyrage.passphrase.encrypt(self._key, passphrase)))
        return wraps

    @classmethod
    def unwrap(
        cls,
        wraps: Iterable[tuple[int, bytes]],
        identities: Sequence[Identity] = (),
        passphrase: str | None = None,
    ) -> "GroupKey | None":
        """Try to unwrap with the given identities/passphrase; ``None`` if none fits."""
        inner = [i._inner for i in identities]
        for kind, blob in wraps:
            try:
                if kind == WRAP_X25519 and inner:
                    key = pyrage.decrypt(blob, inner)
                elif kind == WRAP_PASSPHRASE and passphrase:
                    key = pyrage.passphrase.decrypt(blob, passphrase)
                else:
                    continue
            except Exception:  # pyrage.DecryptError and malformed age files alike
                continue
            if len(key) == KEY_BYTES:
                return cls(key)
        return None

    def __repr__(self) -> str:
        return "GroupKey(<secret>)"
