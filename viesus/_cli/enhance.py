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
import inspect
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from viesus import EnhanceOptions, EnhanceResult
from viesus._cli.compare import contact_sheet
from viesus._cli.connection import Target, connect
from viesus._cli.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, UsageProblem
from viesus._cli.journal import JournalChoice, choose_journal
from viesus._cli.out_folder import check_out_folder
from viesus._cli.parameters import Flag, ParameterRow, build_flags, options_from_flags
from viesus._cli.pdfs import price_pdfs
from viesus._cli.plan import build_plan, check_budget, print_plan
from viesus._cli.progress import Events
from viesus._cli.records import now, without_query, write_report
from viesus._cli.run import forget_previous_local_server, run_batch
from viesus._cli.settings import Configuration, effective
from viesus._cli.sources import discover
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
    sources: list[str],
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
    try:
        async with connect(
            target, configured_endpoint=config.batch.endpoint, batch_size=config.batch.batch_size
        ) as viesus:
            remaining = await viesus.remaining_credits()
            plan = build_plan(sources, options, config.options, remaining)
            if any(item.kind == "pdf" for item in plan.items):
                plan = await price_pdfs(viesus, plan, options)
            events.emit("plan", **plan.as_json())
            if dry_run:
                if as_json:
                    print(json.dumps(plan.as_json(), indent=2))
                else:
                    print_plan(plan, console)
                return EXIT_OK
            check_budget(plan, config.batch.max_credits, config.batch.confirm_above, yes)
            out = config.batch.out
            assert out is not None
            out.mkdir(parents=True, exist_ok=True)
            if target.local:
                forget_previous_local_server(out, choice.path)
            started_at = now()
            results, records, interrupted = await run_batch(
                viesus,
                sources,
                options,
                config,
                out=out,
                choice=choice,
                sidecar=config.batch.sidecar,
                events=events,
                console=console,
            )
            endpoint = "local emulator" if target.local else str(without_query(viesus.endpoint))
            shared = choice.shared
            report = write_report(
                choice.report_path(out),
                started=started_at,
                endpoint=endpoint,
                options=config.options_json(),
                records=records,
                planned=len(sources),
                interrupted=interrupted,
                shared=None
                if shared is None
                else {"batch": shared.batch, "worker": shared.worker, "journal": shared.shown},
            )
            events.emit(
                "summary",
                report=str(report),
                interrupted=interrupted,
                counts={s: sum(1 for r in results if r.status == s) for s in STATES},
                not_done=None if shared else len(sources) - len(results),
            )
    finally:
        events.close()
    return summarise(
        results,
        records,
        report,
        interrupted,
        len(sources),
        compare,
        events,
        batch=choice.shared.batch if choice.shared else None,
    )


def summarise(
    results: list[EnhanceResult],
    records: list[dict[str, Any]],
    report: Path,
    interrupted: bool,
    planned: int,
    compare: Path | None,
    events: Events,
    batch: str | None = None,
) -> int:
    """The summary line and the exit code. In a shared ``batch`` the line covers this worker's
    items only (it says so); items it did not report were settled by other workers, so they
    are not "not done" (the batch's totals: ``viesus batch status``)."""
    failed = [r for r in results if not r.ok]
    done = {s: sum(1 for r in results if r.status == s) for s in ("finished", "skipped")}
    spent = sum(r["credits"] for r in records)
    counts = f"{done['finished']} enhanced, {done['skipped']} already done, {len(failed)} failed"
    if batch is None:
        print(
            f"{counts}, {planned - len(results)} not done; credits spent {spent}; "
            f"report {printable(report)}"
        )
    else:
        print(
            f"this worker's items only (batch {batch}, shared by workers; totals: viesus batch "
            f"status {batch}): {counts}; credits spent {spent}; report {printable(report)}"
        )
    for result in failed:
        print(failure_line(result.source, result.reason))
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
            },
        )
        if config.batch.out is None and not values["dry_run"]:
            raise UsageProblem('--out DIR is required (or out = "DIR" in the --config file)')
        if values["json"] and not values["dry_run"]:
            raise UsageProblem("--json prints the plan of a --dry-run; add --dry-run")
        sources = discover(values["sources"])
        if not sources:
            raise UsageProblem("no sources given")
        if config.batch.out is not None:
            check_out_folder(config.batch.out, create=not values["dry_run"])
        choice = choose_journal(
            values["journal"],
            values["batch"],
            values["lease"],
            out=config.batch.out,
            local=values["local"],
            sources=sources,
        )
        target = Target(values["api_key"], values["endpoint"], values["local"])
        code = asyncio.run(
            enhance_async(
                sources,
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
    keyword = inspect.Parameter.KEYWORD_ONLY

    def option(name: str, annotation: Any, default: Any) -> inspect.Parameter:
        return inspect.Parameter(name, keyword, default=default, annotation=annotation)

    return [
        inspect.Parameter(
            "sources",
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            default=typer.Argument(
                ...,
                help="Files, folders (recursive), globs, http(s) URLs, @list.txt, or - (stdin).",
                show_default=False,
            ),
            annotation=list[str],
        ),
        option("out", Path | None, typer.Option(None, "--out", "-o", help="Output folder.")),
        option(
            "config",
            Path | None,
            typer.Option(None, "--config", help="TOML or JSON file: options and batch settings."),
        ),
        option(
            "dry_run", bool, typer.Option(False, "--dry-run", help="Plan only; create nothing.")
        ),
        option(
            "json", bool, typer.Option(False, "--json", help="With --dry-run: the plan as JSON.")
        ),
        option(
            "max_credits",
            int | None,
            typer.Option(None, "--max-credits", min=0, help="Refuse a run costing more."),
        ),
        option(
            "confirm_above",
            int | None,
            typer.Option(
                None,
                "--confirm-above",
                min=0,
                help="Ask before spending more credits than this (default 100).",
            ),
        ),
        option("yes", bool, typer.Option(False, "--yes", "-y", help="Do not ask; confirm.")),
        option(
            "sidecar",
            bool,
            typer.Option(False, "--sidecar", help="Write NAME.viesus.json beside each output."),
        ),
        option(
            "events_jsonl",
            Path | None,
            typer.Option(None, "--events-jsonl", help="Append machine-readable events here."),
        ),
        option(
            "compare",
            Path | None,
            typer.Option(None, "--compare", help="Write a before/after contact sheet (PNG)."),
        ),
        option(
            "overwrite",
            bool,
            typer.Option(False, "--overwrite", help="Replace existing output files."),
        ),
        option(
            "batch_size",
            int | None,
            typer.Option(None, "--batch-size", min=1, help="Root fields per request (50)."),
        ),
        option(
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
        option(
            "batch",
            str | None,
            typer.Option(
                None,
                "--batch",
                help="Name of the batch shared in a postgresql:// journal; every worker started "
                "with the same name, sources, options and --out joins it.",
            ),
        ),
        option(
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
        option(
            "local",
            bool,
            typer.Option(False, "--local", help="Run against an in-process emulator (offline)."),
        ),
        option(
            "api_key",
            str | None,
            typer.Option(
                None, "--api-key", help="API key (default: VIESUS_API_KEY; never printed)."
            ),
        ),
        option(
            "endpoint",
            str | None,
            typer.Option(None, "--endpoint", help="GraphQL endpoint (default: VIESUS_ENDPOINT)."),
        ),
    ]


def _generated_parameters(flags: Sequence[Flag]) -> list[inspect.Parameter]:
    from viesus._cli.parameters import signature_parameters

    return signature_parameters(flags)
