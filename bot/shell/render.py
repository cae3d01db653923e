"""Block Kit as terminal text, for `takedown-bot shell`: roughly what a Slack client shows.

Pure functions of a message's blocks (or its fallback text): headers, sections and their fields,
context lines, images by their alt text, links as `label (url)`, `<@U…>` as `@name`, mrkdwn
entities unescaped for display, and buttons numbered through a callback so the shell can press
them later. Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# A Slack client shows these as pictures; the bot uses a handful of them.
EMOJI = {
    "hourglass_flowing_sand": "⏳",
    "raising_hand": "🙋",
    "outbox_tray": "📤",
    "mag": "🔍",
    "white_check_mark": "✅",
    "x": "❌",
    "question": "❓",
    "grey_question": "❔",
    "warning": "⚠️",
    "leftwards_arrow_with_hook": "↩️",
    "repeat": "🔁",
    "clipboard": "📋",
    "thinking_face": "🤔",
    "bar_chart": "📊",
    "bell": "🔔",
    "rotating_light": "🚨",
    "alarm_clock": "⏰",
    "tada": "🎉",
    "email": "📧",
    "link": "🔗",
    "memo": "📝",
    "inbox_tray": "📥",
    "no_entry": "⛔",
    "hourglass": "⌛",
    "chart_with_upwards_trend": "📈",
    "speech_balloon": "💬",
}

_TOKEN = re.compile(r"<([^<>\n]+)>")
_EMOJI = re.compile(r":([a-z0-9_+-]+):")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])")
_FENCE = re.compile(r"```\n?(.*?)\n?```", re.DOTALL)
_FIELD = re.compile(r"^\*([^*\n]+)\*\n(.+)$", re.DOTALL)
_PLACEHOLDER = 0xE000  # private-use characters stand in for links while text is reformatted

ButtonNumber = Callable[[dict[str, Any], str], int]
"""Given a button element and its block id, the number the shell shows for it."""


@dataclass(frozen=True)
class Line:
    """One line of output and a rich style for it ("" for none)."""

    text: str
    style: str = ""


def unescape(text: str) -> str:
    """Undo Slack's mrkdwn escaping (`&lt;`, `&gt;`, then `&amp;`)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _entity(inner: str, users: Mapping[str, str]) -> str:
    """One `<…>` entity: a mention, a channel, a special mention, a date or a link."""
    target, _, label = inner.partition("|")
    label = unescape(label)
    if target.startswith("@"):
        user = target[1:]
        return "@" + (users.get(user) or label.lstrip("@") or user)
    if target.startswith("#"):
        return "#" + (label or target[1:])
    if target.startswith("!subteam^"):
        return label if label.startswith("@") else "@" + (label or target.removeprefix("!subteam^"))
    if target.startswith("!date^"):
        return label or target
    if target.startswith("!"):
        return "@" + target[1:]
    url = unescape(target)
    if url.startswith("mailto:"):
        return label or url.removeprefix("mailto:")
    if not label or label == url or url.startswith(label.rstrip("…")):
        return url
    return f"{label} ({url})"


def mrkdwn_to_text(text: str, *, users: Mapping[str, str] | None = None) -> str:
    """mrkdwn as plain terminal text: entities resolved, formatting marks dropped, unescaped."""
    users = users or {}
    entities: list[str] = []

    def hold(match: re.Match[str]) -> str:
        entities.append(_entity(match.group(1), users))
        return chr(_PLACEHOLDER + len(entities) - 1)

    def fence(match: re.Match[str]) -> str:
        return "\n".join("    " + line for line in match.group(1).splitlines() or [""])

    text = _FENCE.sub(fence, text)
    text = _TOKEN.sub(hold, text)
    lines = []
    for line in text.split("\n"):
        if line.startswith(">"):
            line = "▎ " + line[1:].lstrip()
        lines.append(line)
    text = "\n".join(lines)
    for pattern in (_BOLD, _ITALIC, _STRIKE):
        text = pattern.sub(r"\1", text)
    text = _EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), text)
    text = unescape(text)
    for i, entity in enumerate(entities):
        text = text.replace(chr(_PLACEHOLDER + i), entity)
    return text


