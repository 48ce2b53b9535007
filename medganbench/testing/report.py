"""Contracts as data, and the outcome of checking one component against them.

A kind's contracts are an ordered tuple of :class:`Contract`. Each names the promise it checks
and a function that checks it on a shared :class:`Probe` (the component built once, what one
step produced, ...), returning a one-line detail or raising :class:`ContractViolation`. A
contract may need others: if one of those failed, it is reported as failed too ("not checked:
needs build"), never as passed; if one was skipped, it is skipped too. :func:`run_contracts` runs them in order and hands back one
:class:`CheckResult` per contract.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

#: ``ok``: the promise holds; ``failed``: it does not (or a contract it needs failed);
#: ``skipped``: left out on purpose, with the reason.
Status = Literal["ok", "failed", "skipped"]


class ContractViolation(AssertionError):
    """A component breaks a contract; the message says how, in one line."""


class NotApplicable(Exception):  # noqa: N818 - a reason to skip, not an error
    """A contract does not apply to this component (the message says why): reported skipped."""


def expect(condition: object, message: str) -> None:
    """Raise :class:`ContractViolation` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise ContractViolation(message)


@dataclass
class Probe:
    """What the checks of one component share: its spec, arguments, and what they built.

    Attributes:
        kind: ``"model"``, ``"dataset"``, ``"metric"``, ``"executor"``, ``"weights"``,
            ``"encoder"`` or ``"tracker"``.
        name: the component's registered name.
        spec: its spec.
        args: the raw arguments it is checked with (strings or typed values).
        options: kind-specific settings of the check (the probe dataset, a weights file, ...).
        made: what earlier contracts built, by name, for later ones.
    """

    kind: str
    name: str
    spec: Any
    args: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    made: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Contract:
    """One promise a component of a kind makes.

    Attributes:
        key: short name, e.g. ``"exact-resume"``; what a failure is reported as.
        promise: the promise in one line.
        check: checks it on the probe; returns a one-line detail, raises
            :class:`ContractViolation` (or anything else: reported as the failure).
        needs: keys of contracts that must hold first.
    """

    key: str
    promise: str
    check: Callable[[Probe], str]
    needs: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one contract on one component."""

    kind: str
    name: str
    contract: str
    status: Status
    detail: str

    @property
    def passed(self) -> bool:
        """Whether this result does not fail the component (``ok`` or ``skipped``)."""
        return self.status != "failed"

    def line(self) -> str:
        """``ok      model tiny-conv  exact-resume: ...``: one line for the terminal."""
        return f"{self.status:<8}{self.body()}"

    def body(self) -> str:
        """:meth:`line` without its status column: ``model tiny-conv  exact-resume: ...``."""
        return f"{self.kind} {self.name}  {self.contract}: {self.detail}"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, ContractViolation):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_contracts(
    probe: Probe, contracts: tuple[Contract, ...], skip: Mapping[str, str]
) -> list[CheckResult]:
    """Check ``contracts`` in order on ``probe``; one result per contract.

    Args:
        probe: the component and what is shared between its checks.
        contracts: the kind's contracts.
        skip: contract key → why it is left out for this component.
    """
    results: list[CheckResult] = []
    failed: set[str] = set()
    skipped: set[str] = set()

    def result(key: str, status: Status, detail: str) -> None:
        results.append(CheckResult(probe.kind, probe.name, key, status, detail))
        (failed if status == "failed" else skipped if status == "skipped" else set()).add(key)

    for contract in contracts:
        if contract.key in skip:
            result(contract.key, "skipped", skip[contract.key])
            continue
        blocked = [need for need in contract.needs if need in failed]
        if blocked:
            result(contract.key, "failed", f"not checked: needs {', '.join(blocked)}")
            continue
        left_out = [need for need in contract.needs if need in skipped]
        if left_out:
            result(contract.key, "skipped", f"needs {', '.join(left_out)}, which is skipped")
            continue
        try:
            detail = contract.check(probe)
        except KeyboardInterrupt:
            raise
        except NotApplicable as exc:
            result(contract.key, "skipped", str(exc))
        except Exception as exc:  # noqa: BLE001 - a plugin's failure is the check's result
            result(contract.key, "failed", _one_line(exc))
        else:
            result(contract.key, "ok", detail)
    probe.made.clear()  # models and datasets are large; results are all that is kept
    return results
