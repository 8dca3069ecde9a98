"""``viesus enhance SOURCE... --out DIR``: a folder of photos through the facade, resumably.

The run, in order: discover sources (sources.py); build the options (config file, then
flags: settings.py, parameters.py); plan (headers, limits, price, remaining credits: plan.py,
pdfs.py); stop here with ``--dry-run``; refuse past ``--max-credits``; ask above
``confirm-above`` credits (never on a non-terminal: it refuses and names ``--yes``); then run
the batch with the journal ``DIR/.viesus-journal.sqlite`` (run.py), so a rerun after a crash
or Ctrl-C resumes without paying twice; write the report and the contact sheet.

``--journal postgresql://… --batch NAME`` joins a batch shared by many workers instead
(journal.py, SCALING.md): the report (``viesus-report-BATCH-WORKER.json``, one per worker in
the shared folder), the progress and the summary line cover this worker's items only.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from viesus import AsyncViesus, EnhanceOptions, EnhanceResult
from viesus._cli.compare import contact_sheet
from viesus._cli.connection import Target, connect
from viesus._cli.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, UsageProblem
from viesus._cli.journal import JOURNAL_NAME, JournalChoice, choose_journal
from viesus._cli.ledger import Credits, from_results, read_journal, recorded_outputs, settle
from viesus._cli.out_folder import check_out_folder
from viesus._cli.outcomes import cli_reason
from viesus._cli.parameters import Flag, ParameterRow, build_flags, options_from_flags
from viesus._cli.pdf_prices import price_pdfs
from viesus._cli.plan import Plan, active_features, check_budget, print_plan
from viesus._cli.progress import Events
from viesus._cli.records import now, without_query, write_report
from viesus._cli.run import forget_previous_local_server, run_batch
from viesus._cli.settings import Configuration, effective
from viesus._cli.sources import Discovered, discover
from viesus._cli.text import failure_line, printable

STATES = ("finished", "skipped", "failed")


def console_for(stream: Any = None) -> Console:
    """Rich output on a terminal; plain text (no ANSI codes, no wrapping) otherwise."""
    return Console(file=stream, highlight=False, soft_wrap=not sys.stdout.isatty())


def make_options(raw: dict[str, Any]) -> EnhanceOptions:
    try:
        return EnhanceOptions.model_validate(raw)
    except ValueError as exc:
        raise UsageProblem(f"invalid enhancement options: {exc}") from None


async def enhance_async(
    found: Discovered,
    config: Configuration,
    target: Target,
    *,
    dry_run: bool,
    as_json: bool,
    yes: bool,
    events_path: Path | None,
    compare: Path | None,
    choice: JournalChoice,
) -> int:
    console = console_for()
    options = make_options(config.options)
    events = Events(events_path)
    sources = found.sources
    out = config.batch.out
    try:
        async with connect(
            target, configured_endpoint=config.batch.endpoint, batch_size=config.batch.batch_size
        ) as viesus:
            if target.local and out is not None and not dry_run:
                forget_previous_local_server(out, choice.path)
            with local_plan_journal(choice.path if target.local and dry_run else None) as copy:
                plan = await make_plan(viesus, found, options, config, copy or choice.path)
            events.emit("plan", **plan.as_json())
            if dry_run:
                if as_json:
                    print(json.dumps(plan.as_json(), indent=2))
                else:
                    print_plan(plan, console)
                return EXIT_OK
            check_budget(plan, config.batch.max_credits, config.batch.confirm_above, yes)
            assert out is not None
            out.mkdir(parents=True, exist_ok=True)
            before = read_journal(choice.path)
            # What the report counts: one source per item the plan has (an s3:// prefix is
            # listed into its objects); the run itself gets the arguments as given.
            listed = [item.source for item in plan.items]
            started_at = now()
            results, interrupted = await run_batch(
                viesus,
                sources,
                options,
                config,
                out=out,
                root=found.root,
                choice=choice,
                sidecar=config.batch.sidecar,
                events=events,
                console=console,
            )
            if choice.shared is None:
                after = read_journal(choice.path)
                credits = settle(listed, options, results, plan.items, before, after)
            else:
                credits = from_results(listed, results)
            report = write_report(
                choice.report_path(out),
                started=started_at,
                endpoint="local emulator" if target.local else str(without_query(viesus.endpoint)),
                options=config.options_json(),
                credits=credits,
                planned=len(listed),
                interrupted=interrupted,
                shared=_shared_scope(choice),
            )
            events.emit(
                "summary",
                report=str(report),
                interrupted=interrupted,
                counts={s: sum(1 for r in results if r.status == s) for s in STATES},
                not_done=None if choice.shared else len(listed) - len(results),
                credits=credits.as_json(),
            )
    finally:
        events.close()
    batch = choice.shared.batch if choice.shared else None
    return summarise(results, credits, report, interrupted, len(listed), compare, batch=batch)


async def make_plan(
    viesus: AsyncViesus,
    found: Discovered,
    options: EnhanceOptions,
    config: Configuration,
    journal: Path | None,
) -> Plan:
    """The facade's own decisions for every source (``plan_many``: the real run's checks and
    the journal's records), PDFs priced by the service's analysis, the remaining credits."""
    batch = await viesus.plan_many(
        found.sources,
        options,
        config.batch.destination or Path("."),
        journal=journal,
        overwrite=config.batch.overwrite,
        root=found.root,
        downscale=config.batch.downscale_to_fit,
    )
    remaining = await viesus.remaining_credits()
    plan = Plan(batch, active_features(config.options), remaining, {})
    if any(i.kind == "pdf" and i.pays and i.credits is None for i in batch.items):
        plan = await price_pdfs(viesus, plan, options)
    return plan


@contextlib.contextmanager
def local_plan_journal(journal: Path | None) -> Iterator[Path | None]:
    """For a ``--local --dry-run``: a copy of the journal as the real run would find it after
    forgetting the previous run's emulator (:func:`forget_previous_local_server`), so the plan
    decides as that run will; the journal itself is left as it is."""
    if journal is None or not journal.exists():
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="viesus-plan-") as folder:
        copy = Path(folder) / journal.name
        for companion in ("", "-wal"):
            source = journal.with_name(journal.name + companion)
            if source.exists():
                shutil.copyfile(source, copy.with_name(copy.name + companion))
        forget_previous_local_server(copy.parent, copy)
        yield copy


def _shared_scope(choice: JournalChoice) -> dict[str, str] | None:
    shared = choice.shared
    if shared is None:
        return None
    return {"batch": shared.batch, "worker": shared.worker, "journal": shared.shown}


def summarise(
    results: list[EnhanceResult],
    credits: Credits,
    report: Path,
    interrupted: bool,
    planned: int,
    compare: Path | None,
    batch: str | None = None,
) -> int:
    """The summary line and the exit code. In a shared ``batch`` the line covers this worker's
    items only (it says so); items it did not report were settled by other workers, so they
    are not "not done" (the batch's totals: ``viesus batch status``)."""
    failed = [r for r in results if not r.ok]
    done = {s: sum(1 for r in results if r.status == s) for s in ("finished", "skipped")}
    counts = f"{done['finished']} enhanced, {done['skipped']} already done, {len(failed)} failed"
    spent = f"credits charged {credits.charged} this run"
    if credits.pending:
        spent += f" (+{credits.pending} for jobs still running, charged when they finish)"
    if credits.earlier:
        spent += f" ({credits.earlier} for results paid by earlier runs)"
    if batch is None:
        print(
            f"{counts}, {planned - len(results)} not done; {spent}; "
            f"{credits.batch} for this batch in all; report {printable(report)}"
        )
    else:
        print(
            f"this worker's items only (batch {batch}, shared by workers; totals: viesus batch "
            f"status {batch}): {counts}; {spent}; report {printable(report)}"
        )
    for result in failed:
        print(failure_line(result.source, cli_reason(result)))
    if compare is not None:
        pairs = [(r.source, r.output_path) for r in results if r.ok and r.output_path]
        if pairs:
            print(f"before/after sheet: {printable(contact_sheet(pairs, compare))}")
    if interrupted:
        print("interrupted: rerun the same command to finish (nothing is paid twice)")
        return EXIT_INTERRUPTED
    if batch is not None:  # the worker returns only when no item it can work on is open
        return EXIT_FAILED if failed else EXIT_OK
    return EXIT_FAILED if failed or len(results) < planned else EXIT_OK


# --- the command -------------------------------------------------------------------------------


def make_command(table: Sequence[ParameterRow]) -> tuple[Callable[..., int], list[Flag]]:
    """The ``enhance`` command function, with one keyword parameter per generated flag."""
    flags = build_flags(table)

    def enhance(**values: Any) -> int:
        """Enhance images and PDFs: files, folders, globs, URLs, @list.txt or - (stdin)."""
        config = effective(
            values["config"],
            flags,
            options_from_flags(flags, values),
            {
                "out": values["out"],
                "max_credits": values["max_credits"],
                "confirm_above": values["confirm_above"],
                "sidecar": values["sidecar"] or None,
                "batch_size": values["batch_size"],
                "endpoint": values["endpoint"],
                "overwrite": values["overwrite"] or None,
                "downscale_to_fit": values["downscale_to_fit"] or None,
            },
        )
        if config.batch.out is None and not values["dry_run"]:
            raise UsageProblem('--out DIR is required (or out = "DIR" in the --config file)')
        if values["json"] and not values["dry_run"]:
            raise UsageProblem("--json prints the plan of a --dry-run; add --dry-run")
        out = config.batch.out
        journal = values["journal"]
        sqlite = journal if journal and "://" not in journal else None
        own = Path(sqlite).expanduser() if sqlite else (out / JOURNAL_NAME if out else None)
        walk_out = None if config.batch.out_bucket else out  # a bucket is never walked
        found = discover(values["sources"], out=walk_out, outputs=recorded_outputs(own))
        if not found.sources:
            raise UsageProblem("no sources given")
        if config.batch.out is not None:
            check_out_folder(config.batch.out, create=not values["dry_run"])
        choice = choose_journal(
            values["journal"],
            values["batch"],
            values["lease"],
            out=config.batch.out,
            local=values["local"],
            sources=found.sources,
        )
        target = Target(values["api_key"], values["endpoint"], values["local"])
        code = asyncio.run(
            enhance_async(
                found,
                config,
                target,
                dry_run=values["dry_run"],
                as_json=values["json"],
                yes=values["yes"],
                events_path=values["events_jsonl"],
                compare=values["compare"],
                choice=choice,
            )
        )
        raise typer.Exit(code)

    fixed = _fixed_parameters()
    generated = _generated_parameters(flags)
    enhance.__signature__ = inspect.Signature(fixed + generated)  # type: ignore[attr-defined]
    return enhance, flags


def _fixed_parameters() -> list[inspect.Parameter]:
    sources = inspect.Parameter(
        "sources",
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        default=typer.Argument(
            ...,
            help="Files, folders (recursive), globs, http(s) URLs, @list.txt, or - (stdin).",
            show_default=False,
        ),
        annotation=list[str],
    )
    keyword = inspect.Parameter.KEYWORD_ONLY
    return [
        sources,
        *(
            inspect.Parameter(name, keyword, default=default, annotation=annotation)
            for name, annotation, default in _FIXED_OPTIONS
        ),
    ]


_FIXED_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    (
        "out",
        str | None,
        typer.Option(None, "--out", "-o", help="Output folder, or s3://BUCKET/PREFIX/."),
    ),
    (
        "config",
        Path | None,
        typer.Option(None, "--config", help="TOML or JSON file: options and batch settings."),
    ),
    ("dry_run", bool, typer.Option(False, "--dry-run", help="Plan only; create nothing.")),
    ("json", bool, typer.Option(False, "--json", help="With --dry-run: the plan as JSON.")),
    (
        "max_credits",
        int | None,
        typer.Option(None, "--max-credits", min=0, help="Refuse a run costing more."),
    ),
    (
        "confirm_above",
        int | None,
        typer.Option(
            None,
            "--confirm-above",
            min=0,
            help="Ask before spending more credits than this (default 100).",
        ),
    ),
    ("yes", bool, typer.Option(False, "--yes", "-y", help="Do not ask; confirm.")),
    (
        "sidecar",
        bool,
        typer.Option(False, "--sidecar", help="Write NAME.viesus.json beside each output."),
    ),
    (
        "events_jsonl",
        Path | None,
        typer.Option(None, "--events-jsonl", help="Append machine-readable events here."),
    ),
    (
        "compare",
        Path | None,
        typer.Option(None, "--compare", help="Write a before/after contact sheet (PNG)."),
    ),
    (
        "overwrite",
        bool,
        typer.Option(False, "--overwrite", help="Replace existing output files."),
    ),
    (
        "downscale_to_fit",
        bool,
        typer.Option(
            False,
            "--downscale-to-fit",
            help="Send inputs over the AI upscaling limit (3000 px) downscaled to fit "
            "instead of refusing them (recorded in the report).",
        ),
    ),
    (
        "batch_size",
        int | None,
        typer.Option(None, "--batch-size", min=1, help="Root fields per request (50)."),
    ),
    (
        "journal",
        str | None,
        typer.Option(
            None,
            "--journal",
            envvar="VIESUS_JOURNAL",
            show_envvar=False,
            help="Journal file (default DIR/.viesus-journal.sqlite), or postgresql://USER@HOST"
            "/DB with --batch to share a batch with other workers (default: VIESUS_JOURNAL;"
            " a password in it is never printed).",
        ),
    ),
    (
        "batch",
        str | None,
        typer.Option(
            None,
            "--batch",
            help="Name of the batch shared in a postgresql:// journal; every worker started "
            "with the same name, sources, options and --out joins it.",
        ),
    ),
    (
        "lease",
        float | None,
        typer.Option(
            None,
            "--lease",
            min=1.0,
            help="Seconds a shared batch's claim lasts unless renewed (60); a dead "
            "worker's items come back after it.",
        ),
    ),
    (
        "local",
        bool,
        typer.Option(False, "--local", help="Run against an in-process emulator (offline)."),
    ),
    (
        "api_key",
        str | None,
        typer.Option(None, "--api-key", help="API key (default: VIESUS_API_KEY; never printed)."),
    ),
    (
        "endpoint",
        str | None,
        typer.Option(None, "--endpoint", help="GraphQL endpoint (default: VIESUS_ENDPOINT)."),
    ),
)
"""The command's own flags (name, annotation, typer default): a declarative table."""


def _generated_parameters(flags: Sequence[Flag]) -> list[inspect.Parameter]:
    from viesus._cli.parameters import signature_parameters

    return signature_parameters(flags)
