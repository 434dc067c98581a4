"""What the Ansible modules in library/ share: their error handling, ``chdir``, the inventory,
the state directory and the actor.

The modules run on the controller, in the Python of ansible-playbook where this package is
installed. Each keeps its own import guard (it has to work when this package is missing), its
DOCUMENTATION, EXAMPLES and RETURN, and its own result; the exceptions are mapped to ``fail_json``
here, as the command line maps them to exit codes:

- :class:`VendorwallError` (an invalid inventory, lock file or manifest): the rendered diagnostics,
  never a traceback; with ``stage=True`` also ``stage``, with ``errors=True`` also ``errors`` (every
  diagnostic as a dict, RETURN documents it);
- :class:`UsageError` (and the exceptions of ``also``, which render the same way): its message and hint;
- :class:`OSError`, when the module passes ``os_error``: the line that function makes of it;
- anything else (the command line's exit 70, a vendorwall bug): ``internal error: Type: message``,
  with the hint to rerun with -vvv unless ``internal_hint=False``, and the traceback only in
  ``exception=`` (Ansible shows it with -vvv); with ``internal=False`` it is not caught.

The knobs exist because the modules did not all fail the same way, and this module does not change
how any of them fails.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import traceback
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol, cast

from vendorwall.errors import UsageError, VendorwallError

INTERNAL_HINT = "\n  hint:     this is a vendorwall bug; rerun with -vvv and report the traceback"


class Module(Protocol):
    """The part of AnsibleModule used here (ansible is not a dependency of the package)."""

    def fail_json(self, msg: str, **kwargs: Any) -> Any: ...


class _Renders(Protocol):
    def render(self) -> str: ...


def inventory_root(sources: list[str] | None) -> str:
    """The inventory directory among ansible-playbook's -i sources (a directory, or a file inside it)."""
    for source in sources or []:
        root = source if os.path.isdir(source) or not os.path.splitext(source)[1] else os.path.dirname(source)
        if root:
            return os.path.normpath(root)
    return ""


DOMAIN_DIR = "vendorwall"  # the subdirectory of an inventory that holds the domain files


def inventory_dir(sources: list[str] | str, required: bool = True) -> str:
    """The one inventory directory (with a ``vendorwall/`` subdirectory) among ansible-playbook's -i sources
    (a source may be the directory or a file inside it). With ``required=False`` (isolation, which needs
    only the inventory's name), the first source's directory when none has one. Raises UsageError."""
    if isinstance(sources, str):
        sources = [sources]
    roots: list[str] = []
    for source in sources:
        root = os.path.normpath(source if os.path.isdir(source) else os.path.dirname(source))
        if os.path.isdir(os.path.join(root, DOMAIN_DIR)) and root not in roots:
            roots.append(root)
    if len(roots) == 1:
        return roots[0]
    if not required and not roots:
        first = sources[0] if sources else ""
        return os.path.normpath(first if os.path.isdir(first) else os.path.dirname(first)) if first else ""
    found = ", ".join(roots) if roots else "none among: " + (", ".join(sources) or "(no -i given)")
    raise UsageError(f"expected exactly one inventory directory with a {DOMAIN_DIR}/ subdirectory in the -i "
                     f"sources, found {found}",
                     "pass -i inventories/NAME, or -e vendorwall_inventory_dir=DIR (under AWX, whose inventory is "
                     "not the project's directory: the project's inventories/NAME)")


def project_dir(playbook_dir: str) -> str:
    """The directory relative paths are resolved against: the project holding ``playbooks/`` (this
    repository's layout), else the playbook's own directory (a hospital's repository using the collection)."""
    playbook_dir = os.path.normpath(str(playbook_dir))
    return os.path.dirname(playbook_dir) if os.path.basename(playbook_dir) == "playbooks" else playbook_dir


def hosts_arg(params: Mapping[str, Any]) -> dict[str, Any] | None:
    """The play's inventory the action plugin sent (``hosts`` and ``host_secrets``), for
    :func:`vendorwall.inventory.load`; None when the module was called without it (the inventory
    directory is read then)."""
    if params.get("hosts") is None:
        return None
    return {"hosts": params["hosts"], "secrets": params.get("host_secrets") or {}}


def run_context(state_dir: str | None, actor: Mapping[str, Any] | None) -> None:
    """This run's state directory (``vendorwall_state_dir``; empty: the default resolution of
    :mod:`vendorwall.state`) and the person it acts for (:mod:`vendorwall.actor`, for the journals)."""
    from vendorwall import actor as actor_mod
    from vendorwall import state

    state.set_run_override(state_dir or None)
    actor_mod.set_current(actor)


def chdir(module: Module, path: str | None) -> None:
    """Change into ``path`` when given; a directory that cannot be entered fails the task in one line."""
    if path:
        try:
            os.chdir(path)
        except OSError as exc:
            module.fail_json(msg=f"error: chdir: cannot change into {path}: {exc.strerror}")


def internal_error(exc: BaseException, hint: bool = True) -> str:
    """The message of an unexpected exception (a vendorwall bug)."""
    return f"internal error: {type(exc).__name__}: {exc}" + (INTERNAL_HINT if hint else "")


@contextlib.contextmanager
def failing(module: Module, *, stage: bool = False, errors: bool = False,
            also: tuple[type[Exception], ...] = (), os_error: Callable[[OSError], str] | None = None,
            internal: bool = True, internal_hint: bool = True) -> Iterator[None]:
    """Fail the task (``module.fail_json``) on an exception of the block, as the module docstring says."""
    usage: tuple[type[Exception], ...] = (UsageError, *also)
    try:
        yield
    except VendorwallError as exc:
        fields: dict[str, Any] = {}
        if stage:
            fields["stage"] = exc.stage
        if errors:
            fields["errors"] = [dataclasses.asdict(d) for d in exc.diagnostics]
        module.fail_json(msg=exc.render(), **fields)
    except usage as exc:
        module.fail_json(msg=cast(_Renders, exc).render())
    except Exception as exc:
        if os_error is not None and isinstance(exc, OSError):
            module.fail_json(msg=os_error(exc))
        elif internal:
            module.fail_json(msg=internal_error(exc, internal_hint), exception=traceback.format_exc())
        else:
            raise
