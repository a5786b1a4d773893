"""The state of an ASC file as its lines go by: recording blocks, trials, images, screens.

:class:`Parser` is fed, in file order, the few lines that change state (``START``/``END``/
``SAMPLES``, ``TRIALID``, ``TRIAL_RESULT``, ``GAZE_COORDS``, ``!V IMGLOAD``, ``!V TRIAL_VAR``,
``eye_used`` and ``!CAL VALIDATION`` messages) and the lines nothing else understood; it
records them (:class:`Block`, :class:`Trial`, :class:`ImgLoad`, screens) and the state in force
from each line on, and collects malformed lines (errors) and anomalies. The bulk parsers
(:mod:`gazeprep.read.asc.events`) report into it too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from gazeprep.errors import GazeprepError
from gazeprep.limits import MAX_RATE_HZ, rect_problem, time_problem
from gazeprep.read.result import FileResult, image_id

EYES = ("L", "R")
#: Heads of lines that are recognised and carry nothing ingest uses.
KNOWN_HEADS = {
    "PRESCALER", "VPRESCALER", "PUPIL", "EVENTS", "INPUT", "BUTTON", "PRESCALE", "VPRESCALE",
}
#: Each kind of anomaly (and of malformed line) is listed this many times at most; all count.
MAX_LISTED_ANOMALIES = 20
#: Event head -> (numeric fields parsed, minimum required, expected layout for error messages).
EVENT_FIELDS = {
    "EFIX": (6, 5, "EFIX <L|R> <start> <end> <duration> <x> <y> [<pupil>]"),
    "ESACC": (9, 3, "ESACC <L|R> <start> <end> <duration> [<x0> <y0> <x1> <y1> <ampl> <pv>]"),
    "EBLINK": (3, 3, "EBLINK <L|R> <start> <end> <duration>"),
    "SFIX": (1, 1, "SFIX <L|R> <start>"),
    "SSACC": (1, 1, "SSACC <L|R> <start>"),
    "SBLINK": (1, 1, "SBLINK <L|R> <start>"),
}


@dataclass
class Block:
    """One ``START`` ... ``END`` recording block."""

    line: int
    time: float
    eyes: tuple[str, ...] = ()
    rate: float | None = None
    end_line: int | None = None
    end_time: float | None = None


@dataclass
class Trial:
    """One ``TRIALID``: id text, time and line, ``!V TRIAL_VAR`` values, first IMGLOAD."""

    id: str
    time: float
    line: int
    block: int
    vars: dict = field(default_factory=dict)
    first_img: int = -1
    #: Time of its ``TRIAL_RESULT`` (ms), None when it has none.
    end: float | None = None


@dataclass
class ImgLoad:
    """One ``!V IMGLOAD``: image id and where it was drawn (screen px; None = unknown)."""

    mode: str
    image: str
    line: int
    trial: int
    x: float | None = None
    y: float | None = None
    w: float | None = None
    h: float | None = None
    problem: str | None = None


class Parser:
    """State machine over the lines that change state: START/END/SAMPLES, TRIALID,
    TRIAL_RESULT, GAZE_COORDS, IMGLOAD, TRIAL_VAR messages (and unknown lines); it also keeps
    the validation messages, for gaze quality."""

    def __init__(self, path: str, res: FileResult):
        self.path = path
        self.res = res
        self.errors: list[GazeprepError] = []
        self.blocks: list[Block] = []
        self.trials: list[Trial] = []
        self.imgloads: list[ImgLoad] = []
        self.screens: list[tuple[float, float, float, float]] = []
        self.states: list[tuple[int, int, int, int]] = [(-1, -1, -1, -1)]
        self.state_lines: list[int] = [0]
        self.block = -1
        self.in_block = False
        self.trial = -1
        self.img = -1
        self.screen = -1
        self.eye_used: str | None = None
        self.unknown = 0
        self.n_anomalies: dict[str, int] = {}
        self.latin1 = False  # the current MSG line is not valid UTF-8 (decoded as Latin-1)
        self.latin1_names: set[str] = set()
        #: ``!CAL VALIDATION`` messages: (time, line, text), parsed by gazeprep.quality.
        self.validations: list[tuple[float, int, str]] = []

    def fail(self, line: int, what: str, text: str) -> None:
        """Record a malformed line (raised at the end unless lenient)."""
        self.errors.append(GazeprepError(f"malformed line {text[:80]!r}; expected {what}",
                                         file=self.path, line=line))

    def anomaly(self, kind: str, line: int | None, detail: str) -> None:
        """Record an anomaly; each kind is listed at most MAX_LISTED_ANOMALIES times."""
        n = self.n_anomalies.get(kind, 0)
        self.n_anomalies[kind] = n + 1
        if n < MAX_LISTED_ANOMALIES:
            self.res.anomaly(kind, line, detail)

    def note_name(self, text: str) -> None:
        """Remember the id of a name read from a Latin-1 line when the name is not ASCII."""
        if self.latin1 and not text.isascii() and image_id(text):
            self.latin1_names.add(image_id(text))

    def push_state(self, line: int) -> None:
        st = (self.block, self.trial, self.img, self.screen)
        if st != self.states[-1]:
            self.states.append(st)
            self.state_lines.append(line)

    def line(self, ln: int, text: str) -> None:
        """A non-MSG line the bulk parser left over."""
        toks = text.split()
        if not toks:
            return
        head = toks[0]
        if head == "START":
            self.start(ln, text, toks)
        elif head == "END":
            self.end(ln, text, toks)
        elif head == "SAMPLES":
            self.samples_line(ln, text, toks)
        elif head in KNOWN_HEADS or head.startswith(("**", ">>>")) or text[0] in " \t":
            return
        elif head in EVENT_FIELDS or head == "MSG":
            self.fail(ln, EVENT_FIELDS.get(head, (0, 0, "MSG <time> <text>"))[2], text)
        else:
            self.unknown += 1
            self.anomaly("unknown_line", ln, text[:80])

    def start(self, ln: int, text: str, toks: list[str]) -> None:
        t = _time_token(toks)
        if t is None:
            self.fail(ln, "START <time> <eyes...> SAMPLES EVENTS, |time| <= 2**53 ms", text)
            return
        if self.in_block:
            self.anomaly("start_without_end", ln, "START while the previous block is open")
        eyes = tuple(e[0] for e in ("LEFT", "RIGHT") if e in toks[2:])
        self.blocks.append(Block(line=ln, time=t, eyes=eyes))
        self.block = len(self.blocks) - 1
        self.in_block = True
        self.push_state(ln)

    def end(self, ln: int, text: str, toks: list[str]) -> None:
        if not self.in_block:
            self.anomaly("end_without_start", ln, text[:80])
            return
        b = self.blocks[self.block]
        b.end_line = ln
        b.end_time = _time_token(toks)
        if b.end_time is None:
            self.fail(ln, "END <time> ... with |time| <= 2**53 ms", text)
        self.in_block = False

    def samples_line(self, ln: int, text: str, toks: list[str]) -> None:
        if self.block < 0:
            return
        b = self.blocks[self.block]
        eyes = tuple(e[0] for e in ("LEFT", "RIGHT") if e in toks)
        if eyes:
            b.eyes = eyes
        if "RATE" in toks:
            try:
                rate = float(toks[toks.index("RATE") + 1])
            except (IndexError, ValueError):
                rate = math.nan
            if 0 < rate <= MAX_RATE_HZ:
                b.rate = rate
            else:  # a rate that is 0, negative or not a number would make every duration wrong
                self.fail(ln, f"SAMPLES ... RATE <Hz> with a rate in (0, {MAX_RATE_HZ:g}] Hz",
                          text)

    def msg(self, ln: int, t: float, body: str, text: str) -> None:
        """A MSG line with a state keyword; ``t`` is its time (offset applied)."""
        words = body.split()
        if not words:
            return
        w0 = words[0]
        if w0 == "TRIALID":
            self.trialid(ln, t, body[len("TRIALID"):].strip())
        elif w0 == "TRIAL_RESULT":
            if self.trial < 0:
                self.anomaly("trial_result_without_trialid", ln, body[:80])
            else:
                self.trials[self.trial].end = t
            self.trial = -1
            self.img = -1
            self.push_state(ln)
        elif w0 in ("GAZE_COORDS", "DISPLAY_COORDS"):
            self.coords(ln, text, w0, words)
        elif w0 == "!V" and len(words) > 1 and words[1] == "IMGLOAD":
            self.imgload(ln, text, words)
        elif w0 == "!V" and len(words) > 2 and words[1] == "TRIAL_VAR":
            if self.trial >= 0:
                self.trials[self.trial].vars[words[2]] = " ".join(words[3:])
                self.note_name(" ".join(words[3:]))
        elif w0 == "!CAL" and len(words) > 1 and words[1] == "VALIDATION":
            self.validations.append((t, ln, body))
        elif "eye_used" in words:
            val = words[words.index("eye_used") + 1:]
            if val and val[0][:1].upper() in EYES:
                self.eye_used = val[0][:1].upper()

    def trialid(self, ln: int, t: float, tid: str) -> None:
        if self.trial >= 0:
            self.anomaly("nested_trialid", ln,
                         f"TRIALID {tid!r} while trial {self.trials[self.trial].id!r} (line "
                         f"{self.trials[self.trial].line}) has no TRIAL_RESULT")
        self.trials.append(Trial(id=tid or str(len(self.trials)), time=t, line=ln,
                                 block=self.block if self.in_block else -1))
        self.note_name(tid)
        self.trial = len(self.trials) - 1
        self.img = -1
        self.push_state(ln)

    def coords(self, ln: int, text: str, kind: str, words: list[str]) -> None:
        try:
            x0, y0, x1, y1 = (float(v) for v in words[1:5])
        except ValueError:
            self.fail(ln, f"{kind} <left> <top> <right> <bottom>", text)
            return
        problem = rect_problem((x0, y0, x1 - x0, y1 - y0))
        if problem:
            self.fail(ln, f"{kind} <left> <top> <right> <bottom>: finite, right > left, bottom > "
                      f"top ({problem})", text)
            return
        if kind == "DISPLAY_COORDS" and self.screen >= 0:
            return
        w, h = x1 - x0, y1 - y0
        # "0 0 1279 1023" names the last pixel, "0 0 1920 1080" the size.
        w += 1 if round(w) % 2 else 0
        h += 1 if round(h) % 2 else 0
        self.screens.append((x0, y0, w, h))
        self.screen = len(self.screens) - 1
        self.push_state(ln)

    def imgload(self, ln: int, text: str, words: list[str]) -> None:
        what = "!V IMGLOAD FILL|CENTER|TOP_LEFT <file> [<x> <y> [<width> <height>]]"
        if len(words) < 4 or words[2].upper() not in ("FILL", "CENTER", "TOP_LEFT"):
            self.fail(ln, what, text)
            return
        mode = words[2].upper()
        name = image_id(words[3])
        if not name:
            self.fail(ln, what + " with a file name", text)
            return
        try:
            nums = [float(v) for v in words[4:8]]
        except ValueError:
            self.fail(ln, what, text)
            return
        if mode != "FILL" and len(nums) < 2:
            self.fail(ln, what + f" ({mode} needs x y)", text)
            return
        self.note_name(words[3])
        img = ImgLoad(mode=mode, image=name, line=ln, trial=self.trial)
        if len(nums) >= 2:
            img.x, img.y = nums[0], nums[1]
        if len(nums) >= 4:
            img.w, img.h = nums[2], nums[3]
        sides = nums[2:4] if len(nums) >= 4 else [1.0, 1.0]
        problem = rect_problem((*nums[:2], *sides)) if len(nums) >= 2 else None
        if problem:
            # error (lenient: recorded); the fixations on this image are dropped, not misplaced
            img.problem = f"IMGLOAD {name} (line {ln}): {problem}"
            self.fail(ln, what + f" with a finite position and width, height > 0 ({problem})",
                      text)
        self.imgloads.append(img)
        self.img = len(self.imgloads) - 1
        if self.trial >= 0 and self.trials[self.trial].first_img < 0:
            self.trials[self.trial].first_img = self.img
        self.push_state(ln)

    def finish(self) -> None:
        if self.in_block:
            self.anomaly("block_without_end", self.blocks[self.block].line,
                         "recording block has no END line (truncated file?)")
        if self.unknown > MAX_LISTED_ANOMALIES:
            self.res.notes["unknown_lines"] = self.unknown


def _time_token(toks: list[str]) -> float | None:
    """The time after a START/END head, or None when missing, not finite or beyond 2**53 ms."""
    try:
        t = float(toks[1])
    except (IndexError, ValueError):
        return None
    return None if time_problem(t) else t
