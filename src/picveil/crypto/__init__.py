"""Keys, key wrapping, key streams and MACs.

This is the only picveil package that imports cryptographic libraries
(``cryptography`` and ``pyrage``) or holds key material. Everything else
receives opaque key objects from here and asks them for what it needs: a key
stream for a purpose, a tag over some bytes. No key is ever a loose ``bytes``
outside this package.

Derivations (see ``container/SPEC.md``):

* group key ``K``: 32 random bytes per image and recipient group, wrapped with
  age (X25519 recipients and/or a scrypt passphrase);
* ``mac_key = HKDF-SHA256(K, salt=file_salt, info="picveil v1 mac")``;
* ``region_key = HKDF-SHA256(K, salt=region_salt, info="picveil v1 region")``;
* key streams: ``AES-256-CTR(HKDF-SHA256(region_key, salt="", info=label),
  counter block 0)``, where the scheme chooses ``label``.
"""

from .keys import (
    GroupKey,
    Identity,
    MacKey,
    RegionKey,
    WRAP_CIRCLE,
    WRAP_PASSPHRASE,
    WRAP_X25519,
    count_age_stanzas,
    load_identities,
    parse_recipient,
    random_salt,
)
from .keyring import Circle, Keyring, check_circle_name, default_home

__all__ = [
    "Circle",
    "GroupKey",
    "Identity",
    "Keyring",
    "MacKey",
    "RegionKey",
    "WRAP_CIRCLE",
    "WRAP_PASSPHRASE",
    "WRAP_X25519",
    "check_circle_name",
    "count_age_stanzas",
    "default_home",
    "load_identities",
    "parse_recipient",
    "random_salt",
]
