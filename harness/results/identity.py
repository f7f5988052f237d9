"""What a run records about its model and data without the user's filesystem in it.

Results are shared (a committed baseline, a runs.csv sent to a colleague), so no absolute local
path goes into ``spec.json`` or the tables read from it:

* a local model folder is recorded by a **label**, its last two path parts (``models/s1.1-32B``:
  the parent keeps two models of one name apart, as the default output folder does), and a
  **fingerprint** of its content (:func:`model_fingerprint`); a hub id is recorded as it is, with
  no fingerprint;
* data read from ``--data-dir`` is recorded as ``local:FILE`` (its path under the folder) next to
  ``data_sha256``;
* any other absolute path (an engine argument, the command line) by :func:`public_path`.

A resume compares labels and fingerprints, so it works from any working directory and is refused
for another model of the same name. Specs written before this module recorded absolute paths;
:func:`legacy_equal` lets such a run be resumed.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

LOCAL_DATA = "local:"
# Files that decide a model's outputs: its config, tokenizer, chat template, custom code, weights.
# (README, LICENSE, images and hidden folders such as .cache/ do not.)
_MODEL_SUFFIXES = (".json", ".jinja", ".txt", ".model", ".tiktoken", ".py", ".safetensors", ".bin", ".pt",
                   ".pth", ".gguf", ".msgpack", ".h5")
_WHOLE_MAX = 64 * 2**20  # files up to this size are hashed whole
_BLOCKS, _BLOCK = 16, 64 * 2**10  # larger ones: their size and 16 evenly spaced 64 KiB blocks
_IGNORED = frozenset({"/", ".", "..", "~"})


def is_local_model(model: str) -> bool:
    """``model`` names an existing folder (what transformers and vLLM load before trying the hub)."""
    return Path(model).expanduser().is_dir()


def path_label(path: str | Path, parts: int = 2) -> str:
    """The last ``parts`` parts of a path, joined by ``/`` (``/srv/models/qwq/`` -> ``models/qwq``),
    never the home folder's own name (``~/qwq`` -> ``qwq``: no user name in results)."""
    path = Path(str(path).rstrip("/") or "/").expanduser()
    kept = [p for p in _below_home(path).parts if p not in _IGNORED][-parts:]
    return "/".join(kept) or "~"


def _below_home(path: Path) -> Path:
    try:
        return path.relative_to(Path.home()) if path.is_absolute() else path
    except (ValueError, RuntimeError):  # not under it, or no home folder known
        return path


def model_label(model: str) -> str:
    """What ``spec.json``, runs.csv and baselines call ``model``: a hub id as it is, a local
    folder by the last two parts of its resolved path (the same from any working directory)."""
    if is_local_model(model):
        return path_label(Path(model).expanduser().resolve())
    if model.startswith(("/", "~")):  # an absolute path that is no folder here (a server's model name)
        return path_label(model)
    return model


def model_fingerprint(model: str) -> str | None:
    """``sha256:HEX`` of a local model folder's content, None for a hub id.

    Hashed, in name order: each file that decides outputs (``_MODEL_SUFFIXES``, top level, not
    hidden) by name and size, and its bytes when it is at most 64 MiB, else 16 evenly spaced
    64 KiB blocks of it (a fine-tune of the same shape differs in every block, and a 60 GB model
    is fingerprinted in well under a second from local disk). Dates and the folder's location do
    not count: a copy of the folder has the same fingerprint."""
    if not is_local_model(model):
        return None
    folder = Path(model).expanduser().resolve()
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if path.name.startswith(".") or not path.is_file() or not path.name.endswith(_MODEL_SUFFIXES):
            continue
        size = path.stat().st_size
        digest.update(f"{path.name}\0{size}\0".encode("utf-8"))
        with path.open("rb") as f:
            if size <= _WHOLE_MAX:
                for chunk in iter(lambda: f.read(2**20), b""):
                    digest.update(chunk)
            else:
                for i in range(_BLOCKS):
                    f.seek((size - _BLOCK) * i // (_BLOCKS - 1))
                    digest.update(f.read(_BLOCK))
    return f"sha256:{digest.hexdigest()}"


def data_source_label(source: str, data_dir: Path | None) -> str:
    """A task's data source as recorded: a file under ``--data-dir`` as ``local:FILE``."""
    if data_dir is not None:
        try:
            return LOCAL_DATA + Path(source).resolve().relative_to(Path(data_dir).resolve()).as_posix()
        except ValueError:
            pass
    return public_text(source)


_PATH_IN_TEXT = re.compile(r"(?<![\w:/.~-])[/~][^\s,;()]*")  # not a URL's //host/path, not a/b


def public_text(text: str) -> str:
    """``text`` with every absolute path in it made shareable (``lm_eval:x from /home/u/yamls``)."""
    return _PATH_IN_TEXT.sub(lambda m: public_path(m.group()), text)


def public_path(value: str) -> str:
    """An absolute local path made shareable: a path under the working directory relative to it,
    one under the home folder as ``~/``, deeper ones by their last two parts (``/.../models/qwq``,
    ``~/.../models/qwq``). Anything else is returned as it is."""
    if not value.startswith(("/", "~")):
        return value
    path = Path(value).expanduser()
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix() or "."
    except (ValueError, OSError):
        pass
    below = _below_home(path)
    prefix = "~/" if below != path else "/"
    return prefix + (below.as_posix() if len(below.parts) <= 2 else ".../" + path_label(path))


def public_argv(argv: list[str]) -> list[str]:
    """A command line with every absolute path (``/x``, ``--opt=/x``) made shareable."""
    out = []
    for arg in argv:
        flag, eq, value = arg.partition("=")
        out.append(f"{flag}={public_path(value)}" if eq and flag.startswith("-") else public_path(arg))
    return out


def public_info(info: dict[str, Any]) -> dict[str, Any]:
    """An engine's info for the spec: ``model`` by its label, other absolute paths made shareable."""
    out = {}
    for key, value in info.items():
        if key == "model" and isinstance(value, str):
            value = model_label(value)
        elif isinstance(value, str):
            value = public_path(value)
        out[key] = value
    return out


def legacy_equal(field: str, old: Any, new: Any) -> bool:
    """A value of a spec written before paths were kept out of it that names what ``new`` names:
    the model's path (absolute, or relative as typed) and its label, the data file's path and
    ``local:FILE``."""
    if not (isinstance(old, str) and isinstance(new, str) and old != new):
        return False
    if field == "data_source" and not os.path.isabs(old):
        return public_text(old) == new  # a source that names a folder (lm_eval:TASK from DIR)
    if field in ("model", "engine.model") and not os.path.isabs(old):
        return is_local_model(old) and model_label(old) == new  # a folder as typed (``./mymodel``)
    if not os.path.isabs(old):
        return False
    if field in ("model", "engine.model"):
        return path_label(old) == new
    if field == "data_source":
        local = new.startswith(LOCAL_DATA) and Path(old).as_posix().endswith("/" + new[len(LOCAL_DATA):])
        return local or public_text(old) == new
    return False