def text_of(obj: Any, *, users: Mapping[str, str] | None = None) -> str:
    """A text object (plain_text or mrkdwn) as display text; "" for anything else."""
    if not isinstance(obj, dict):
        return ""
    raw = str(obj.get("text") or "")
    if obj.get("type") == "mrkdwn":
        return mrkdwn_to_text(raw, users=users)
    return _EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), raw)


def _field(obj: Any, users: Mapping[str, str]) -> str:
    """A section field; Slack's usual `*Label*\\nvalue` reads as `Label: value`."""
    raw = str(obj.get("text") or "") if isinstance(obj, dict) else ""
    match = _FIELD.match(raw) if isinstance(obj, dict) and obj.get("type") == "mrkdwn" else None
    if match:
        label = mrkdwn_to_text(match.group(1), users=users)
        value = mrkdwn_to_text(match.group(2), users=users).replace("\n", " / ")
        return f"{label}: {value}"
    return text_of(obj, users=users).replace("\n", " / ")


def button_label(element: dict[str, Any], number: int) -> str:
    label = f"[{number}] {text_of(element.get('text'))}"
    if element.get("url"):
        label += f" ({element['url']})"
    return label


def _element(
    element: dict[str, Any], block_id: str, users: Mapping[str, str], number: ButtonNumber
) -> str:
    kind = element.get("type")
    if kind == "button":
        return button_label(element, number(element, block_id))
    if kind == "image":
        return f"[image: {element.get('alt_text') or 'picture'}]"
    if kind in ("mrkdwn", "plain_text"):
        return text_of(element, users=users)
    options = element.get("options") or []
    if options:
        shown = " | ".join(text_of(option.get("text")) for option in options[:10])
        return f"({kind}: {shown})"
    placeholder = text_of(element.get("placeholder"))
    return f"({kind}{': ' + placeholder if placeholder else ''})"


def _rich_text(block: dict[str, Any], users: Mapping[str, str]) -> list[str]:
    def flatten(node: Any) -> str:
        if isinstance(node, list):
            return "".join(flatten(item) for item in node)
        if not isinstance(node, dict):
            return ""
        kind = node.get("type")
        if kind == "text":
            return str(node.get("text") or "")
        if kind == "link":
            url = str(node.get("url") or "")
            label = str(node.get("text") or "")
            return f"{label} ({url})" if label and label != url else url
        if kind == "user":
            user = str(node.get("user_id") or "")
            return "@" + users.get(user, user)
        if kind == "channel":
            return "#" + str(node.get("channel_id") or "")
        if kind == "emoji":
            name = str(node.get("name") or "")
            return EMOJI.get(name, f":{name}:")
        return flatten(node.get("elements") or [])

    return flatten(block.get("elements") or []).splitlines()


def _section(block: dict[str, Any], users: Mapping[str, str], number: ButtonNumber) -> list[Line]:
    """A section: its text, its fields two to a line, then its accessory."""
    out: list[Line] = []
    if block.get("text"):
        text = text_of(block["text"], users=users)
        out.extend(Line(line) for line in text.split("\n"))
    fields = [_field(field, users) for field in block.get("fields") or []]
    for i in range(0, len(fields), 2):
        out.append(Line("  ·  ".join(fields[i : i + 2])))
    accessory = block.get("accessory")
    if isinstance(accessory, dict):
        block_id = str(block.get("block_id") or "")
        out.append(Line(_element(accessory, block_id, users, number), "cyan"))
    return out


def _elements(block: dict[str, Any], users: Mapping[str, str], number: ButtonNumber) -> list[str]:
    """The elements of a context or actions block, each as text."""
    block_id = str(block.get("block_id") or "")
    return [_element(element, block_id, users, number) for element in block.get("elements") or []]


