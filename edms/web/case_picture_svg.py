"""The case picture drawn as SVG on the server: the records as a flow and the deadlines on a time line.

Plain SVG, no script: it prints, scales with the page and reads in both languages. Colour is never the only
sign of a state: each box says its state in words with a symbol, blocked boxes are dashed and records not
needed dotted; every box and mark carries a <title>, and each picture a <title> and a <desc> that say in
sentences what it shows (for screen readers and for paper, where the checklist text follows anyway).
"""
from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from flask import url_for
from flask_babel import gettext as _
from markupsafe import Markup, escape

from edms.application.case_picture import (
    BLOCKED,
    DONE,
    NOT_NEEDED,
    OPEN,
    TO_CREATE,
    TO_FINISH,
    TO_SIGN,
    CasePicture,
    FlowNode,
    TimelineMark,
)
from edms.cases.deadlines import BREACHED, DUE_SOON, MET, OVERDUE
from edms.errors import N_
from edms.users.roles import ROLE_LABELS

WIDTH = 1060  # the page's content width (main: 1100 px less its padding)
BOX_W, BOX_H, GAP_X, GAP_Y = 196, 104, 34, 14
FONT = 13
SYMBOLS = {DONE: "✓", OPEN: "●", BLOCKED: "✕", NOT_NEEDED: "–"}


STATE_WORDS = {DONE: N_("Done"), OPEN: N_("Open"), BLOCKED: N_("Blocked"), NOT_NEEDED: N_("Not needed")}


def state_word(state: str) -> str:
    return _(STATE_WORDS[state])  # the one word asked for, translated (not all four each time)


def _char_width(char: str) -> float:
    return 1.0 if unicodedata.east_asian_width(char) in ("W", "F") else 0.62


@lru_cache(maxsize=16384)
def text_width(text: str, size: int = FONT) -> float:
    """The text's width in pixels (a pure function: measured once per text and size, not per request)."""
    return sum(_char_width(c) for c in text) * size


def wrap(text: str, width: float, size: int = FONT, lines: int = 2) -> list[str]:
    """`text` in at most `lines` lines of `width` pixels: Latin words are kept whole, Japanese breaks between
    characters (as Japanese typesetting does); the last line ends with "…" when the text is cut."""
    out: list[str] = []
    current = ""
    for token in _tokens(text):
        candidate = current + token
        if current and text_width(candidate.rstrip(), size) > width:
            out.append(current.rstrip())
            current = token.lstrip()
        else:
            current = candidate
    if current.strip():
        out.append(current.rstrip())
    if len(out) > lines:
        out = out[:lines]
        last = out[-1]
        while last and text_width(last + "…", size) > width:
            last = last[:-1]
        out[-1] = last + "…"
    return out


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    word = ""
    for char in text:
        if _char_width(char) == 1.0:  # a wide character may end a line on either side
            if word:
                tokens.append(word)
                word = ""
            tokens.append(char)
        elif char == " ":
            tokens.append(word + " ")
            word = ""
        else:
            word += char
    if word:
        tokens.append(word)
    return tokens


def _text(x: float, y: float, lines: list[str], *, cls: str = "", size: int = FONT, anchor: str = "start") -> str:
    spans = "".join(f'<tspan x="{x:.0f}" dy="{0 if i == 0 else size + 3}">{escape(line)}</tspan>'
                    for i, line in enumerate(lines))
    return (f'<text x="{x:.0f}" y="{y:.0f}" font-size="{size}" text-anchor="{anchor}"'
            f'{f" class={chr(34)}{cls}{chr(34)}" if cls else ""}>{spans}</text>')


# --- the flow ------------------------------------------------------------------------------------------------

def who_next(node: FlowNode) -> str:
    """Who acts next, as a person reads it: the named person where there is one, else the roles."""
    if node.people:
        return ", ".join(node.people)
    return ", ".join(_(ROLE_LABELS[role]) if role in ROLE_LABELS else role for role in node.roles)


def what_next(node: FlowNode, language: str) -> str:
    if node.waiting_for == TO_CREATE:
        return _("to write")
    if node.waiting_for == TO_FINISH:
        return _("draft to finish")
    if node.waiting_for == TO_SIGN and node.step is not None:
        return node.step.text(language)
    return ""


def describe_node(node: FlowNode, language: str) -> str:
    """One sentence per box, for its <title> and the picture's description."""
    parts = [node.label.text(language), state_word(node.state)]
    if node.numbers:
        parts.append(", ".join(node.numbers))
    if node.state in (OPEN, BLOCKED):
        what, who = what_next(node, language), who_next(node)
        if what:
            parts.append(what)
        if who:
            parts.append(_("next: %(who)s", who=who))
        parts.extend(reason.text(language) for reason in node.reasons)
    return " · ".join(parts)


