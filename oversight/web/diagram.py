"""Draw a case type's state table as SVG, locally and without JavaScript.

States are laid out in columns by their distance from the initial state; each edge is a
curve labelled with its action. The drawing is made from the table itself, so it can never
disagree with what the system does.
"""

from __future__ import annotations

from collections import deque
from xml.sax.saxutils import escape

from workflows.engine import CaseType

BOX_W, BOX_H, COL_W, ROW_H, PAD = 150, 40, 230, 70, 30


def _layers(spec: CaseType) -> dict:
    depth = {spec.initial: 0}
    queue = deque([spec.initial])
    while queue:
        s = queue.popleft()
        for src, dst, _t in spec.edges():
            if src is s and dst not in depth:
                depth[dst] = depth[s] + 1
                queue.append(dst)
    for s in spec.states:
        depth.setdefault(s, max(depth.values()) + 1)
    return depth


def state_diagram_svg(spec: CaseType) -> str:
    depth = _layers(spec)
    columns: dict[int, list] = {}
    for s in spec.states:
        columns.setdefault(depth[s], []).append(s)
    pos = {}
    for col, states in columns.items():
        for row, s in enumerate(states):
            pos[s] = (PAD + col * COL_W, PAD + row * ROW_H)
    width = PAD * 2 + (max(columns) + 1) * COL_W
    height = PAD * 2 + max(len(v) for v in columns.values()) * ROW_H + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#555"/></marker></defs>',
    ]
    for i, (src, dst, t) in enumerate(spec.edges()):
        x1, y1 = pos[src]
        x2, y2 = pos[dst]
        sx, sy = x1 + BOX_W, y1 + BOX_H / 2
        ex, ey = x2, y2 + BOX_H / 2
        if x2 <= x1:  # backwards edge: loop below the boxes
            sx, sy, ex, ey = x1 + BOX_W / 2, y1 + BOX_H, x2 + BOX_W / 2, y2 + BOX_H
            bend = 30 + (i % 4) * 8
            path = f"M{sx},{sy} C{sx},{sy + bend} {ex},{ey + bend} {ex},{ey}"
            lx, ly = (sx + ex) / 2, max(sy, ey) + bend * 0.75
        else:
            mx = (sx + ex) / 2
            path = f"M{sx},{sy} C{mx},{sy} {mx},{ey} {ex},{ey}"
            lx, ly = mx, (sy + ey) / 2 - 3
        out.append(f'<path d="{path}" fill="none" stroke="#888" marker-end="url(#arrow)"/>')
        out.append(f'<text x="{lx:.0f}" y="{ly:.0f}" text-anchor="middle" fill="#333" '
                   f'font-size="10">{escape(t.label)}</text>')
    for s, (x, y) in pos.items():
        terminal = s in spec.terminal
        fill = "#eef2f7" if not terminal else "#e8e8e8"
        stroke = "#1f4e8c" if s is spec.initial else "#555"
        out.append(f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8" '
                   f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>')
        out.append(f'<text x="{x + BOX_W / 2}" y="{y + BOX_H / 2 + 4}" text-anchor="middle">'
                   f'{escape(s.label)}</text>')
    out.append("</svg>")
    return "\n".join(out)
