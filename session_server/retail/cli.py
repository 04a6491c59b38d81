"""``python -m session_server devices add|list|revoke`` and ``retention``: run by staff and schedulers."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from assets_pipeline import clikit

from ..settings import SessionSettings
from .catalog import StoreCatalog
from .errors import RetailError
from .identity import DEVICE_KINDS, check_name

if TYPE_CHECKING:  # the database modules (SQLAlchemy) load when a command runs, not with the server
    from .db import RetailDB

T = TypeVar("T")
devices_app = clikit.App(help="Device keys of mirrors, readers and staff tablets (stored hashed).",
                         no_args_is_help=True, pretty_exceptions_show_locals=False)


def run_with_db(settings: SessionSettings, fn: Callable[[RetailDB], T]) -> T:
    """Open the retail database, run ``fn``, close; a RetailError is one stderr line and exit 2."""
    from .db import RetailDB
    from .service import database_url

    db = RetailDB(database_url(settings))
    try:
        return fn(db)
    except RetailError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise typer.Exit(2) from None
    finally:
        db.close()


def _settings(ctx: typer.Context) -> SessionSettings:
    obj: Any = ctx.obj
    if obj is None:  # called outside the main app (tests)
        return SessionSettings()
    return obj()  # type: ignore[no-any-return]


@devices_app.command("add")
def add(
    ctx: typer.Context,
    store: Annotated[str, typer.Option(help="store id, e.g. paris-01")],
    kind: Annotated[str, typer.Option(help=f"one of: {', '.join(DEVICE_KINDS)}")],
    room: Annotated[str | None, typer.Option(help="fitting room (mirrors and readers)")] = None,
    label: Annotated[str | None, typer.Option(help="a note for people, e.g. 'mirror room 3'")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the device and its key as JSON")] = False,
) -> None:
    """Register a device of a store (and fitting room) the catalog knows; print its key, once (it is stored
    hashed and cannot be shown again)."""

    def add_checked(db: RetailDB) -> tuple[Any, str]:
        from .devices import DeviceRegistry

        catalog = StoreCatalog()
        try:
            check_name(store, "store")
            if room is not None:
                check_name(room, "room")
                catalog.check_room(store, room)
            else:
                catalog.check_store(store)
        finally:
            catalog.close()
        return DeviceRegistry(db).add(store, kind, room, label)

    device, key = run_with_db(_settings(ctx), add_checked)
    if as_json:
        sys.stdout.write(json.dumps({**device.as_dict(), "key": key}) + "\n")
    else:
        sys.stderr.write(f"device {device.id} ({device.kind}, store {device.store}"
                         f"{', room ' + device.room if device.room else ''}); its key, shown once:\n")
        sys.stdout.write(key + "\n")


@devices_app.command("list")
def list_(
    ctx: typer.Context,
    store: Annotated[str | None, typer.Option(help="only this store's devices")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines")] = False,
) -> None:
    """List devices (never their keys)."""
    from .devices import DeviceRegistry

    found = run_with_db(_settings(ctx), lambda db: DeviceRegistry(db).list(store))
    for d in found:
        if as_json:
            sys.stdout.write(json.dumps(d.as_dict()) + "\n")
        else:
            state = "revoked" if d.revoked else "active"
            sys.stdout.write(f"{d.id}  {d.kind:<6}  {d.store}  {d.room or '-':<8}  {state:<7}  {d.label or ''}\n")


@devices_app.command("revoke")
def revoke(
    ctx: typer.Context, device_id: Annotated[str, typer.Argument(help="device id, e.g. dev_0123abcd4567")]
) -> None:
    """Revoke a device key: refused from now on."""
    from .devices import DeviceRegistry

    device = run_with_db(_settings(ctx), lambda db: DeviceRegistry(db).revoke(device_id))
    sys.stdout.write(f"revoked {device.id}\n")