def flow_svg(picture: CasePicture, language: str) -> Markup:
    columns = max(picture.columns, 1)
    box_w = min(BOX_W, (WIDTH - (columns - 1) * GAP_X) / columns)
    rows: dict[int, int] = {}
    places: dict[str, tuple[float, float]] = {}
    for node in picture.nodes:
        row = rows.get(node.column, 0)
        rows[node.column] = row + 1
        places[node.type_key] = (node.column * (box_w + GAP_X), 8 + row * (BOX_H + GAP_Y))
    height = 16 + max(rows.values(), default=1) * (BOX_H + GAP_Y)
    width = columns * box_w + (columns - 1) * GAP_X
    counts = picture.counts()
    summary = _("%(done)d done, %(open)d open, %(blocked)d blocked, %(not_needed)d not needed.", **counts)
    description = summary + " " + " ".join(describe_node(node, language) + "." for node in picture.nodes)
    title = _("Records of case %(reference)s", reference=picture.reference)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="case-flow" class="case-flow" role="img" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="100%" aria-labelledby="case-flow-title case-flow-desc" '
        f'data-done="{counts[DONE]}" data-open="{counts[OPEN]}" data-blocked="{counts[BLOCKED]}">',
        f'<title id="case-flow-title">{escape(title)}</title>',
        f'<desc id="case-flow-desc">{escape(description)}</desc>',
        '<defs><marker id="flow-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrow-head"/></marker></defs>',
    ]
    for node in picture.nodes:  # arrows first, so the boxes lie on top
        x, y = places[node.type_key]
        for before in node.prerequisites:
            if before not in places:
                continue
            bx, by = places[before]
            x1, y1, x2, y2 = bx + box_w, by + BOX_H / 2, x - 2, y + BOX_H / 2
            mid = (x1 + x2) / 2
            parts.append(f'<path class="flow-edge" d="M{x1:.0f},{y1:.0f} C{mid:.0f},{y1:.0f} {mid:.0f},{y2:.0f} '
                         f'{x2:.0f},{y2:.0f}" marker-end="url(#flow-arrow)"/>')
    for node in picture.nodes:
        parts.append(_box(node, places[node.type_key], box_w, language))
    parts.append("</svg>")
    return Markup("".join(parts))


def _box(node: FlowNode, place: tuple[float, float], box_w: float, language: str) -> str:
    x, y = place
    inner = box_w - 16
    label = wrap(node.label.text(language), inner, FONT, lines=2)
    state = f"{SYMBOLS[node.state]} {state_word(node.state)}"
    what = what_next(node, language) if node.state in (OPEN, BLOCKED) else ""
    if what:
        state += f" · {what}"
    elif node.numbers and node.state != NOT_NEEDED:
        state += " · " + node.numbers[-1]
    lines = [_text(x + 8, y + 18, label, cls="node-label")]
    lines.append(_text(x + 8, y + 20 + 2 * (FONT + 3), wrap(state, inner, 12, lines=1), cls="node-state", size=12))
    who = who_next(node) if node.state in (OPEN, BLOCKED) else ""
    if who:
        lines.append(_text(x + 8, y + 20 + 3 * (FONT + 3) + 2, wrap(f"→ {who}", inner, 11, lines=2), cls="node-next",
                           size=11))
    box = (f'<g id="picture-node-{escape(node.type_key)}" class="node state-{node.state}" data-state="{node.state}" '
           f'data-waiting="{node.waiting_for or ""}">'
           f'<title>{escape(describe_node(node, language))}</title>'
           f'<rect x="{x:.0f}" y="{y:.0f}" width="{box_w:.0f}" height="{BOX_H}" rx="6"/>{"".join(lines)}</g>')
    if not node.document_ids:
        return box
    # The box opens the newest record of its type.
    return f'<a href="{escape(url_for("documents.detail", document_id=node.document_ids[-1]))}">{box}</a>'


# --- the time line -------------------------------------------------------------------------------------------

LABEL_W, ROW_H, AXIS_TOP = 330, 34, 30
MARK_CLASS = {OVERDUE: "overdue", BREACHED: "overdue", DUE_SOON: "due-soon", MET: "met"}


def _tick(moment: datetime, zone: str) -> str:
    return f"{moment.astimezone(ZoneInfo(zone)):%m-%d %H:%M}"


