"""What each network is reported to do to an uploaded photo.

None of these networks documents its image pipeline, and each changes it
without notice. The numbers below are *reports*: the table in the picveil
issue tracker (issue 4) and public measurements, each named in the profile's
``sources``. Where sources disagree, ``notes`` says so and the profile keeps
the issue's number. Treat every profile as a plausible model to test against,
not as a fact about today's service.

Two kinds of number are kept apart:

* what the network does: ``max_long_edge`` (it downsizes anything larger),
  ``observed_quality_range`` (the JPEG quality its output is reported at),
  ``subsampling``, ``formats_served``, ``strips_metadata``;
* what picveil does about it: ``jpeg_quality``, the quality that
  :func:`picveil.platforms.fitting.fit` encodes at. It is the top of the
  observed range: encoding higher only spends bytes the network throws away,
  encoding lower loses more than the network would.

Colour: networks are reported to convert a photo tagged with a wider colour
space (Display P3, Adobe RGB) to sRGB on upload, and some to drop the profile
without converting (:data:`DIYPHOTO`); Instagram keeps Display P3 for
wide-colour iOS devices (:data:`KRIEGER`). ``fit`` converts every photo to
sRGB, and the simulator's network presets convert first (step ``srgb``), the
case that a reveal must survive.
"""

from __future__ import annotations

from dataclasses import dataclass

from picveil.errors import InputError

__all__ = ["PROFILES", "PlatformProfile", "get_profile", "profiles_markdown"]

# --- sources, cited once and shared by the profiles ----------------------------
ISSUE = "picveil issue tracker, issue 4: the table of what each network is reported to do"
PHOTO_TACO = (
    "Jeff Harmon, 'Dimensions and Quality For Social Media Photo Sharing', Photo Taco "
    "Podcast, https://phototacopodcast.com/dimensions-and-quality-for-social-media-photo-sharing/ "
    "(reported: a 5120 px upload came back with a long edge of 1920 px on Facebook, "
    "1080 px on Instagram and 4096 px on Twitter)"
)
ERDMANN = (
    "Christoph Erdmann, 'Better image quality in your Twitter tweets', compress-or-die.com, "
    "updated 2022-12-21, https://compress-or-die.com/Better-image-quality-in-your-Twitter-tweets "
    "(an analysis of the sizes and encodings Twitter generates)"
)
OBRIEN = (
    "Nolan O'Brien (Twitter engineer), as reported by OneZero: Twitter for Web "
    "'preserve[s] JPEGs as they are encoded for upload' "
    "(https://onezero.medium.com/twitter-will-finally-stop-making-your-images-look-terrible-2ed882dfcd9e)"
)
DSP_SE = (
    "DSP Stack Exchange question 74275, 'What is Facebook's image compression algorithm?' "
    "(2021), https://dsp.stackexchange.com/questions/74275 (reported: ImageMagick identified "
    "a downloaded Facebook photo as a progressive JPEG at quality 85)"
)
DOUGLAS = (
    "Zachary Douglas, 'Digital Image Recompression Analysis of Instagram', M.S. thesis, "
    "University of Colorado Denver, 2018 (Instagram recompresses uploads and wipes their metadata)"
)
ASPECT_PAGES = (
    "pages on Instagram's feed formats, e.g. https://lifeafterphotoshop.com/instagram-image-size-"
    "still-matters-non-square-photos-may-not-fit, https://aspectratiofinder.com/faq/what-aspect-"
    "ratio-does-instagram-use and https://www.cvt-jp.com/wordpress/3994/ (reported: feed photos "
    "from 1.91:1 landscape to 4:5 portrait, 1080 px wide, so at most 1350 px tall; a photo "
    "outside that range is cropped to fit it)"
)
DIYPHOTO = (
    "DIYPhotography, 'Instagram breaking out of sRGB to introduce wide colour on iPhones' (2017), "
    "https://www.diyphotography.net/instagram-breaking-srgb-introduce-wide-colour-display-iphones/ "
    "(reported: most image sharing platforms convert uploads to sRGB; some strip the colour profile)"
)
KRIEGER = (
    "Mike Krieger, 'Bringing Wide Color to Instagram', Instagram Engineering, 2017-01-09 "
    "(Instagram keeps Display P3 photos in wide colour for iOS devices that show it)"
)
TELEGRAM_TEST = (
    "TickTechTold, 'Does Telegram Compress Images? [Tested and Proven Results]' (2022), "
    "https://www.ticktechtold.com/telegram-compress-image/ (measured: a 6000×4000 photo, 891 KB, sent "
    "as a photo arrived as 1280×853 and 40 KB)"
)
TELEGRAM_GUIDE = (
    "Picovert, 'Telegram Image Size Guide' (2026), https://www.picovert.com/en/blog/image-size-for-telegram "
    "(reported: a photo is re-encoded to JPEG at about quality 80, its long side capped at about 2560 px; "
    "one sent as a file is untouched)"
)
WHATSAPP_BLOGS = (
    "blog posts on WhatsApp photo compression, e.g. "
    "https://shrinkto.com/blog/compress-image-for-whatsapp-without-quality-loss and "
    "https://www.image-compress.com/blog/compress-images-for-whatsapp/ (reported: long "
    "edge 1600 px, EXIF stripped, JPEG quality anywhere from about 50 to 80; low confidence)"
)


