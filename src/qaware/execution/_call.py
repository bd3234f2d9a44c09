"""One call ``fn(*args, **kwargs)`` packed as a single picklable object.

Why: (1) with cloudpickle (installed with submitit and dask) functions defined in ``__main__`` or a
notebook reach ``spawn`` workers by value, where plain pickle would fail to import them;
(2) backends get one argument-free callable, so a task keyword named ``key`` or ``pure`` cannot
collide with Dask's own ``submit`` keywords; (3) :class:`CapturedCall` returns an
:class:`Outcome` instead of raising, so an exception survives a submitit result pickle with its
type (submitit itself keeps only the traceback text).
"""

from __future__ import annotations

import pickle
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from qaware.errors import ExecutionError

__all__ = ["Call", "CapturedCall", "Outcome", "RemoteTraceback", "describe"]


def describe(fn: Callable[..., Any]) -> str:
    """A short readable name for ``fn`` (``module.qualname`` when it has one)."""
    target = getattr(fn, "func", fn)  # functools.partial
    name = getattr(target, "__qualname__", None) or type(target).__qualname__
    module = getattr(target, "__module__", None)
    return f"{module}.{name}" if module else str(name)


def _dumps(obj: Any) -> bytes:
    try:
        import cloudpickle
    except ImportError:  # plain pickle: functions must be importable by the worker
        return pickle.dumps(obj)
    return bytes(cloudpickle.dumps(obj))


def _rebuild(cls: type[Call], payload: bytes) -> Call:
    fn, args, kwargs = pickle.loads(payload)
    return cls(fn, args, kwargs)


class Call:
    """``fn(*args, **kwargs)``; pickles as one cloudpickle payload (plain pickle without it)."""

    def __init__(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> None:
        self.fn = fn
        self.args = tuple(args)
        self.kwargs = dict(kwargs)

    @property
    def name(self) -> str:
        return describe(self.fn)

    def __call__(self) -> Any:
        return self.fn(*self.args, **self.kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), _dumps((self.fn, self.args, self.kwargs))))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"


class RemoteTraceback(Exception):  # noqa: N818 (a traceback carrier, named as in the stdlib)
    """The worker-side traceback, attached as ``__cause__`` of a re-raised task exception."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f"\n{self.text}"


@dataclass(frozen=True)
class Outcome:
    """What a :class:`CapturedCall` returns: the value, or the exception and its traceback."""

    value: Any = None
    error: BaseException | None = None
    traceback: str = ""

    def unwrap(self) -> Any:
        """Return the value or raise the task's own exception (worker traceback as its cause)."""
        if self.error is None:
            return self.value
        raise self.error from RemoteTraceback(self.traceback)


def _survives_pickle(exc: BaseException) -> bool:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return False
    return True


class CapturedCall(Call):
    """Runs the call and returns an :class:`Outcome`; never raises an ``Exception``.

    An exception that cannot make the round trip through pickle is replaced by an
    :class:`~qaware.errors.ExecutionError` that carries its type name and message.
    """

    def __call__(self) -> Outcome:
        try:
            return Outcome(value=super().__call__())
        except Exception as exc:
            text = "".join(traceback.format_exception(exc))
            if not _survives_pickle(exc):
                exc = ExecutionError(
                    f"{self.name} raised {type(exc).__qualname__}: {exc} "
                    "(the exception could not be pickled back to the driver)"
                )
            return Outcome(error=exc, traceback=text)
