"""Draws a sequence diagram (.seq text) as SVG; make docs runs it.

usage: python3 docs/figures/seqdiag.py INPUT.seq OUTPUT.svg

One statement per line; each takes the next row of the diagram, unless it
starts with "&", which puts it on the same row as the statement before.
Text goes in double quotes, where \\n is a line break, \\" a quote and
\\\\ a backslash. "#" starts a comment.

  title "text"              a caption under the diagram
  spacing N                 N pixels between two lanes (default 300)
  panel "text"              starts a new panel to the right (a heading above it)
  lane ID "label"           a participant (a vertical line), left to right
  state ID "text"           a box on a lane: the state it is in from here on
  msg FROM TO "text"        an arrow from one lane to the other, label above it
  lost FROM TO "text"       an arrow that stops half way (a lost message)
  note ID "text"            text beside the lane, on the outer side
  span "text"               text centred between the lanes (a pause, a remark)
  gap                       an empty row

The output depends only on the input, so that make docs gives the same
file every time and the committed SVG can be checked against its source.
"""

import re
import sys
from xml.sax.saxutils import escape

ROW = 26            # height of a row
FONT = 12           # font size, px
CHAR = 6.9          # estimated width of one character at FONT, px
LANE_GAP = 300      # distance between two lanes
PAD = 16            # margin around everything
SLOPE = 14          # how far an arrow drops between its ends
FAMILY = "Helvetica,Arial,sans-serif"
COLOURS = {"state": "#eef3fb", "state_line": "#4a6fa5", "arrow": "#333333",
           "lost": "#b03a2e", "note": "#555555", "lane": "#999999"}


TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')


def tokens(line):
    """The words of a line; quoted text with its escapes undone."""
    words = []
    for quoted, bare in TOKEN.findall(line):
        if bare:
            words.append(bare)
        else:
            words.append(re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1),
                                quoted))
    return words


def text_width(text):
    return max(len(line) for line in text.split("\n")) * CHAR