@dataclass(frozen=True)
class PlatformProfile:
    """What a network does to an uploaded photo, and what picveil does about it.

    Attributes
    ----------
    name : str
        Short name used on the command line (``--platform NAME``).
    title : str
        Human name.
    max_long_edge : int
        The network downsizes photos whose longer side exceeds this (pixels).
    jpeg_quality : int
        IJG quality (1-100) that :func:`~picveil.platforms.fitting.fit` encodes at.
    observed_quality_range : (int, int) or None
        Lowest and highest IJG quality the network's JPEGs are reported at;
        ``None`` when nothing is reported.
    subsampling : str
        Chroma subsampling of the network's JPEGs (``'4:2:0'``), which
        ``fit`` also uses.
    formats_served : tuple of str
        Formats the network is reported to serve the photo in
        (``'jpeg'``, ``'webp'``).
    strips_metadata : bool
        Whether EXIF (and with it any picveil APP11 container) is removed.
    notes : str
        What the sources disagree on or leave open.
    sources : tuple of str
        Where the numbers come from, by name.
    aspect_range : (float, float) or None
        Narrowest and widest shape (width / height, as displayed) the network
        shows whole; it crops anything outside. ``None``: it does not crop.
    fit_long_edge : int or None
        The long edge ``fit`` resizes to when the sources disagree on
        ``max_long_edge``: the smallest reported, so that the network resizes
        under none of the reports. ``None``: ``max_long_edge`` (see :attr:`fit_edge`).
    """

    name: str
    title: str
    max_long_edge: int
    jpeg_quality: int
    observed_quality_range: tuple[int, int] | None
    subsampling: str
    formats_served: tuple[str, ...]
    strips_metadata: bool
    notes: str
    sources: tuple[str, ...]
    aspect_range: tuple[float, float] | None = None
    fit_long_edge: int | None = None

    def __post_init__(self) -> None:
        if self.fit_long_edge is not None and not 1 <= self.fit_long_edge <= self.max_long_edge:
            raise ValueError(f"fit_long_edge must be 1..max_long_edge, got {self.fit_long_edge}")
        ar = self.aspect_range
        if ar is not None and not 0 < ar[0] <= ar[1]:
            raise ValueError(f"aspect_range must be 0 < narrowest <= widest, got {ar}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be 1..100, got {self.jpeg_quality}")
        if self.max_long_edge < 1:
            raise ValueError(f"max_long_edge must be positive, got {self.max_long_edge}")
        rng = self.observed_quality_range
        if rng is not None and not 1 <= rng[0] <= rng[1] <= 100:
            raise ValueError(f"observed_quality_range must be 1 <= low <= high <= 100, got {rng}")

    @property
    def fit_edge(self) -> int:
        """The long edge that :func:`~picveil.platforms.fitting.fit` resizes to."""
        return self.fit_long_edge or self.max_long_edge

    @property
    def aspect_text(self) -> str:
        """The shapes shown whole as text: ``'0.8–1.91 (w/h)'`` or ``'any'``."""
        ar = self.aspect_range
        return "any" if ar is None else f"{ar[0]:g}–{ar[1]:g} (w/h)"

    @property
    def quality_text(self) -> str:
        """The observed quality as text: ``'85'``, ``'71–85'`` or ``'not reported'``."""
        rng = self.observed_quality_range
        if rng is None:
            return "not reported"
        return str(rng[0]) if rng[0] == rng[1] else f"{rng[0]}–{rng[1]}"


