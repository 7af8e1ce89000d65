"""The ``openhero`` command: serve, worker, demo, keys, db, plus each domain's own sub-commands."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
import sys
from typing import Annotated, Any, NoReturn

import typer

from openhero.domains import domain_modules
from openhero.settings import ConfigError, Settings, get_settings

app = typer.Typer(help="openhero: an open, self-hostable Hero Health Public API server.", no_args_is_help=True)
keys_app = typer.Typer(help="Create, list, revoke and rotate partner API keys.", no_args_is_help=True)
db_app = typer.Typer(help="Database: migrations, retention prune, backup and restore.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


# Commands that sign, verify or encrypt with OPENHERO_SECRET_KEY (serve checks after applying --demo).
USES_SECRET = {"worker", "patients trace"}


def _fail(message: str) -> NoReturn:
    typer.echo(f"openhero: {message}", err=True)
    raise typer.Exit(2)


def load_settings(*, uses_secret: bool) -> Settings:
    """The settings a command runs with, or one line on stderr and exit 2: invalid values, a database URL
    without a driver, an unreadable ``*_FILE``, or (for commands using the secret) the published
    development secret outside sandbox mode. In sandbox mode the database's own secret replaces it."""
    from pydantic import ValidationError

    from openhero.settings import describe_validation_error

    try:
        settings = get_settings()
        settings.check_config()
        if uses_secret:
            settings.check_secrets()
            if settings.uses_development_secret:
                from openhero.core.db import Database
                from openhero.core.instance import apply_secret

                async def resolve() -> None:
                    db = Database(settings.database_url, pool_size=1)
                    try:
                        await apply_secret(db, settings)
                    finally:
                        await db.dispose()

                _run(resolve())
    except ValidationError as exc:
        _fail(f"configuration error: {describe_validation_error(exc)}")
    except ConfigError as exc:
        _fail(f"configuration error: {exc}")
    return settings


@app.callback()
def _check_configuration(ctx: typer.Context) -> None:
    if not ctx.resilient_parsing and ctx.invoked_subcommand:
        load_settings(uses_secret=ctx.invoked_subcommand in USES_SECRET)


def _uses_secret(fn: Any) -> Any:
    @functools.wraps(fn)  # Typer reads the wrapped signature
    def checked(*args: Any, **kwargs: Any) -> Any:
        load_settings(uses_secret=True)
        return fn(*args, **kwargs)

    return checked


# Domain CLIs mounted as `openhero <domain> ...` when the domain provides ``cli.app``.
for _domain, _module in domain_modules("cli"):
    for _command in _module.app.registered_commands:
        if f"{_domain} {_command.name or _command.callback.__name__.replace('_', '-')}" in USES_SECRET:
            _command.callback = _uses_secret(_command.callback)
    app.add_typer(_module.app, name=_domain)


def main() -> None:
    """The ``openhero`` entry point: configuration and database-connection errors are one line, not a
    traceback."""
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    try:
        app()
    except ConfigError as exc:
        typer.echo(f"openhero: configuration error: {exc}", err=True)
        sys.exit(2)
    except (SQLAlchemyError, OSError) as exc:
        orig = getattr(exc, "orig", None) if isinstance(exc, DBAPIError) else exc
        reason = (str(orig).strip().splitlines() or [type(exc).__name__])[0]
        typer.echo(f"openhero: cannot use the database at OPENHERO_DATABASE_URL: {reason}", err=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(2)  # a driver thread still reporting to the closed event loop must not print a traceback


async def _with_session(settings: Settings, fn: Any) -> Any:
    from openhero.core.db import Database

    db = Database(settings.database_url, pool_size=2)
    try:
        async with db.session() as session:
            result = await fn(session)
            await session.commit()
            return result
    finally:
        await db.dispose()


@db_app.command("upgrade")
def db_upgrade(revision: str = "heads") -> None:
    """Apply every pending migration (all domain branches)."""
    from openhero.core.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url, revision)
    typer.echo(f"database at {settings.database_url} is up to date ({revision})", err=True)


