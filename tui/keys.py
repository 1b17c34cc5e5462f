"""Every key of the app, in one place: what it does is its tooltip (shown by ``?`` and the palette).

The App (:class:`tui.app.TweetgenApp`) binds these; which are enabled right now is its
``check_action``. Keys of one widget only are that widget's (the checkpoint list: space marks,
escape leaves; the columns: escape goes back).
"""

from __future__ import annotations

from typing import TypeVar

from textual.binding import Binding

from tui.screens.columns import SWEEP_TEMPERATURES
from tui.settings import TEMPERATURE_STEP

T = TypeVar("T")

TOP_K_STEPS = (0, 5, 10, 20, 40)  # k cycles through these (0: off)
TOP_P_STEPS = (1.0, 0.95, 0.9, 0.8, 0.5)  # n cycles through these (1.0: off)


def next_step(steps: tuple[T, ...], value: T) -> T:
    """What a cycling key (k, n) sets next: the step after ``value``, or the first when ``value`` is none of them."""
    return steps[(steps.index(value) + 1) % len(steps)] if value in steps else steps[0]


# Every key of the app. `space` has one binding per state; check_action shows the one that applies.
KEYS: list[Binding] = [
    Binding("r", "resample", "Resample", tooltip="stop this tweet and generate a new one"),
    Binding("plus,equals_sign", f"temperature({TEMPERATURE_STEP})", "Temp+", key_display="+",
            tooltip="temperature up by 0.1 (max 5.0), from the next tweet"),
    Binding("minus,underscore", f"temperature({-TEMPERATURE_STEP})", "Temp-", key_display="-",
            tooltip="temperature down by 0.1 (min 0.1), from the next tweet"),
    Binding("space", "start_training", "Train", tooltip="start training (resumes from the run's newest checkpoint)"),
    Binding("space", "pause_training", "Pause", tooltip="pause training"),
    Binding("space", "resume_training", "Resume", tooltip="resume training"),
    Binding("s", "save_checkpoint", "Save", tooltip="save a checkpoint of the current training step now"),
    Binding("c", "focus_checkpoints", "Checkpoints",
            tooltip="go to the checkpoint list (enter switches the generator, space marks one for v)"),
    Binding("p", "toggle_probs", "Probs",
            tooltip="colour each character by the model's probability of it (at T=1); p again: plain"),
    Binding("t", "sweep", "Sweep",
            tooltip=f"one seed at T {', '.join(f'{t:.1f}' for t in SWEEP_TEMPERATURES)} side by side; t or escape: back"),
    Binding("u", "neurons", "Neurons", show=False,
            tooltip="which hidden units track URLs, mentions, quotes...: a table, coloured texts; the generation "
                    "is then coloured by the unit picked"),
    Binding("U", "unit_off", "Plain", key_display="U", show=False,
            tooltip="stop colouring the generation by the neuron view's unit"),
    Binding("v", "compare", "Compare",
            tooltip="the checkpoints marked with space, side by side with one seed; v or escape: back"),
    Binding("slash", "prime", "Prime", key_display="/", show=False,
            tooltip="type the start of a tweet: the model continues it (empty: no prime)"),
    Binding("k", "cycle_top_k", "Top-k", show=False,
            tooltip=f"top-k: {', '.join(str(k) if k else 'off' for k in TOP_K_STEPS)} (from the next tweet)"),
    Binding("n", "cycle_top_p", "Top-p", show=False,
            tooltip=f"top-p (nucleus): {', '.join(f'{p:g}' if p < 1 else 'off' for p in TOP_P_STEPS)} (from the next tweet)"),
    Binding("o", "show_source", "Source", show=False,
            tooltip="show the training text the tweet shares its longest run with (the source of a COPIED one)"),
    Binding("y", "copy_tweet", "Copy", show=False, tooltip="copy the tweet on screen to the clipboard"),
    Binding("e", "export", "Export", show=False,
            tooltip="append this session's finished samples to samples.jsonl in the run directory"),
    Binding("d", "open_corpus", "Open corpus", show=False,
            tooltip="open a corpus or Twitter/X archive: see what loading it keeps, then train a new run on it"),
    Binding("question_mark", "help", "Help", key_display="?", tooltip="this list of keys"),
    Binding("q", "quit", "Quit", tooltip="quit (saves a checkpoint first when training)"),
]