PROFILES: dict[str, PlatformProfile] = {
    p.name: p
    for p in (
        PlatformProfile(
            name="x",
            title="X (Twitter)",
            max_long_edge=4096,
            jpeg_quality=85,
            observed_quality_range=(85, 85),
            subsampling="4:2:0",
            formats_served=("jpeg", "webp"),
            strips_metadata=True,
            notes=(
                "Re-encodes at quality 85 with a 4096 px long edge (issue table; the 4096 px "
                "limit also measured by Photo Taco). Twitter for Web is reported to keep "
                "uploaded JPEGs that are already within its limits as they are, which is what "
                "`picveil fit` aims for. Which clients get WebP is not pinned down."
            ),
            sources=(ISSUE, PHOTO_TACO, ERDMANN, OBRIEN, DIYPHOTO),
        ),
        PlatformProfile(
            name="facebook",
            title="Facebook",
            max_long_edge=2048,
            jpeg_quality=85,
            observed_quality_range=(71, 85),
            subsampling="4:2:0",
            formats_served=("jpeg", "webp"),
            strips_metadata=True,
            notes=(
                "Strips EXIF and re-encodes at about quality 71–85 with a 2048 px long edge "
                "(issue table). Photo Taco measured a 1920 px long edge instead; a 2048 px "
                "upload would then still be resized, which costs a reveal far more than the "
                "12 % fewer pixels, so `fit` resizes to 1920 px. Downloads are reported to be "
                "progressive JPEGs (DSP Stack Exchange)."
            ),
            sources=(ISSUE, PHOTO_TACO, DSP_SE, DIYPHOTO),
            fit_long_edge=1920,
        ),
        PlatformProfile(
            name="instagram",
            title="Instagram",
            max_long_edge=1080,
            jpeg_quality=85,
            observed_quality_range=(75, 85),
            subsampling="4:2:0",
            formats_served=("jpeg", "webp"),
            strips_metadata=True,
            notes=(
                "About quality 75–85, 4:2:0, 1080 px (issue table; 1080 px also measured by "
                "Photo Taco). Instagram's 1080 px is a width: portrait posts may be up to "
                "1350 px tall, so a 1080 px long edge is the conservative choice. Feed photos "
                "narrower than 4:5 or wider than 1.91:1 are cropped, which would cut the "
                "robust header: `fit` pads them to the nearest allowed shape (or crops them "
                "itself, before protection, with --aspect crop)."
            ),
            sources=(ISSUE, PHOTO_TACO, DOUGLAS, ASPECT_PAGES, DIYPHOTO, KRIEGER),
            aspect_range=(0.8, 1.91),
        ),
        PlatformProfile(
            name="whatsapp",
            title="WhatsApp",
            max_long_edge=1600,
            jpeg_quality=80,
            observed_quality_range=(50, 80),
            subsampling="4:2:0",
            formats_served=("jpeg",),
            strips_metadata=True,
            notes=(
                "About 1600 px (issue table). The quality is not in the issue; blog posts "
                "report anything from about 50 to 80, and an 'HD' sending option that keeps "
                "more. Photos sent as documents are not touched."
            ),
            sources=(ISSUE, WHATSAPP_BLOGS, DIYPHOTO),
        ),
        PlatformProfile(
            name="telegram",
            title="Telegram",
            max_long_edge=2560,
            jpeg_quality=80,
            observed_quality_range=(80, 80),
            subsampling="4:2:0",
            formats_served=("jpeg",),
            strips_metadata=True,
            notes=(
                "Not in the issue. A photo sent as a photo (not as a file) is re-encoded to JPEG at about "
                "quality 80 with a long side of at most about 2560 px (a 2026 guide); a 2022 test measured "
                "1280 px, and its 40 KB for 1280×853 (0.3 bits a pixel) suggests a lower quality than 80. "
                "`fit` resizes to 1280 px, the smaller report. Photos sent as files are not touched."
            ),
            sources=(TELEGRAM_TEST, TELEGRAM_GUIDE),
            fit_long_edge=1280,
        ),
        PlatformProfile(
            name="generic",
            title="Generic (unknown service)",
            max_long_edge=2048,
            jpeg_quality=85,
            observed_quality_range=None,
            subsampling="4:2:0",
            formats_served=("jpeg",),
            strips_metadata=True,
            notes=(
                "picveil's choice for a service it knows nothing about, not a measurement: "
                "within the limits reported for X and Facebook, at the quality X re-encodes at, "
                "assuming the worst about metadata."
            ),
            sources=(ISSUE,),
        ),
    )
}


def get_profile(name: str | PlatformProfile) -> PlatformProfile:
    """Look up a profile by name (case-insensitive; ``twitter`` means ``x``).

    Parameters
    ----------
    name : str or PlatformProfile
        A name from :data:`PROFILES`; a profile is returned as it is.

    Returns
    -------
    PlatformProfile

    Raises
    ------
    InputError
        No profile has that name; the message lists the names.
    """
    if isinstance(name, PlatformProfile):
        return name
    key = str(name).strip().lower()
    key = {"twitter": "x"}.get(key, key)
    try:
        return PROFILES[key]
    except KeyError:
        raise InputError(
            f"No platform profile named {name!r}; choose one of {', '.join(PROFILES)}.",
            hint="`picveil platforms` lists the profiles and their sources.",
        ) from None


def profiles_markdown(*, with_sources: bool = True) -> str:
    """The profiles as a Markdown table (for the README), sources numbered below.

    Parameters
    ----------
    with_sources : bool
        Append the numbered list of sources that the table's last column cites.

    Returns
    -------
    str
        Markdown text ending with a newline.
    """
    sources: list[str] = []
    for p in PROFILES.values():
        for s in p.sources:
            if s not in sources:
                sources.append(s)
    lines = [
        "| profile | long edge (px) | shapes shown whole | reported quality | subsampling | serves "
        "| strips metadata | `fit` encodes at | sources |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in PROFILES.values():
        refs = ", ".join(f"[{sources.index(s) + 1}]" for s in p.sources)
        lines.append(
            f"| `{p.name}` ({p.title}) | {p.max_long_edge} | {p.aspect_text} | {p.quality_text} | {p.subsampling} "
            f"| {', '.join(p.formats_served)} | {'yes' if p.strips_metadata else 'no'} "
            f"| {p.fit_edge} px, q{p.jpeg_quality}, {p.subsampling}, baseline | {refs} |"
        )
    if with_sources:
        lines.append("")
        lines += [f"{i}. {s}" for i, s in enumerate(sources, 1)]
    return "\n".join(lines) + "\n"
