"""The picveil container: the bytes that travel with a protected JPEG.

A JUMBF superbox (ISO/IEC 19566-5) carried in APP11 segments, holding the
header (geometry, regions, salts), one key group per set of recipients
(age-wrapped keys and authentication tags) and optional extra boxes.
``SPEC.md`` in this folder is the normative description of version 1;
``format`` turns bytes into frozen dataclasses and back, with no I/O and no
cryptography. ``vectors/`` holds test vectors with their expected outcomes.
"""

from picveil.container.format import (
    AGE_PREFIX,
    AGE_WRAP_KINDS,
    FORMAT_VERSION,
    HEADER_TAG_PREFIX,
    KEY_SIZE,
    LOOK_SCRAMBLE,
    MAC_KEY_INFO,
    MAX_SEGMENT_PAYLOAD,
    PACKET_CHUNK_SIZE,
    PICVEIL_INSTANCE,
    PICVEIL_LABEL,
    PICVEIL_UUID,
    REGION_KEY_INFO,
    REGION_TAG_PREFIX,
    SALT_SIZE,
    SCHEME_SCRAMBLE_V1,
    TAG_SIZE,
    WRAP_AGE_SCRYPT,
    WRAP_AGE_X25519,
    ComponentInfo,
    Container,
    ExtraBox,
    Header,
    KeyGroup,
    RegionRecord,
    Wrap,
    decode_container,
    encode_container,
    from_app11_payloads,
    is_picveil_packet,
    to_app11_payloads,
)
from picveil.container.format import __all__ as __all__
