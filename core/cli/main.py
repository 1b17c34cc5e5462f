"""``tweetgen``: the headless command line (train, sample, eval, info, list).

Every user-fixable problem ends as one line on stderr (``tweetgen <cmd>: error: ...``)
and a non-zero exit status, never a traceback: 2 for bad arguments, 1 for bad files or
a failed run. SIGINT/SIGTERM during ``train`` save a checkpoint of the current step and
exit 0.

``torchrun --nproc-per-node N tweetgen train ...`` trains on N processes
(:mod:`core.train.distributed`): rank 0 reports and writes, the other ranks print only errors,
and a signal to any rank stops them all at the same step.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import core
from core import defaults
from core.cli.common import UserError
from core.cli.common import add_filter_args as _add_filter_args
from core.cli.common import filter_args as _filter_args
from core.cli.common import filter_config as _filter_config
from core.cli.common import fmt as _fmt
from core.cli.common import load_ckpt as _load_ckpt
from core.cli.flags import CLI_WORDS, NUMBERS, OneLineParser, run_name_type

EXIT_FAILURE = 1  # bad files or a failed run; bad arguments exit with core.cli.flags.EXIT_USAGE (2)
EVAL_POSITIONS = 1 << 18  # `eval` batches hold at most this many character positions (or one longer text)




# ---------------------------------------------------------------- argument types


# Every number's bounds come from the one table both front ends read (core.cli.flags.NUMBERS).
N = NUMBERS
RUN_NAME = run_name_type(CLI_WORDS)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="tweetgen", description="Train a character-level GRU on short texts and generate new ones.")
    parser.add_argument("--version", action="version", version=f"tweetgen {core.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser, metavar="COMMAND")

    t = sub.add_parser("train", help="train a model on a corpus file",
                       description="Train on DATA (a Twitter/X archive .zip or its unpacked folder, tweets.js, CSV with a 'text' column, "
                                   "JSON/JSONL, or one text per line).")
    t.add_argument("data", type=Path, nargs="+", metavar="DATA",
                   help="corpus files or Twitter/X archives (zip or folder); several are read as one corpus")
    m = t.add_argument_group("model (ignored when resuming)")
    m.add_argument("--hidden", type=N["hidden_size"], default=None, help=f"GRU hidden size (default {defaults.HIDDEN_SIZE}; {defaults.SMALL_HIDDEN_SIZE} on a corpus under {defaults.SMALL_CORPUS:,} texts)")
    m.add_argument("--layers", type=N["num_layers"], default=None, help=f"GRU layers (default {defaults.NUM_LAYERS})")
    m.add_argument("--embed", type=N["embed_dim"], default=None, help=f"character embedding size (default {defaults.EMBED_DIM})")
    m.add_argument("--dropout", type=N["dropout"], default=None, help=f"dropout (default {defaults.DROPOUT:g})")
    m.add_argument("--length-input", action="store_true", default=None,
                   help="also tell the model how many characters remain at every position (off by default: it costs "
                        "bits/char and cuts last words; sample --length steers any model)")
    r = t.add_argument_group("training")
    r.add_argument("--epochs", type=N["epochs"], default=None, help=f"this many more passes over the data (with no budget: {defaults.EPOCHS_WITHOUT_BUDGET}, or what is left of a resumed run's)")
    r.add_argument("--minutes", type=N["minutes"], default=None, help="stop after this many more minutes of training")
    r.add_argument("--max-steps", type=N["max_steps"], default=None, help="stop after this many more steps (resumed at 900, --max-steps 100 ends at 1,000)")
    r.add_argument("--batch-size", type=N["batch_size"], default=None, help=f"tweets per batch (default {defaults.BATCH_SIZE})")
    r.add_argument("--until-stopped", action="store_true",
                   help="no budget: train as the app does until Ctrl-C or SIGTERM, then save and exit 0")
    r.add_argument("--optimizer", choices=("schedulefree", "adam"), default=None,
                   help="schedulefree (default: AdamW that needs no horizon) or adam")
    r.add_argument("--lr", type=N["lr"], default=None, help=f"learning rate (default {defaults.LR:g})")
    r.add_argument("--lr-schedule", choices=("cosine", "constant"), default=None,
                   help="after warm-up: constant (default) or cosine over the budget (for --optimizer adam)")
    r.add_argument("--clip", type=N["clip"], default=None, help=f"gradient-norm clip (default {defaults.CLIP:g})")
    r.add_argument("--weight-decay", type=N["weight_decay"], default=None,
                   help=f"weight decay: decoupled with schedulefree (default {defaults.WEIGHT_DECAY:g}; {defaults.SMALL_WEIGHT_DECAY:g} on a corpus under {defaults.SMALL_CORPUS:,} texts), L2 with adam (default 0)")
    r.add_argument("--val-fraction", type=N["val_fraction"], default=None, help=f"held-out share of a new run (default {defaults.VAL_FRACTION:g})")
    r.add_argument("--val-every", type=N["val_every"], default=None,
                   help=f"validate every N steps (default {defaults.VAL_EVERY}; 0 = never)")
    r.add_argument("--ckpt-every", type=N["ckpt_every"], default=None,
                   help=f"checkpoint every N steps (default {defaults.CKPT_EVERY}; 0 = only at the end)")
    r.add_argument("--sample-every", type=N["sample_every"], default=None, help="print a sample every N steps (default 0 = never)")
    r.add_argument("--keep-last", type=N["keep_last"], default=None, help="keep only the newest N checkpoints (default 0 = all)")
    r.add_argument("--keep-best", type=N["keep_best"], default=None, help=f"with --keep-last, also keep the N best (default {defaults.KEEP_BEST})")
    r.add_argument("--seed", type=N["seed"], default=None, help=f"seed for the split, init and batch order (default {defaults.SEED})")
    r.add_argument("--early-stop", action="store_true", default=None,
                   help="stop when validation stops improving while training still does (overfitting); "
                        "without it training goes on and the best checkpoint is kept")
    r.add_argument("--device", default=None, help="auto (default), cpu, cuda or mps")
    r.add_argument("--threads", type=N["threads"], default=None, help="CPU threads for torch (default: torch's choice)")
    r.add_argument("--precision", choices=("fp32", "bf16"), default=None,
                   help=f"matmul precision (default {defaults.PRECISION}); bf16 needs AVX512-BF16/AMX or a CUDA GPU, else falls back to fp32")
    o = t.add_argument_group("output")
    o.add_argument("--out", type=Path, help="directory for this run's checkpoints (default: RUNS/<run>)")
    o.add_argument("--run", type=RUN_NAME, help="run name under the checkpoint home (default: DATA name + time)")
    o.add_argument("--home", type=Path, help="checkpoint home (default: $TWEETGEN_HOME or the user data dir)")
    o.add_argument("--resume", type=Path, metavar="CKPT", help="continue from a checkpoint file, or the newest in a run directory")
    o.add_argument("--quiet", action="store_true", help="no progress display")
    o.add_argument("--allow-unknown", action="store_true",
                   help="resume even when over 5%% of the corpus' characters are unknown to the checkpoint's vocabulary")
    _add_filter_args(t)

    s = sub.add_parser("sample", help="generate texts from a checkpoint")
    s.add_argument("checkpoint", type=Path, metavar="CKPT")
    s.add_argument("-n", "--num", type=N["num_samples"], default=5, help="how many texts (default 5)")
    s.add_argument("-t", "--temperature", type=N["temperature"], default=1.0, help="0 = greedy (default 1.0)")
    s.add_argument("--top-k", type=N["top_k"], default=0, help="sample from the k most likely characters (0 = off)")
    s.add_argument("--top-p", type=N["top_p"], default=1.0, help="nucleus sampling (1 = off)")
    s.add_argument("--prime", default="", help="text to start from")
    s.add_argument("--max-len", type=N["sample_max_len"], default=None,
                   help=f"characters to generate at most (default: a quarter past the longest training text, at least {defaults.SAMPLE_MAX_LEN})")
    s.add_argument("--length", type=N["length"], default=None, metavar="N",
                   help="N characters +- 10%%, prime included, ending where the model sees a natural end (a text outside is written again, up to 4 tries; with --stream it is steered only) (default: drawn from the training corpus' lengths)")
    s.add_argument("--seed", type=N["seed"], default=None, help="seed for reproducible output")
    s.add_argument("--stream", action="store_true", help="print characters as they are generated")
    s.add_argument("--json", action="store_true",
                   help="one JSON object per line: text, ended, seed, settings, checkpoint, step, bits_per_char, novelty")
    s.add_argument("--check-novelty", nargs="?", const=True, default=None, type=Path, metavar="DATA",
                   help="find each text's longest verbatim run in the training texts (the checkpoint's recorded "
                        "corpus, or DATA); flag copies of --copy-threshold characters or more")
    s.add_argument("--copy-threshold", type=N["copy_threshold"], default=None, metavar="N",
                   help=f"a shared run this long counts as a copy (default {defaults.COPY_THRESHOLD})")
    s.add_argument("--device", default="cpu", help="cpu (default), auto, cuda or mps")

    e = sub.add_parser("eval", help="bits per character of a checkpoint on a corpus")
    e.add_argument("checkpoint", type=Path, metavar="CKPT")
    e.add_argument("data", type=Path, metavar="DATA")
    e.add_argument("--device", default="cpu", help="cpu (default), auto, cuda or mps")
    _add_filter_args(e)

    i = sub.add_parser("info", help="what a checkpoint holds")
    i.add_argument("checkpoint", type=Path, metavar="CKPT")

    from core.cli import neurons  # tweetgen neurons (issue 19)
    neurons.add_parser(sub)

    ls = sub.add_parser("list", help="checkpoints of a run directory or of the checkpoint home")
    ls.add_argument("dir", type=Path, nargs="?", metavar="DIR")
    return parser


# ---------------------------------------------------------------- helpers


def format_eta(seconds: float | None) -> str:
    """``H:MM:SS``, with days in front past 24 hours (``1d 03:04:05``); ``-`` when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "-"
    if seconds >= 10_000 * 86400:
        return ">10000d"
    days, rest = divmod(int(seconds), 86400)
    clock = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}d {clock}" if days else clock