def describe_mark(mark: TimelineMark, zone: str, language: str) -> str:
    parts = [mark.label.text(language), mark.state_label.text(language), mark.human.text(language)]
    if mark.due_at is not None:
        local = mark.due_at.astimezone(ZoneInfo(zone))
        parts.insert(1, (_("not before %(when)s", when=f"{local:%Y-%m-%d %H:%M} {local.tzname()}") if mark.not_before
                         else _("due %(when)s", when=f"{local:%Y-%m-%d %H:%M} {local.tzname()}")))
    return " · ".join(parts)


def timeline_svg(picture: CasePicture, language: str) -> Markup:
    marks = picture.marks
    zone = picture.site_zone
    dated = [m.due_at for m in picture.dated_marks if m.due_at is not None]
    lo, hi = min([picture.now, *dated]), max([picture.now, *dated])
    hi = max(hi, lo + timedelta(days=1))  # at least a day ahead, so "now" is not the whole line
    span = hi - lo
    lo, hi = lo - span * 0.04, hi + span * 0.04
    axis_x0, axis_x1 = LABEL_W + 10, WIDTH - 90

    def x_of(moment: datetime) -> float:
        return axis_x0 + (axis_x1 - axis_x0) * ((moment - lo) / (hi - lo))

    height = AXIS_TOP + max(len(marks), 1) * ROW_H + (30 if marks else 0)
    local_now = picture.now.astimezone(ZoneInfo(zone))
    description = (" ".join(describe_mark(m, zone, language) + "." for m in marks)
                   or _("No deadline of this case is running yet."))
    title = _("Deadlines of case %(reference)s, times at the treating site (%(zone)s)", reference=picture.reference,
              zone=f"{zone}, {local_now.tzname()}")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="case-timeline" class="case-timeline" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" aria-labelledby="case-timeline-title case-timeline-desc">',
        f'<title id="case-timeline-title">{escape(title)}</title>',
        f'<desc id="case-timeline-desc">{escape(description)}</desc>',
    ]
    if not marks:
        parts.append(_text(0, AXIS_TOP + 20, [description], cls="mark-waiting", size=12))
        parts.append("</svg>")
        return Markup("".join(parts))
    ticks = 5
    for i in range(ticks):
        moment = lo + (hi - lo) * (i / (ticks - 1))
        x = x_of(moment)
        parts.append(f'<line class="tick" x1="{x:.0f}" y1="{AXIS_TOP - 6}" x2="{x:.0f}" y2="{height - 24}"/>')
        parts.append(_text(x, AXIS_TOP - 10, [_tick(moment, zone)], cls="tick-label", size=11, anchor="middle"))
    now_x = x_of(picture.now)
    parts.append(f'<line class="now" x1="{now_x:.0f}" y1="{AXIS_TOP - 4}" x2="{now_x:.0f}" y2="{height - 18}"/>')
    parts.append(_text(now_x, height - 4, [_("now") + f" {_tick(picture.now, zone)}"], cls="now-label", size=11,
                       anchor="middle"))
    for row, mark in enumerate(marks):
        y = AXIS_TOP + row * ROW_H + ROW_H / 2
        cls = MARK_CLASS.get(mark.state, mark.state.replace("_", "-"))
        item = [f'<g id="picture-deadline-{escape(mark.key)}-{row}" class="mark mark-{cls}" data-state="{mark.state}">',
                f'<title>{escape(describe_mark(mark, zone, language))}</title>',
                _text(0, y + 4, wrap(mark.label.text(language), LABEL_W - 4, 12, lines=1), cls="mark-label", size=12)]
        if mark.due_at is None:
            item.append(_text(axis_x0, y + 4, wrap(mark.human.text(language), axis_x1 - axis_x0, 12, lines=1),
                              cls="mark-waiting", size=12))
        else:
            due_x = x_of(mark.due_at)
            if mark.time_left is not None:  # still open: a bar for the time left (or the time it is overdue)
                a, b = sorted((now_x, due_x))
                item.append(f'<rect class="left" x="{a:.0f}" y="{y - 5:.0f}" width="{max(b - a, 1):.0f}" height="10"/>')
            shape = (f'<rect class="due" x="{due_x - 6:.0f}" y="{y - 6:.0f}" width="12" height="12" '
                     f'transform="rotate(45 {due_x:.0f} {y:.0f})"/>' if mark.not_before else
                     f'<circle class="due" cx="{due_x:.0f}" cy="{y:.0f}" r="6"/>')
            item.append(shape)
            text = f"{mark.state_label.text(language)} · {mark.human.text(language)}"
            right = due_x + 10 + text_width(text, 12) < WIDTH
            item.append(_text(due_x + 10 if right else due_x - 10, y - 8, [text], cls="mark-left", size=12,
                              anchor="start" if right else "end"))
        item.append("</g>")
        parts.append("".join(item))
    parts.append("</svg>")
    return Markup("".join(parts))