async def _demo(settings: Settings) -> dict[str, Any]:
    from datetime import UTC, datetime

    from openhero.core.auth import PERMISSIONS, SCOPES
    from openhero.practice.demo import seed_demo
    from openhero.practice.keys import create_key

    async def work(session: Any) -> dict[str, Any]:
        ids = await seed_demo(session, datetime.now(UTC))
        key, raw = await create_key(session, practice_group_id=ids.practice_group_id, scopes=list(SCOPES),
                                    permissions=list(PERMISSIONS), name="demo key", partner_name="Demo Partner")
        return {"practice_group_id": str(ids.practice_group_id), "api_key": raw, "key_id": str(key.id),
                "sister_practice_group_id": str(ids.sister_practice_group_id),
                "outside_practice_group_id": str(ids.outside_practice_group_id),
                "patient_links": await _demo_links(session, ids.practice_group_id, settings.public_base_url)}

    return await _with_session(settings, work)


@app.command()
def demo(as_json: Annotated[bool, typer.Option("--json", help="print only the JSON document")] = False) -> None:
    """Seed the demo practice groups if absent and mint a fresh key with every scope."""
    from openhero.core.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    info = _run(_demo(settings))
    if as_json:
        typer.echo(json.dumps({"practice_group_id": info["practice_group_id"], "api_key": info["api_key"]}))
    else:
        _print_welcome(info, settings.public_base_url)


async def _demo_links(session: Any, practice_group_id: int, base_url: str) -> list[str]:
    """The demo's patient-facing links (booking and form links), ready to open in a browser."""
    try:
        from openhero.links.models import BookingLink, FormLink
    except ModuleNotFoundError:
        return []
    from sqlalchemy import select

    out = []
    for model, prefix, what in ((BookingLink, "l", "booking link"), (FormLink, "f", "form link")):
        rows = (await session.execute(select(model).where(model.practice_group_id == practice_group_id)
                                      .order_by(model.id))).scalars().all()
        for row in rows:
            line = f"{what}: {base_url}/{prefix}/{row.code}"
            if row.patient_id:
                from openhero.patients.models import Patient

                patient = await session.get(Patient, row.patient_id)
                line = (f"patient-specific {line}  ({patient.first_name} {patient.last_name}, "
                        f"date of birth {patient.dob.isoformat() if patient.dob else '?'})")
            out.append(line)
    return out


def _print_welcome(info: dict[str, Any], base_url: str) -> None:
    typer.echo(
        f"\n  openhero demo practice group: Oakwood Surgery (id {info['practice_group_id']})\n"
        f"  API key (shown once):         {info['api_key']}\n"
        f"  sister practice (same network, cross-org calls allowed): {info['sister_practice_group_id']}\n"
        f"  practice outside the network (403):                      {info['outside_practice_group_id']}\n\n"
        f"  curl -s {base_url}/v1/me -H 'x-api-key: {info['api_key']}' "
        f"-H 'x-practice-group-id: {info['practice_group_id']}'\n\n"
        f"  API docs: {base_url}/docs\n")
    if info.get("patient_links"):
        typer.echo("  Patient pages (open in a browser):\n" + "".join(f"    {x}\n" for x in info["patient_links"]))


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    demo_mode: Annotated[bool, typer.Option("--demo", help="sandbox mode, seed demo data, print a key")] = False,
    worker: Annotated[bool, typer.Option("--worker/--no-worker", help="run a worker in-process")] = True,
    workers: Annotated[int, typer.Option(help="API processes")] = 1,
    migrate: Annotated[bool, typer.Option("--migrate/--no-migrate", help="apply migrations first")] = True,
) -> None:
    """Serve the API with uvicorn (uvloop, httptools)."""
    import uvicorn

    from openhero.core.migrate import upgrade

    if demo_mode:
        os.environ["OPENHERO_SANDBOX"] = "1"
    os.environ["OPENHERO_SERVE_WORKER"] = "1" if worker else "0"
    os.environ.setdefault("OPENHERO_PUBLIC_BASE_URL", f"http://{host}:{port}")
    get_settings.cache_clear()
    settings = load_settings(uses_secret=False)
    try:
        settings.check_secrets()
    except ConfigError as exc:
        _fail(f"configuration error: {exc}")
    from openhero.core.logging import configure_logging, logging_config

    configure_logging(settings.log_format, settings.log_level)
    if workers > 1 and settings.metrics_enabled:
        _multiprocess_metrics_dir()
    if migrate or demo_mode:
        upgrade(settings.database_url)
    if settings.uses_development_secret:  # sandbox: create the database's secret before serving
        load_settings(uses_secret=True)
    if demo_mode:
        _print_welcome(_run(_demo(settings)), settings.public_base_url)
    # Our request log replaces uvicorn's access log (raw paths and query strings can hold patient data).
    uvicorn.run("openhero.app:create_app", factory=True, host=host, port=port, workers=workers,
                loop="uvloop", http="httptools", log_level=settings.log_level, proxy_headers=False,
                access_log=False, log_config=logging_config(settings.log_format, settings.log_level),
                timeout_graceful_shutdown=int(settings.shutdown_timeout_seconds))