def render_blocks(
    blocks: Sequence[dict[str, Any]],
    *,
    users: Mapping[str, str] | None = None,
    number: ButtonNumber | None = None,
) -> list[Line]:
    """Every block as lines of text; buttons get the numbers `number` gives them."""
    users = users or {}
    counter = iter(range(1, 10_000))
    numbered: ButtonNumber = number or (lambda _element, _block: next(counter))
    out: list[Line] = []
    for block in blocks:
        kind = block.get("type")
        block_id = str(block.get("block_id") or "")
        if kind == "header":
            out.append(Line(text_of(block.get("text"), users=users), "bold"))
        elif kind == "section":
            out.extend(_section(block, users, numbered))
        elif kind == "context":
            parts = _elements(block, users, numbered)
            out.extend(Line(line, "dim") for line in " ".join(parts).split("\n"))
        elif kind == "actions":
            out.append(Line("  ".join(_elements(block, users, numbered)), "cyan"))
        elif kind == "divider":
            out.append(Line("─" * 24, "dim"))
        elif kind == "image":
            title = text_of(block.get("title"), users=users)
            alt = block.get("alt_text") or title or "picture"
            out.append(Line(f"[image: {alt}] ({block.get('image_url', '')})", "dim"))
        elif kind == "rich_text":
            out.extend(Line(line) for line in _rich_text(block, users))
        elif kind == "input":
            label = text_of(block.get("label"), users=users)
            out.append(
                Line(f"{label}: {_element(block.get('element') or {}, block_id, users, numbered)}")
            )
        elif kind == "file":
            out.append(Line(f"[file {block.get('external_id', '')}]", "dim"))
        else:
            out.append(Line(f"[{kind} block]", "dim"))
    return out


def render_message(
    text: str | None,
    blocks: Sequence[dict[str, Any]] | None,
    *,
    users: Mapping[str, str] | None = None,
    number: ButtonNumber | None = None,
) -> list[Line]:
    """A message as Slack shows it: its blocks, or its fallback text when it has none."""
    if blocks:
        return render_blocks(blocks, users=users, number=number)
    return [Line(line) for line in mrkdwn_to_text(text or "", users=users).split("\n")]


def changed_lines(before: Sequence[Line], after: Sequence[Line]) -> list[Line]:
    """The lines of an updated message that were not in its previous version."""
    seen = {line.text for line in before}
    return [line for line in after if line.text not in seen]


def thread_label(text: str | None, blocks: Sequence[dict[str, Any]] | None) -> str:
    """A short name for a thread, from its parent: `TD-1` out of `TD-1 · Acme · Counterfeit goods`."""
    for block in blocks or []:
        if block.get("type") == "header":
            return text_of(block.get("text")).split(" · ")[0][:40]
    first = (text or "").split("\n")[0]
    return (first.split(":")[0] if ":" in first else first)[:40] or "thread"


# -- forms: an input block as a question, a typed reply as Slack's `state.values` entry ----------

CHOICE = ("static_select", "radio_buttons", "multi_static_select", "checkboxes")
MULTI = ("multi_static_select", "checkboxes")
_TEXT_KEYS = {  # element type → (state key, initial key, what to type)
    "datepicker": ("selected_date", "initial_date", "YYYY-MM-DD"),
    "timepicker": ("selected_time", "initial_time", "HH:MM"),
    "users_select": ("selected_user", "initial_user", "a user id"),
    "conversations_select": ("selected_conversation", "initial_conversation", "a channel id"),
    "channels_select": ("selected_channel", "initial_channel", "a channel id"),
    "number_input": ("value", "initial_value", "a number"),
}


