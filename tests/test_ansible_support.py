"""vendorwall.ansible_support: how the modules in library/ turn exceptions into fail_json."""

from __future__ import annotations

from typing import Any

import pytest

from vendorwall.ansible_support import chdir, failing, inventory_root
from vendorwall.errors import Diagnostic, UsageError, VendorwallError


class Failed(Exception):
    pass


class FakeModule:
    def __init__(self) -> None:
        self.failed: dict[str, Any] = {}

    def fail_json(self, msg: str, **kwargs: Any) -> None:
        self.failed = {"msg": msg, **kwargs}
        raise Failed


DIAG = Diagnostic("inv/vendors/a.yml", 3, "vendors.a.systems[0].site", "unknown site 'x'", hint="known sites: s")


def _fail(exc: Exception, **knobs: Any) -> dict[str, Any]:
    module = FakeModule()
    with pytest.raises(Failed), failing(module, **knobs):
        raise exc
    return module.failed


def test_vendorwall_error_is_rendered_with_the_fields_asked_for() -> None:
    exc = VendorwallError([DIAG], stage="validate")
    assert _fail(exc) == {"msg": exc.render()}
    assert _fail(exc, stage=True) == {"msg": exc.render(), "stage": "validate"}
    full = _fail(exc, stage=True, errors=True)
    assert list(full) == ["msg", "stage", "errors"] and full["errors"][0]["line"] == 3


def test_usage_error_and_also() -> None:
    out = _fail(UsageError("no inventory given", "pass -i"))
    assert out == {"msg": "error: no inventory given\n  hint:     pass -i"}

    class Bad(ValueError):
        def render(self) -> str:
            return "error: bad"

    assert _fail(Bad(), also=(Bad,)) == {"msg": "error: bad"}


def test_os_error_only_when_asked() -> None:
    exc = PermissionError(13, "Permission denied", "/out")
    out = _fail(exc, os_error=lambda e: f"error: {e.filename}: {e.strerror}")
    assert out == {"msg": "error: /out: Permission denied"}
    assert _fail(exc)["msg"].startswith("internal error: PermissionError:")


def test_internal_error_has_the_traceback_only_in_exception() -> None:
    out = _fail(KeyError("x"))
    assert out["msg"] == ("internal error: KeyError: 'x'\n  hint:     this is a vendorwall bug; rerun with -vvv and "
                          "report the traceback")
    assert "Traceback" in out["exception"] and "Traceback" not in out["msg"]
    assert _fail(KeyError("x"), internal_hint=False)["msg"] == "internal error: KeyError: 'x'"
    with pytest.raises(KeyError), failing(FakeModule(), internal=False):
        raise KeyError("x")


def test_nothing_raised_nothing_failed() -> None:
    module = FakeModule()
    with failing(module):
        pass
    assert module.failed == {}


def test_chdir_and_inventory_root(tmp_path: Any) -> None:
    module = FakeModule()
    with pytest.raises(Failed):
        chdir(module, str(tmp_path / "missing"))
    assert module.failed["msg"].startswith(f"error: chdir: cannot change into {tmp_path / 'missing'}: ")
    chdir(module, None)
    (tmp_path / "inv").mkdir()
    assert inventory_root([str(tmp_path / "inv") + "/"]) == str(tmp_path / "inv")
    assert inventory_root(["inventories/example/hosts.yml"]) == "inventories/example"
    assert inventory_root(["hosts.yml"]) == "" and inventory_root(None) == ""