def _silence(fds: Sequence[int]) -> None:
    """Point these descriptors at /dev/null (after a hang-up: the terminal they wrote to is gone)."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    for fd in fds:
        try:
            os.dup2(null, fd)
        except OSError:
            pass
    os.close(null)


# ---------------------------------------------------------------- commands


def cmd_train(args: argparse.Namespace, console: Console) -> int:
    from core.train import distributed

    try:
        distributed.init_from_env(args.device)  # under torchrun with several processes: join its process group
    except ValueError as exc:
        raise UserError(str(exc)) from None
    error: BaseException | None = None
    try:
        return _train(args, console)
    except BaseException as exc:
        error = exc
        if distributed.active():
            if isinstance(exc, RuntimeError) and distributed.lost_peer(exc) and not _is_oom(exc):
                error = UserError(_lost_peer_line(exc, None))
                raise error from None
            _say("tweetgen train", exc)  # now: once a peer has left, torchrun may stop this process before main() prints
        raise
    finally:
        distributed.shutdown(error)  # no leaving barrier after an error the other ranks do not know of


def _is_oom(exc: BaseException) -> bool:
    from core.train.limits import is_out_of_memory

    return is_out_of_memory(exc)


def _lost_peer_line(exc: BaseException, trainer: Any) -> str:
    """One line for a collective that failed because another process of the job is gone."""
    import re

    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    why = re.sub(r"^\[[^\]]*\]\s*", "", first).split(". ")[0][:160]  # gloo's "[.../pair.cc:553] Connection closed by peer ..."
    line = f"lost contact with another process of this job, which failed or was killed ({why})"
    if trainer is not None:
        line += (f"; stopped at step {trainer.progress.step}, last checkpoint: "
                 f"{trainer.last_checkpoint or trainer.resumed_from or 'none written'}")
    return line


def _train(args: argparse.Namespace, console: Console) -> int:
    from core.train import distributed
    from core.store import registry
    from core.events import CheckpointEvent, DoneEvent, EvalEvent, GuardEvent, SampleEvent, StartEvent, StepEvent
    from core.train.setup import RunRequest, prepare_run

    err = Console(stderr=True)
    rank, _world = distributed.rank_world()
    if rank != 0:  # rank 0 reports for all; the others print errors only
        args.quiet = True
    request = RunRequest(
        data=tuple(args.data), run_dir=args.out, run_name=args.run, home=args.home, resume=args.resume,
        train={"batch_size": args.batch_size, "optimizer": args.optimizer, "lr": args.lr, "lr_schedule": args.lr_schedule,
               "clip": args.clip, "weight_decay": args.weight_decay, "epochs": args.epochs, "minutes": args.minutes, "max_steps": args.max_steps,
               "val_every": args.val_every, "ckpt_every": args.ckpt_every, "sample_every": args.sample_every,
               "keep_last": args.keep_last, "keep_best": args.keep_best, "seed": args.seed,
               "device": args.device, "threads": args.threads, "early_stop": args.early_stop, "precision": args.precision},
        model={"hidden_size": args.hidden, "num_layers": args.layers, "embed_dim": args.embed, "dropout": args.dropout,
               "length_input": args.length_input},
        filters=_filter_args(args), until_stopped=args.until_stopped, val_fraction=args.val_fraction,
        fmt=args.format, column=args.column, allow_unknown=args.allow_unknown,
    )
    try:
        run = prepare_run(request, on_report=lambda report, _step: args.quiet or err.print(report.summary(), highlight=False),
                          on_note=lambda text, _step: rank == 0 and err.print(f"note: {text}", highlight=False))
    except ValueError as exc:  # a bad setting, or too big for memory: one line
        raise UserError(str(exc)) from None
    trainer, lock = run.trainer, run.lock
    ttys = [fd for fd in (1, 2) if os.isatty(fd)]

    def on_signal(signum: int, _frame: Any) -> None:
        if signum == getattr(signal, "SIGHUP", None):  # the terminal is gone: writing to it would fail (EIO)
            _silence(ttys)
        trainer.stop()

    signals = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    old = {sig: signal.signal(sig, on_signal) for sig in signals}
    show = not args.quiet and err.is_terminal
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("step {task.fields[step]}"),
        TextColumn("loss {task.fields[loss]}"), TextColumn("val {task.fields[val]} bits/char"),
        TextColumn("{task.fields[cps]} chars/s"), TimeElapsedColumn(), TextColumn("ETA {task.fields[eta]}"),
        console=err, disable=not show, transient=False,
    )
    done: DoneEvent | None = None
    val = "-"
    try:
        with _lost_peers_named(trainer), progress:
            task = progress.add_task("training", total=1.0, step=0, loss="-", val="-", cps="-", eta="-")
            for event in trainer.run():
                if isinstance(event, StartEvent):
                    where = event.device + (f", {event.world_size} processes" if event.world_size > 1 else "")
                    msg = (f"run {event.run_dir} on {where}: {event.n_train:,} train / {event.n_val:,} val texts, "
                           f"{event.n_params:,} parameters" + (f", resuming from {event.resumed_from}" if event.resumed_from else ""))
                    if not args.quiet:
                        err.print(msg, highlight=False)
                elif isinstance(event, StepEvent):
                    eta = format_eta(event.eta_s)
                    progress.update(task, completed=event.progress or 0.0, step=event.step, loss=f"{event.loss:.3f}",
                                    val=val, cps=f"{event.chars_per_s:,.0f}", eta=eta)
                elif isinstance(event, EvalEvent):
                    val = f"{event.val_bpc:.3f}"
                    progress.update(task, val=val)
                    if not show and not args.quiet:
                        err.print(f"step {event.step}: val {event.val_bpc:.3f} bits/char (best {event.best_val_bpc:.3f})", highlight=False)
                elif isinstance(event, SampleEvent):
                    progress.console.print(f"step {event.step}: ", event.text, highlight=False, markup=False)
                elif isinstance(event, CheckpointEvent):
                    if not show and not args.quiet:
                        err.print(f"step {event.step}: checkpoint {event.path}", highlight=False)
                elif isinstance(event, GuardEvent) and rank == 0 and event.action not in ("stop", "early stop"):
                    # (a stop is said once, by the run's last line)
                    kind = "overfitting: " if event.action == "overfit" else ""
                    progress.console.print(f"step {event.step}: {kind}{event.message}", highlight=False, markup=False)
                elif isinstance(event, DoneEvent):
                    done = event
    finally:
        # Under torchrun the process ends with this command, so its handlers stay until the last line is out:
        # when another rank dies, torchrun's agent sends this one SIGTERM, and with the default handler back it
        # died before main() printed "lost contact with another process" (a race the kill -9 test lost at load).
        if trainer.world == 1:
            for sig, handler in old.items():
                signal.signal(sig, handler)
        lock.release()
    assert done is not None
    if rank != 0:
        return 1 if done.reason == "diverged" else 0  # rank 0 says why
    if done.reason == "diverged":
        raise UserError(done.message)
    if done.reason in ("degraded", "early stop"):  # the guard stopped the run: the best checkpoint is the one to use
        err.print(done.message, highlight=False, soft_wrap=True)
        print(done.best_checkpoint or done.last_checkpoint)
        return 0
    if not args.quiet:
        err.print(f"{done.message}; last checkpoint: {done.last_checkpoint}", highlight=False, soft_wrap=True)
        if done.best_checkpoint is not None:
            best = registry.read_info(done.best_checkpoint)
            err.print(f"best checkpoint: {done.best_checkpoint} (val {_fmt(best.val_bpc)} bits/char at step {best.step})",
                      highlight=False, soft_wrap=True)
    print(done.last_checkpoint)
    return 0


@contextlib.contextmanager
def _lost_peers_named(trainer: Any) -> Iterator[None]:
    """Under torchrun: a collective that fails because another process is gone (killed, crashed) ends
    in one line naming the step and the last checkpoint, not gloo's traceback."""
    from core.train import distributed

    try:
        yield
    except RuntimeError as exc:
        if trainer.world > 1 and distributed.lost_peer(exc) and not _is_oom(exc):
            raise UserError(_lost_peer_line(exc, trainer)) from None
        raise