@dataclass(frozen=True)
class Question:
    """How the shell asks one input block, and turns the reply into Slack's state shape."""

    block_id: str
    action_id: str
    element: dict[str, Any]
    label: str
    optional: bool
    options: list[dict[str, Any]]
    default: Any  # text: str | None; choices: list of option numbers; files: list of files

    @property
    def kind(self) -> str:
        return str(self.element.get("type"))

    @property
    def multiline(self) -> bool:
        return bool(self.element.get("multiline"))

    def lines(self) -> list[Line]:
        """The field's heading (label, what to type, the default) and its numbered choices."""
        notes = []
        if self.kind in CHOICE:
            notes.append("numbers, comma-separated, or all" if self.kind in MULTI else "a number")
        elif self.kind == "file_input":
            notes.append("paths of local files, comma-separated")
        elif self.kind in _TEXT_KEYS:
            notes.append(_TEXT_KEYS[self.kind][2])
        if self.optional and "optional" not in self.label.lower():
            notes.append("optional")
        if self.multiline:
            notes.append("several lines, an empty line ends")
        if self.default and self.kind in CHOICE:
            notes.append("Enter keeps " + ",".join(map(str, self.default)))
        elif self.default and self.kind == "file_input":
            notes.append("Enter keeps " + ", ".join(str(f.get("name")) for f in self.default))
        elif self.default:
            shown = str(self.default).replace("\n", " ⏎ ")
            notes.append(f"Enter keeps: {shown[:70]}{'…' if len(shown) > 70 else ''}")
        out = [Line(self.label + (f"  ({'; '.join(notes)})" if notes else ""), "bold")]
        out.extend(Line(f"  {i}) {text_of(o.get('text'))}") for i, o in enumerate(self.options, 1))
        return out

    def answer(self, reply: str) -> tuple[dict[str, Any] | None, str | None]:
        """(state entry, None), or (None, what is wrong). `-` clears, "" keeps the default."""
        kind, stripped = self.kind, reply.strip()
        if kind in CHOICE:
            numbers = choose(reply, self.options, default=self.default, multi=kind in MULTI)
            if numbers is None:
                return None, f"choose from 1 to {len(self.options)}"
            if not numbers and not self.optional:
                return None, "this field is required"
            chosen = [self.options[n - 1] for n in numbers]
            if kind in MULTI:
                return {"type": kind, "selected_options": chosen}, None
            return {"type": kind, "selected_option": chosen[0] if chosen else None}, None
        if kind == "file_input":  # the shell uploads named files itself; here: keep or clear
            files = [] if stripped == "-" else list(self.default)
            if not files and not self.optional:
                return None, "this field is required"
            return {"type": kind, "files": files}, None
        value = None if stripped == "-" else (reply if stripped else self.default) or None
        if value is None and not self.optional:
            return None, "this field is required"
        limit = int(self.element.get("max_length") or 3000)
        if value is not None and len(str(value)) > limit:
            return None, f"at most {limit:,} characters"
        if value is not None and len(str(value)) < int(self.element.get("min_length") or 0):
            return None, f"at least {self.element['min_length']} characters"
        return {"type": kind, _TEXT_KEYS.get(kind, ("value",))[0]: value}, None


def question(block: dict[str, Any], current: dict[str, Any] | None = None) -> Question:
    """The question for an input block; `current` (its state entry so far) gives the default."""
    element = block.get("element") or {}
    kind = str(element.get("type"))
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    default: Any
    if kind in CHOICE:
        multi = kind in MULTI
        key = "selected_options" if multi else "selected_option"
        picked = current.get(key) if current else element.get("initial_" + key[9:])
        picked = picked if isinstance(picked, list) else [picked] if picked else []
        values = {str(p.get("value")) for p in picked}
        default = [i for i, o in enumerate(options, 1) if str(o.get("value")) in values]
    elif kind == "file_input":
        default = list((current or {}).get("files") or [])
    else:
        state_key, initial_key, _ = _TEXT_KEYS.get(kind, ("value", "initial_value", ""))
        default = current.get(state_key) if current else element.get(initial_key)
    return Question(
        block_id=str(block.get("block_id")),
        action_id=str(element.get("action_id")),
        element=element,
        label=text_of(block.get("label")),
        optional=bool(block.get("optional")),
        options=options,
        default=default,
    )


def choose(
    reply: str, options: Sequence[dict[str, Any]], *, default: list[int], multi: bool
) -> list[int] | None:
    """The option numbers a reply names (numbers, labels or values); None when it names none."""
    reply = reply.strip()
    if not reply:
        return list(default)
    if reply == "-":
        return []
    if multi and reply.lower() == "all":
        return list(range(1, len(options) + 1))
    numbers = []
    for part in reply.split(",") if multi else [reply]:
        part = part.strip().lower()
        if part.isdigit() and 1 <= int(part) <= len(options):
            numbers.append(int(part))
            continue
        names = [(text_of(o.get("text")).lower(), str(o.get("value")).lower()) for o in options]
        match = [i for i, name in enumerate(names, 1) if part in name]
        if not match:
            return None
        numbers.append(match[0])
    return numbers