def parse(path):
    """Returns (title, panels); a panel is {"title", "lanes", "rows", "spacing"}."""
    title, panels, spacing = "", [], LANE_GAP
    for number, raw in enumerate(open(path, encoding="utf-8"), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        same_row = line.startswith("&")
        words = tokens(line.lstrip("&").strip())
        kind, args = words[0], words[1:]
        if kind == "title":
            title = args[0]
            continue
        if kind == "spacing":
            spacing = int(args[0])
            continue
        if kind == "panel" or not panels:
            panels.append({"title": args[0] if kind == "panel" else "", "lanes": [],
                           "rows": [], "spacing": spacing})
            if kind == "panel":
                continue
        panel = panels[-1]
        if kind == "lane":
            panel["lanes"].append((args[0], args[1]))
            continue
        expected = {"state": 2, "msg": 3, "lost": 3, "note": 2, "span": 1, "gap": 0}
        if kind not in expected or len(args) != expected[kind]:
            sys.exit(f"{path}:{number}: cannot read {line!r}")
        if same_row and panel["rows"]:
            panel["rows"][-1].append((kind, args))
        else:
            panel["rows"].append([(kind, args)])
    return title, panels


def margins(panel):
    """Room needed left of the first lane and right of the last one."""
    ids = [lane_id for lane_id, _ in panel["lanes"]]
    left = right = 40.0
    for row in panel["rows"]:
        for kind, args in row:
            if kind == "note":
                width = text_width(args[1]) + 14 + max(
                    (text_width(a[1]) / 2 + 6 for k, a in row if k == "state" and a[0] == args[0]),
                    default=0)
                if args[0] == ids[0]:
                    left = max(left, width)
                else:
                    right = max(right, width)
            if kind == "state":
                left = max(left, text_width(args[1]) / 2 + 12)
                right = max(right, text_width(args[1]) / 2 + 12)
    return left, right


def svg_text(x, y, text, anchor="middle", colour="#000000", weight="normal"):
    lines = text.split("\n")
    y0 = y - (len(lines) - 1) * FONT * 0.6
    out = []
    for i, line in enumerate(lines):
        out.append(f'<text x="{x:.1f}" y="{y0 + i * FONT * 1.2:.1f}" text-anchor="{anchor}" '
                   f'fill="{colour}" font-weight="{weight}">{escape(line)}</text>')
    return "\n".join(out)


def draw_panel(panel, x0, y0):
    """SVG elements of one panel whose top-left corner is (x0, y0); and its
    (width, height)."""
    left, right = margins(panel)
    gap = panel["spacing"]
    xs = {lane_id: x0 + left + i * gap for i, (lane_id, _) in enumerate(panel["lanes"])}
    ids = [lane_id for lane_id, _ in panel["lanes"]]
    width = left + (len(ids) - 1) * gap + right
    out, y = [], y0
    if panel["title"]:
        out.append(svg_text(x0 + width / 2, y + FONT, panel["title"], weight="bold"))
        y += ROW
    for lane_id, label in panel["lanes"]:
        out.append(svg_text(xs[lane_id], y + FONT, label, weight="bold"))
    top = y + ROW * 0.8
    y = top + ROW * 0.6
    bottom = top + ROW * (len(panel["rows"]) + 0.6)
    for lane_id in ids:
        out.append(f'<line x1="{xs[lane_id]:.1f}" y1="{top:.1f}" x2="{xs[lane_id]:.1f}" '
                   f'y2="{bottom:.1f}" stroke="{COLOURS["lane"]}" stroke-dasharray="4 3"/>')
    for row in panel["rows"]:
        # A note beside a state box on the same row starts after the box.
        boxes = {args[0]: text_width(args[1]) / 2 + 6 for kind, args in row if kind == "state"}
        for kind, args in row:
            out.extend(draw_item(kind, args, xs, ids, y, boxes))
        y += ROW
    return out, width, bottom - y0 + PAD / 2


def draw_item(kind, args, xs, ids, y, boxes):
    if kind == "state":
        x, w = xs[args[0]], text_width(args[1]) + 12
        h = FONT * 1.2 * (args[1].count("\n") + 1) + 6
        return [f'<rect x="{x - w / 2:.1f}" y="{y - h / 2:.1f}" width="{w:.1f}" height="{h:.1f}" '
                f'rx="4" fill="{COLOURS["state"]}" stroke="{COLOURS["state_line"]}"/>',
                svg_text(x, y + FONT * 0.35, args[1], colour="#1d3557")]
    if kind in ("msg", "lost"):
        x1, x2 = xs[args[0]], xs[args[1]]
        if kind == "lost":
            x2 = x1 + (x2 - x1) * 0.55
        y1, y2 = y - SLOPE / 2, y + SLOPE / 2
        colour = COLOURS["lost"] if kind == "lost" else COLOURS["arrow"]
        head = arrow_head(x1, y1, x2, y2, colour) if kind == "msg" else lost_mark(x2, y2, colour)
        label_x = (x1 + x2) / 2
        return [f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                f'stroke="{colour}" stroke-width="1.3"/>', head,
                svg_text(label_x, y - 4, args[2], colour=colour)]
    if kind == "note":
        x, offset = xs[args[0]], 12 + boxes.get(args[0], 0)
        if args[0] == ids[0]:
            return [svg_text(x - offset, y + FONT * 0.35, args[1], "end", COLOURS["note"])]
        return [svg_text(x + offset, y + FONT * 0.35, args[1], "start", COLOURS["note"])]
    if kind == "span":
        middle = (xs[ids[0]] + xs[ids[-1]]) / 2
        return [svg_text(middle, y + FONT * 0.35, args[0], colour=COLOURS["note"])]
    return []


def arrow_head(x1, y1, x2, y2, colour):
    dx, dy = x2 - x1, y2 - y1
    length = (dx * dx + dy * dy) ** 0.5
    ux, uy = dx / length, dy / length
    size = 8
    bx, by = x2 - ux * size, y2 - uy * size
    px, py = -uy * size * 0.45, ux * size * 0.45
    return (f'<polygon points="{x2:.1f},{y2:.1f} {bx + px:.1f},{by + py:.1f} '
            f'{bx - px:.1f},{by - py:.1f}" fill="{colour}"/>')


def lost_mark(x, y, colour):
    s = 5
    return (f'<path d="M {x - s:.1f} {y - s:.1f} L {x + s:.1f} {y + s:.1f} M {x - s:.1f} '
            f'{y + s:.1f} L {x + s:.1f} {y - s:.1f}" stroke="{colour}" stroke-width="2"/>')


def render(title, panels):
    parts, x, height = [], PAD, 0.0
    for panel in panels:
        items, width, panel_height = draw_panel(panel, x, PAD)
        parts.extend(items)
        x += width + PAD * 2
        height = max(height, panel_height)
    width = x - PAD
    if title:
        parts.append(svg_text(width / 2, PAD + height + FONT, title, colour="#333333"))
        height += ROW
    total_w, total_h = width + 0.0, PAD * 2 + height
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w:.0f}" '
            f'height="{total_h:.0f}" viewBox="0 0 {total_w:.0f} {total_h:.0f}" '
            f'font-family="{FAMILY}" font-size="{FONT}" xml:space="preserve">\n'
            f'<!-- Drawn by docs/figures/seqdiag.py; edit the .seq file, then make docs -->\n'
            f'<rect width="100%" height="100%" fill="#ffffff"/>')
    return head + "\n" + "\n".join(parts) + "\n</svg>\n"


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: seqdiag.py INPUT.seq OUTPUT.svg")
    title, panels = parse(argv[1])
    with open(argv[2], "w", encoding="utf-8") as out:
        out.write(render(title, panels))


if __name__ == "__main__":
    main(sys.argv)