def _multiprocess_metrics_dir() -> None:
    """Several API processes share metrics through files (prometheus-client's multiprocess mode); the
    directory is emptied first so counters of a previous run do not linger."""
    import shutil
    import tempfile

    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.path.join(tempfile.gettempdir(),
                                                                       f"openhero-metrics-{os.getpid()}")
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path


@app.command("openapi")
def openapi_command(output: Annotated[str | None, typer.Option("--output", "-o", help="write to FILE")] = None
                    ) -> None:
    """Print the OpenAPI document the server publishes at /openapi.json, without starting a server."""
    import secrets

    from openhero.app import create_app

    # No request is served, so the secret is irrelevant; a throwaway one passes the default-secret check.
    settings = get_settings().model_copy(update={"secret_key": secrets.token_urlsafe(48)})
    text = json.dumps(create_app(settings, run_worker=False).openapi(), indent=2, ensure_ascii=False) + "\n"
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
        typer.echo(f"wrote {output}", err=True)
    else:
        typer.echo(text, nl=False)


@app.command("worker")
def run_worker(once: Annotated[bool, typer.Option("--once", help="run what is due, then exit")] = False,
               concurrency: int = 32,
               metrics_port: Annotated[int | None, typer.Option(help="serve this worker's /metrics here")] = None,
               metrics_host: str = "127.0.0.1") -> None:
    """Run a worker process: webhook deliveries, message sends, batch messages, scheduled jobs."""
    from openhero.core.backup import BackupError, hold_server_lock
    from openhero.core.clock import Clock
    from openhero.core.db import Database
    from openhero.core.logging import configure_logging
    from openhero.core.worker import Worker

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    try:
        lock = hold_server_lock(settings.database_url)
    except BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    stop_metrics = None
    if metrics_port is not None and settings.metrics_enabled:
        from openhero.core.metrics import worker_metrics_server

        stop_metrics = worker_metrics_server(metrics_port, metrics_host)

    async def main() -> None:
        from openhero.core.sandbox import wrap_clock

        db = Database(settings.database_url)
        w = Worker(db, settings, wrap_clock(Clock(), db, settings.sandbox), concurrency=concurrency)
        try:
            if once:
                await w.drain()
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await w.run(stop)
        finally:
            await db.dispose()

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux/macOS
        asyncio.run(main())
    finally:
        if stop_metrics is not None:
            stop_metrics()
        if lock is not None:
            lock.close()


