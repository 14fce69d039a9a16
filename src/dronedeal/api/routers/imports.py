"""Deal-pack imports over HTTP: `POST /imports` with the pack's files as multipart parts.

The parts are streamed to a fresh temporary folder (the multipart parser spools each
file to disk past 1 MB, and it is copied in 1 MB chunks), which is then imported exactly
as `dronedeal import` imports a folder: the same validation, the same messages, one
transaction. A refused pack is a 422 problem with every row error and writes nothing;
`?dry_run=true` validates only. A part's file name must be a plain name (no folders);
the pack reader decides what it is (`parties.csv`, a workbook, `agreements.yaml`, …).
The body size limit is the app's (`DRONEDEAL_MAX_UPLOAD_MB`, 413 beyond it). Admins and
officers import any pack; a manufacturer only shipments of its own products, an
inspector only inspections of its buyer's orders (`services.access.check_import_scope`,
checked inside the import's transaction, so a pack that oversteps lands nothing).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request, UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload

from dronedeal.api.deps import Settings, Token, caller, settings
from dronedeal.api.problems import ApiProblem
from dronedeal.services import access, keys
from dronedeal.services.importer import import_pack
from dronedeal.services.users import User

router = APIRouter(tags=["imports"])

CHUNK: Final = 1024 * 1024
MAX_FILES: Final = 64
_SAFE_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,127}")

_MULTIPART: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["files"],
            "properties": {"files": {"type": "array",
                                     "items": {"type": "string", "format": "binary"}}},
        }}},
    },
}


def _file_name(upload: UploadFile | StarletteUpload) -> str:
    name = upload.filename or ""
    if not _SAFE_NAME.fullmatch(name) or ".." in name:
        raise ApiProblem(422, f"file name {name!r} is not a plain pack file name such as "
                              "parties.csv, pack.xlsx or agreements.yaml")
    return name


def run_import(config: Settings, viewer: User | None, folder: Path, dry_run: bool
               ) -> dict[str, Any]:
    """Import the pack in `folder` as `viewer`, atomically, in the app's writing session;
    the summary's JSON. Shared by the API and the dashboard's import page."""
    if not config.key.exists():
        keys.create_key(config.key, keys.default_origin())
    signer = config.signer()
    with config.writers() as session, session.begin():
        mark = access.import_mark(session, viewer)
        summary = import_pack(session, folder, signer, dry_run=dry_run)
        access.check_import_scope(session, viewer, mark)
        if dry_run:
            session.rollback()
    return summary.as_json()


@router.post("/imports", openapi_extra=_MULTIPART)
async def post_import(
    request: Request, token: Token,
    dry_run: Annotated[bool, Query(description="validate only; write nothing")] = False,
) -> dict[str, Any]:
    """Import a deal pack (its files as multipart `files` parts), atomically: 200 with
    the summary, or 422 with every row error and nothing written."""
    viewer = access.require(await run_in_threadpool(caller, request, token), "imports")
    config = settings(request)
    with tempfile.TemporaryDirectory(prefix="dronedeal-upload-") as folder:
        root = Path(folder)
        async with request.form(max_files=MAX_FILES, max_fields=MAX_FILES) as form:
            uploads = [v for _, v in form.multi_items() if isinstance(v, StarletteUpload)]
            if not uploads:
                raise ApiProblem(422, "send the pack's files as multipart parts named "
                                      "`files`")
            names: set[str] = set()
            for upload in uploads:
                name = _file_name(upload)
                if name in names:
                    raise ApiProblem(422, f"file {name} is sent twice")
                names.add(name)
                with (root / name).open("wb") as out:
                    while chunk := await upload.read(CHUNK):
                        out.write(chunk)
        return await run_in_threadpool(run_import, config, viewer, root, dry_run)
