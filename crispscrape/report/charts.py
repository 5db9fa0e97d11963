"""Graphiques du rapport : du SVG écrit en Python, placé tel quel dans la page.

Aucune bibliothèque, aucun script : le rapport s'ouvre hors ligne et s'imprime. Chaque
graphique a un titre accessible (``aria-label``) et une infobulle (``<title>``) par barre ou
par case ; chaque texte venu des données passe par ``html.escape``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

COLOR = "#2f6fb3"
SECOND = "#d9822b"
FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def _svg(width: int, height: int, label: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{escape(label)}" {FONT}>' + "".join(body) + "</svg>")


def _number(value: float) -> str:
    return f"{value:,.0f}".replace(",", "\u202f")


def bars(points: Sequence[tuple[str, float]], label: str, color: str = COLOR,
         width: int = 720, height: int = 220,
         value_text: Callable[[float], str] = _number) -> str:
    """Barres verticales (une par point), étiquettes de l'axe éclaircies, maximum indiqué."""
    left, bottom, top = 46, 34, 12
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = max((value for _, value in points), default=0) or 1
    step = plot_w / max(1, len(points))
    every = max(1, -(-len(points) // 8))  # au plus 8 étiquettes lisibles
    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}" '
            'stroke="#999"/>',
            f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{escape(value_text(peak))}</text>',
            f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>']
    for index, (name, value) in enumerate(points):
        bar_h = plot_h * value / peak
        x = left + index * step
        body.append(f'<rect x="{x + step * 0.1:.1f}" y="{top + plot_h - bar_h:.1f}" '
                    f'width="{max(1.0, step * 0.8):.1f}" height="{bar_h:.1f}" fill="{color}">'
                    f'<title>{escape(name)} : {escape(value_text(value))}</title></rect>')
        if index % every == 0:
            body.append(f'<text x="{x + step / 2:.1f}" y="{height - bottom + 14}" '
                        f'text-anchor="middle">{escape(name)}</text>')
    return _svg(width, height, label, body)


def line(points: Sequence[tuple[str, float]], label: str, value_text: Callable[[float], str],
         width: int = 720, height: int = 220) -> str:
    """Courbe d'une valeur dans le temps (un point par semaine), avec ses points."""
    left, bottom, top = 60, 34, 12
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = max((value for _, value in points), default=0) or 1
    step = plot_w / max(1, len(points) - 1)
    every = max(1, -(-len(points) // 8))  # au plus 8 étiquettes lisibles
    coords = [(left + index * step, top + plot_h - plot_h * value / peak)
              for index, (_, value) in enumerate(points)]
    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}" '
            'stroke="#999"/>',
            f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{escape(value_text(peak))}</text>',
            f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>']
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        body.append(f'<polyline points="{path}" fill="none" stroke="{SECOND}" stroke-width="2"/>')
    for index, ((name, value), (x, y)) in enumerate(zip(points, coords, strict=True)):
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{SECOND}">'
                    f'<title>{escape(name)} : {escape(value_text(value))}</title></circle>')
        if index % every == 0:
            body.append(f'<text x="{x:.1f}" y="{height - bottom + 14}" text-anchor="middle">'
                        f'{escape(name)}</text>')
    return _svg(width, height, label, body)


def hbars(points: Sequence[tuple[str, float]], label: str, color: str = COLOR,
          width: int = 720) -> str:
    """Barres horizontales nommées, la valeur écrite au bout de chaque barre."""
    row, name_w = 22, 180
    height = max(row, row * len(points)) + 8
    peak = max((value for _, value in points), default=0) or 1
    plot_w = width - name_w - 70
    body = []
    for index, (name, value) in enumerate(points):
        y = 4 + index * row
        bar_w = plot_w * value / peak
        short = name if len(name) <= 28 else name[:27] + "…"
        body.append(f'<text x="{name_w - 6}" y="{y + 14}" text-anchor="end">{escape(short)}</text>'
                    f'<rect x="{name_w}" y="{y + 3}" width="{max(1.0, bar_w):.1f}" height="{row - 6}" '
                    f'fill="{color}"><title>{escape(name)} : {_number(value)}</title></rect>'
                    f'<text x="{name_w + bar_w + 6:.1f}" y="{y + 14}">{_number(value)}</text>')
    return _svg(width, height, label, body)


def heatmap(matrix: Sequence[Sequence[int]], rows: Sequence[str], label: str,
            width: int = 720) -> str:
    """Carte de chaleur jours × heures : plus la case est foncée, plus il y a de messages."""
    left, top = 40, 18
    cell_w = (width - left - 8) / 24
    cell_h = 22
    height = top + cell_h * len(rows) + 6
    peak = max((value for row in matrix for value in row), default=0) or 1
    body = [f'<text x="{left + hour * cell_w + cell_w / 2:.1f}" y="{top - 5}" '
            f'text-anchor="middle">{hour}</text>' for hour in range(0, 24, 2)]
    for day, name in enumerate(rows):
        y = top + day * cell_h
        body.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{escape(name)}</text>')
        for hour in range(24):
            value = matrix[day][hour]
            shade = 0.06 + 0.94 * value / peak
            body.append(f'<rect x="{left + hour * cell_w:.1f}" y="{y}" width="{cell_w - 1:.1f}" '
                        f'height="{cell_h - 1}" fill="{COLOR}" fill-opacity="{shade:.2f}">'
                        f'<title>{escape(name)} {hour} h : {_number(value)}</title></rect>')
    return _svg(width, height, label, body)


def share(part: int, whole: int, label: str, width: int = 360) -> str:
    """Une part d'un tout : barre remplie à proportion, pourcentage écrit à côté."""
    ratio = part / whole if whole else 0.0
    bar_w = width - 70
    body = [f'<rect x="0" y="4" width="{bar_w}" height="18" fill="#e3e8ef"/>',
            f'<rect x="0" y="4" width="{bar_w * ratio:.1f}" height="18" fill="{COLOR}">'
            f'<title>{escape(label)} : {part} / {whole}</title></rect>',
            f'<text x="{bar_w + 8}" y="18">{100 * ratio:.0f} %</text>']
    return _svg(width, 26, label, body)