def _novelty_corpus(args: argparse.Namespace, ckpt: Any) -> list[str]:
    """The texts ``--check-novelty`` compares with: DATA, else the corpus files the checkpoint records."""
    from core.data.corpus import FilterConfig, load_corpora
    from core.defaults import known_fields
    from core.store.provenance import ProvenanceError, find_recorded

    if isinstance(args.check_novelty, Path):
        paths = [args.check_novelty]
    else:  # the recorded corpus, only if it is still the file trained on (core.store.provenance)
        try:
            paths = find_recorded(ckpt.train_state, ckpt.path, hint="give one: --check-novelty DATA")
        except ProvenanceError as exc:
            raise UserError(str(exc)) from None
    # the filters the run trained with, so the texts are those it saw
    try:
        filters = FilterConfig(**known_fields(FilterConfig, ckpt.train_state.get("filter_config")))
    except (TypeError, ValueError):
        filters = FilterConfig()
    return load_corpora(paths, filters)[0]


def _sampling_what(streams: int, max_len: int) -> str:
    texts = "a text" if streams == 1 else f"{streams:,} texts"
    return f"sampling {texts} of up to {max_len:,} characters"


def _sampling_hint(streams: int) -> str:
    """What lowers the memory a sampling needs: only what was not done already (one stream: only --max-len)."""
    if streams == 1:
        return "use a lower --max-len"
    return "ask for fewer texts (-n) or a lower --max-len, or use --stream (one text at a time)"


