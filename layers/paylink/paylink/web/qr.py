"""QR codes of link URLs, as SVG and PNG (qrcode is imported only here, off the click path)."""

from __future__ import annotations

import io


def qr_svg(url: str) -> str:
    """A standalone SVG QR code of `url`."""
    import qrcode
    from qrcode.image.svg import SvgPathImage

    image = qrcode.make(url, image_factory=SvgPathImage, border=2, box_size=10)
    return image.to_string(encoding="unicode")


def qr_png(url: str) -> bytes:
    """A PNG QR code of `url` (pure-Python encoder: no native code in the layer)."""
    import qrcode
    from qrcode.image.pure import PyPNGImage

    buffer = io.BytesIO()
    qrcode.make(url, image_factory=PyPNGImage, border=2, box_size=10).save(buffer)
    return buffer.getvalue()