@db_app.command("prune")
def db_prune(dry_run: Annotated[bool, typer.Option("--dry-run", help="count, delete nothing")] = False) -> None:
    """Delete rows past their retention (OPENHERO_RETENTION_*_DAYS) and report how many, per kind."""
    from datetime import UTC, datetime

    from openhero.core.db import Database
    from openhero.core.retention import prune

    settings = get_settings()

    async def work() -> dict[str, int]:
        db = Database(settings.database_url, pool_size=2)
        try:
            return await prune(db, settings, datetime.now(UTC), dry_run=dry_run)
        finally:
            await db.dispose()

    report = _run(work())
    verb = "would delete" if dry_run else "deleted"
    for name, count in report.items():
        typer.echo(f"{verb} {count}\t{name}")
    typer.echo(f"{verb} {sum(report.values())} rows in all", err=True)


@db_app.command("backup")
def db_backup(path: str) -> None:
    """SQLite: a consistent copy while serving. PostgreSQL: print the pg_dump command to run."""
    from openhero.core.backup import BackupError, backup

    try:
        typer.echo(backup(get_settings().database_url, path))
    except BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@db_app.command("restore")
def db_restore(path: str) -> None:
    """SQLite: replace the database with a backup; refused while a server or worker runs against it."""
    from openhero.core.backup import BackupError, restore

    try:
        typer.echo(restore(get_settings().database_url, path))
    except BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _scopes(raw: str) -> list[str]:
    return [s.strip() for s in raw.split(",") if s.strip()]


@keys_app.command("create")
def keys_create(
    practice_group: Annotated[int, typer.Option("--practice-group", help="practice group id")],
    scopes: Annotated[str, typer.Option(help="comma-separated: messaging,booking,booking_links")] = "",
    permissions: Annotated[str, typer.Option(help="comma-separated: auto_write_to_record")] = "",
    name: str = "",
    partner: Annotated[str | None, typer.Option(help="partner name")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Mint a key; the secret is printed once and stored only as a hash."""
    from openhero.core.errors import ApiError
    from openhero.practice.keys import create_key

    async def work(session: Any) -> dict[str, Any]:
        key, raw = await create_key(session, practice_group_id=practice_group, scopes=_scopes(scopes),
                                    permissions=_scopes(permissions), name=name, partner_name=partner)
        return {"id": str(key.id), "api_key": raw, "scopes": key.scopes, "permissions": key.permissions}

    try:
        out = _run(_with_session(get_settings(), work))
    except ApiError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps({"id": out["id"], "api_key": out["api_key"], "scopes": out["scopes"]}))
    else:
        typer.echo(f"key {out['id']} scopes={','.join(out['scopes']) or '-'}\n{out['api_key']}")


def _key_action(fn_name: str, key_id: int) -> Any:
    from openhero.core.errors import ApiError
    from openhero.practice import keys

    async def work(session: Any) -> Any:
        return await getattr(keys, fn_name)(session, key_id)

    try:
        return _run(_with_session(get_settings(), work))
    except ApiError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None


@keys_app.command("revoke")
def keys_revoke(key_id: int) -> None:
    """Revoke a key; it fails with 401 from the next request on."""
    _key_action("revoke_key", key_id)
    typer.echo(f"key {key_id} revoked")


@keys_app.command("rotate")
def keys_rotate(key_id: int, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Replace a key with a new secret (same scopes); the old one dies at once."""
    key, raw = _key_action("rotate_key", key_id)
    if as_json:
        typer.echo(json.dumps({"id": str(key.id), "api_key": raw, "scopes": key.scopes}))
    else:
        typer.echo(f"key {key_id} rotated; new key {key.id}:\n{raw}")


@keys_app.command("list")
def keys_list(practice_group: Annotated[int | None, typer.Option("--practice-group")] = None) -> None:
    """List keys (never their secrets)."""
    from openhero.practice.keys import list_keys

    rows = _run(_with_session(get_settings(), lambda s: list_keys(s, practice_group)))
    for k in rows:
        state = "revoked" if k.revoked_at else "active"
        typer.echo(f"{k.id}\tgroup={k.practice_group_id}\t{k.prefix}…\t{state}\tscopes={','.join(k.scopes)}\t{k.name}")


if __name__ == "__main__":
    main()