def cmd_sample(args: argparse.Namespace, console: Console) -> int:
    import json
    import random

    from core.store.export import sample_record, to_line
    from core.train.limits import check_memory, sampling_bytes
    from core.model.sampler import SampleConfig, default_max_len, sample_batch, stream, with_seed, write
    from core.train.device import resolve_device

    ckpt = _load_ckpt(args.checkpoint, best=True)
    limit = ckpt.model_config.max_length
    # the hard cut: what the user asked, else a quarter past the model's longest training text
    # (default_max_len, known once the model is built; its upper bound is checked for memory first)
    floor = defaults.SAMPLE_MAX_LEN
    cap = args.max_len or max(floor, (max(limit, args.length or 0) or floor) * 5 // 4 + 1)
    try:
        device = resolve_device(args.device)
        cfg = SampleConfig(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                           max_len=cap, prime=args.prime, seed=args.seed, length=args.length)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if args.length is not None and ckpt.model_config.length_input and limit and args.length > limit:
        raise UserError(f"--length {args.length} is longer than this model was trained for ({limit}); use {limit} or less")
    index = None
    if args.check_novelty is not None:
        from core.model.novelty import COPY_THRESHOLD, NoveltyIndex

        texts = _novelty_corpus(args, ckpt)
        index = NoveltyIndex.build(texts, threshold=args.copy_threshold or COPY_THRESHOLD)
    elif args.copy_threshold is not None:
        raise UserError("--copy-threshold applies to --check-novelty; add --check-novelty [DATA]")
    one_by_one = args.stream or args.json or index is not None
    streams = 1 if one_by_one else args.num
    check_memory(sampling_bytes(ckpt.model_config, streams, cap), _sampling_what(streams, cap),
                 _sampling_hint(streams), device)
    model = ckpt.model(device)
    if args.max_len is None:
        cfg = replace(cfg, max_len=default_max_len(model, args.length))
    if device.type == "cpu":
        import torch

        torch.set_num_threads(1)  # one stream's kernels are too small to split; extra threads only wait (bench/RESULTS.md)
    out = sys.stdout
    if not one_by_one:
        for text in sample_batch(model, ckpt.vocab, args.num, cfg):
            out.write(text + "\n")
        return 0
    # One text at a time, text i with seed + i: each line can be reproduced alone with its own seed
    # (a run without --seed draws one, and --json reports it).
    base = cfg.seed if cfg.seed is not None else random.SystemRandom().randrange(2**62)
    copies = 0
    for i in range(args.num):
        one = with_seed(cfg, base + i)
        if args.stream and not args.json:
            out.write(cfg.prime)
            chars = []
            for ch in stream(model, ckpt.vocab, one):
                chars.append(ch.char)
                out.write(ch.char)
                out.flush()
            out.write("\n")
            out.flush()
            text = cfg.prime + "".join(chars)
            written = None
        else:
            written = write(model, ckpt.vocab, one)
            text = written.text
        found = index.check(text) if index is not None else None
        if args.json:
            assert written is not None
            record = sample_record(written, one, checkpoint=ckpt.path, step=ckpt.step, novelty=found)
            out.write(to_line(record) + "\n")
        elif not args.stream:
            out.write(text + "\n")
        if found is not None and found.copied and not args.json:
            copies += 1
            sys.stderr.write(f"copied: text {i + 1} shares {found.longest} characters with training text {found.source}: "
                             f"{json.dumps(found.match, ensure_ascii=False)}\n")
    if index is not None and not args.json:
        sys.stderr.write(f"{copies} of {args.num} texts copy {index.threshold}+ characters of a training text\n")
    return 0


def cmd_eval(args: argparse.Namespace, console: Console) -> int:
    from core.data.corpus import load_corpus
    from core.train.limits import check_memory, eval_bytes
    from core.train.device import resolve_device
    from core.train.evaluate import evaluate_bpc, length_cost_bpc
    from core.data.vocab import UNK_ID

    ckpt = _load_ckpt(args.checkpoint, best=True)
    filt = _filter_config(args, ckpt.train_state.get("filter_config"))
    texts, report = load_corpus(args.data, filt, fmt=args.format, column=args.column)
    encoded = [ckpt.vocab.encode(t) for t in texts]
    unknown = sum(s.count(UNK_ID) for s in encoded)
    try:
        device = resolve_device(args.device)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    longest = max(map(len, encoded))
    batch = max(1, min(256, EVAL_POSITIONS // longest))  # long texts: fewer per batch, so a batch stays bounded
    check_memory(eval_bytes(ckpt.model_config, batch, longest), f"evaluating texts of up to {longest - 2:,} characters",
                 "lower --max-len to leave out the longest texts, or split them", device)
    model = ckpt.model(device)
    given = evaluate_bpc(model, encoded, batch_size=batch, device=device)
    length = length_cost_bpc(model, encoded)  # 0 for a model that is not told the length
    n_chars = sum(len(s) - 1 for s in encoded)
    print(f"{given + length:.4f} bits/char over {n_chars:,} characters in {len(texts):,} texts ({args.data})"
          + (f"; {given:.4f} given each text's length, which costs {length:.4f}" if model.length_aware else "")
          + (f"; {unknown:,} characters unknown to the model" if unknown else ""))
    return 0


def cmd_info(args: argparse.Namespace, console: Console) -> int:
    ckpt = _load_ckpt(args.checkpoint)
    ts, m = ckpt.train_state, ckpt.metrics
    table = Table(show_header=False, box=None)
    rows = [
        ("file", str(ckpt.path)), ("run", str(ts.get("run", "-"))), ("created", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ckpt.created))),
        ("step", str(ckpt.step)), ("epoch", str(ts.get("epoch", "-"))),
        ("val bits/char", _fmt(m.get("val_bpc"))), ("best val bits/char", _fmt(m.get("best_val_bpc"))),
        ("train loss (nats/char)", _fmt(m.get("train_loss"))),
        ("model", ", ".join(f"{k}={v}" for k, v in ckpt.model_config.to_dict().items() if k != "link_lengths")),
        ("parameters", f"{ckpt.model().num_parameters():,}"), ("vocab", f"{len(ckpt.vocab)} symbols"),
        ("trained on", ", ".join(map(str, ts.get("data_paths") or [ts.get("data_path", "-")]))), ("training time", f"{float(ts.get('elapsed', 0.0)):.0f}s"),
        ("optimizer", _optimizer_line(ts.get("train_config"), ts.get("lr_scale"))),
        ("world size", str(_world_size(ts))),
        ("length", _length_row(ckpt.model_config)),
        ("links finished", _links_row(ckpt.model_config)),
    ]
    for key, value in rows:
        table.add_row(f"[bold]{key}[/]", value)
    console.print(table)
    return 0


def _links_row(config: Any) -> str:
    """The link sites whose links the sampler writes to a corpus length (core.model.links), with those lengths."""
    if not config.link_lengths:
        return "none recorded (the sampler does not finish links)"
    return "; ".join(f"{site}/ {'/'.join(map(str, lengths))} characters" for site, lengths in config.link_lengths)


def _length_row(config: Any) -> str:
    """What the model knows of lengths: told the remaining characters, or steered through <eos> when sampling."""
    if config.length_input and config.max_length:
        return f"told how many characters remain, up to {config.max_length}"
    if config.max_length:
        return f"not told; trained on texts of up to {config.max_length} characters (sampling steers <eos>)"
    return "not told (a tweetgen 0.1 model)"


def _world_size(train_state: dict[str, Any]) -> int:
    """How many processes trained it (torchrun); 1 for files written before that was recorded."""
    value = train_state.get("world_size", 1)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else 1


def _optimizer_line(stored: Any, lr_scale: Any) -> str:
    """'schedulefree, lr 0.006, weight decay 0.1, constant after warm-up' from a checkpoint's train_config
    (Adam + cosine for tweetgen 0.1 files)."""
    if not isinstance(stored, dict):
        return "-"
    from core.train.trainer import TrainConfig

    cfg = TrainConfig.from_stored(stored)
    line = f"{cfg.get('optimizer', 'schedulefree')}, lr {cfg.get('lr', '-')}"
    if isinstance(cfg.get("weight_decay"), (int, float)):
        line += f", weight decay {cfg['weight_decay']:g}"
    line += f", {cfg.get('lr_schedule', 'constant')} after warm-up"
    if isinstance(lr_scale, float) and lr_scale < 1:
        line += f" (lowered x{lr_scale:g} by the guard)"
    return line


def cmd_list(args: argparse.Namespace, console: Console) -> int:
    from core.humanize import age
    from core.store.registry import list_checkpoints, runs_dir

    root = args.dir or runs_dir()
    infos = list_checkpoints(root)
    if not infos:
        console.print(f"no checkpoints under {root}", highlight=False)
        return 0
    table = Table("run", "step", "val bits/char", "age", "file", title=f"checkpoints under {root}")
    table.columns[-1].overflow = "fold"
    for info in infos:
        rel = info.path.relative_to(root) if info.path.is_relative_to(root) else info.path
        table.add_row(info.run, str(info.step), _fmt(info.val_bpc), age(info.created), str(rel))
    console.print(table)
    return 0


def cmd_neurons(args: argparse.Namespace, console: Console) -> int:
    from core.cli.neurons import cmd_neurons as run

    return run(args, console)


COMMANDS = {"train": cmd_train, "sample": cmd_sample, "eval": cmd_eval, "info": cmd_info, "list": cmd_list,
            "neurons": cmd_neurons}


def main(argv: Sequence[str] | None = None) -> int:
    from core.store.checkpoints import CheckpointError
    from core.data.corpus import CorpusError
    from core.train.distributed import PeerFailed
    from core.train.limits import LimitError

    parser = build_parser()
    args = parser.parse_args(argv)
    prog = f"tweetgen {args.command}"
    console = Console()
    try:
        return COMMANDS[args.command](args, console)
    except PeerFailed:  # under torchrun: another process failed and printed why; this one has nothing to add
        return EXIT_FAILURE
    except (UserError, CorpusError, CheckpointError, LimitError, MemoryError, RuntimeError) as exc:
        if not _say(prog, exc):
            raise
        return EXIT_FAILURE
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0


def _error_line(prog: str, exc: BaseException) -> str | None:
    """The one line a user-fixable error prints; None for a bug (which keeps its traceback)."""
    from core.store.checkpoints import CheckpointError
    from core.data.corpus import CorpusError
    from core.train.limits import LimitError, is_out_of_memory

    if isinstance(exc, (UserError, CorpusError, CheckpointError, LimitError)):
        return f"{prog}: error: {exc}"
    if isinstance(exc, (MemoryError, RuntimeError)) and is_out_of_memory(exc):
        return (f"{prog}: error: out of memory ({type(exc).__name__}); use a smaller corpus, model, batch size or -n; "
                "checkpoints already written are kept")
    return None


def _say(prog: str, exc: BaseException) -> bool:
    """Print ``exc``'s one line on stderr, once (False: it has none). Under torchrun the failing rank
    prints it as it fails (:func:`cmd_train`), and main() then does not print it again."""
    if getattr(exc, "_tweetgen_said", False):
        return True
    line = _error_line(prog, exc)
    if line is None:
        return False
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
    try:
        exc._tweetgen_said = True  # type: ignore[attr-defined]
    except AttributeError:
        pass
    return True


if __name__ == "__main__":
    raise SystemExit(main())
