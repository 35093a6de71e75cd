"""``picveil detect``: list candidate regions, write regions.json and a preview.

``main.py`` calls :func:`register` at its end; nothing heavy is imported
until the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

CLASS_COLOURS = {"face": (255, 64, 64), "text": (64, 160, 255), "plate": (255, 200, 0), "person": (64, 220, 120)}
PREVIEW_MAX_SIDE = 2048


def _parse_classes(text: str) -> list[str]:
    from ..errors import RegionError
    from ..regions.detectors import canonical_class

    out = []
    for part in text.split(","):
        if not part.strip():
            continue
        try:
            out.append(canonical_class(part))
        except ValueError as exc:
            raise RegionError(str(exc), hint="--classes takes a comma-separated list: faces,text,plates,people.") from None
    if not out:
        raise RegionError("--classes is empty.", hint="e.g. --classes faces,plates")
    return out


def draw_preview(rgb, detections, *, max_side: int = PREVIEW_MAX_SIDE):
    """A Pillow image of ``rgb`` (stored pixels) with numbered boxes, the long
    side shrunk to at most ``max_side``. Ids are 1-based, in list order."""
    from PIL import Image, ImageDraw, ImageFont

    im = Image.fromarray(rgb)
    s = min(1.0, max_side / max(im.size))
    if s < 1.0:
        im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(im)
    size = max(12, round(max(im.size) / 60))
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    line = max(2, round(max(im.size) / 500))
    for i, d in enumerate(detections, start=1):
        b = d.box
        colour = CLASS_COLOURS.get(d.cls, (255, 255, 255))
        x0, y0, x1, y1 = b.x * s, b.y * s, (b.x + b.w) * s - 1, (b.y + b.h) * s - 1
        draw.rectangle([x0, y0, x1, y1], outline=colour, width=line)
        label = str(i)
        tx0, ty0, tx1, ty1 = draw.textbbox((0, 0), label, font=font)
        tw, th = tx1 - tx0 + 6, ty1 - ty0 + 6
        ly = y0 - th if y0 - th >= 0 else y0
        draw.rectangle([x0, ly, x0 + tw, ly + th], fill=colour)
        draw.text((x0 + 3 - tx0, ly + 3 - ty0), label, fill=(0, 0, 0), font=font)
    return im


def detect_command(
    image: Path = typer.Argument(..., help="Photo to search (JPEG, PNG, ...)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the regions here (regions.json, editable)."),
    preview: Optional[Path] = typer.Option(None, "--preview", help="Write a PNG with numbered boxes here."),
    classes: str = typer.Option("faces,text,plates,people", "--classes", "-c", help="Comma-separated: faces,text,plates,people."),
    min_score: Optional[float] = typer.Option(None, "--min-score", min=0.0, max=1.0, help="Drop weaker detections (default: per class)."),
    min_face: float = typer.Option(20.0, "--min-face", min=4.0, help="Smallest face height to find, in pixels (smaller is slower; under 20 the picture is enlarged)."),
    force: bool = typer.Option(False, "--force", help="Replace existing --json/--preview files."),
) -> None:
    """List the faces, text, plates and people in IMAGE that picveil would protect."""
    from rich.console import Console
    from rich.table import Table

    from ..api import _check_output, format_for_output, write_atomic
    from ..regions import regionsfile
    from ..regions.detectors import detect, load_image

    out, err = Console(highlight=False), Console(stderr=True, highlight=False, soft_wrap=True)
    wanted = _parse_classes(classes)
    dsts = [p for p in (json_out, preview) if p is not None]
    for p in dsts:
        _check_output(p, image, force)
    if preview is not None:
        format_for_output(preview, ("png",), "The preview")
    rgb, orientation = load_image(image)
    height, width = rgb.shape[:2]
    found = detect(rgb, wanted, min_score=min_score, min_face=min_face, orientation=orientation)
    doc = regionsfile.from_detections(found, width, height)
    if found:
        t = Table(title=f"{len(found)} region(s) in {image.name} ({width}×{height})", title_justify="left")
        for col in ("id", "class", "score", "box (x,y,w,h)", "source"):
            t.add_column(col, justify="right" if col in ("id", "score") else "left")
        for e in doc.regions:
            t.add_row(str(e.id), e.cls, f"{e.score:.2f}", str(e.box), e.source)
        out.print(t)
    else:
        err.print(f"No {', '.join(wanted)} found in {image} (at the score thresholds used).")
    if json_out is not None:
        regionsfile.write(json_out, doc)
        err.print(f"Wrote {json_out}")
    if preview is not None:
        from io import BytesIO

        buf = BytesIO()
        draw_preview(rgb, found).save(buf, format="PNG")
        write_atomic(preview, buf.getvalue())
        err.print(f"Wrote {preview}")


def register(app: typer.Typer) -> None:
    """Add ``detect`` to ``app`` with picveil's error reporting."""
    from .main import _reports_errors

    app.command("detect")(_reports_errors(detect_command))
