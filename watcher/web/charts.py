"""Charts as inline SVG: no script, no external file, every label escaped."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

_BAR = Markup('<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}"><title>{}: {}</title></rect>')
_SVG = Markup(
    '<svg class="bars" role="img" aria-label="{}" width="{}" height="{}" viewBox="0 0 {} {}" '
    'xmlns="http://www.w3.org/2000/svg"><line x1="0" y1="{}" x2="{}" y2="{}" class="axis"/>{}</svg>'
)


def bars(values: Sequence[tuple[str, int]], *, width: int = 240, height: int = 36, label: str = "") -> Markup:
    """A bar per (day, count), oldest first, each with a tooltip; the tallest bar fills the height."""
    if not values:
        return Markup("")
    top = max(count for _, count in values) or 1
    step = width / len(values)
    gap = 1 if step > 3 else 0
    rects = Markup("").join(
        _BAR.format(
            i * step,
            height - (h := 0 if count == 0 else max(1.5, count / top * (height - 2))),
            max(step - gap, 1),
            h,
            day,
            int(count),
        )
        for i, (day, count) in enumerate(values)
    )
    axis = height - 0.5
    return _SVG.format(label, width, height, width, height, axis, width, axis, rects)
