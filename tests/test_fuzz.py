"""Random and mutated sources through `k2t check` and `k2t convert`: never a traceback, every output
parses, inputs are never modified, and converting an output again changes nothing."""

from __future__ import annotations

import ast
import tempfile
import warnings
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import fixture_cases
from k2t.cli import convert_file, main

SOURCES = [path.read_bytes() for path in fixture_cases()] or [
    b"import keras\n\nmodel = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])\n"
]


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


@st.composite
def mutated_sources(draw) -> bytes:
    """A fixture with a few line edits, byte edits or a truncation; or random bytes or text."""
    kind = draw(st.sampled_from(["fixture"] * 6 + ["bytes", "text"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "text":
        alphabet = st.sampled_from(list("keras.tf()[]{}:=,\n \t#'\"\\x1_") + ["import ", "def ", "\r\n", "é"])
        return "".join(draw(st.lists(alphabet, max_size=80))).encode("utf-8")
    data = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(1, 3))):
        lines = _lines(data)
        operation = draw(st.sampled_from(["delete", "duplicate", "swap", "truncate", "bytes", "replace"]))
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        if operation == "delete":
            del lines[i]
        elif operation == "duplicate":
            lines.insert(i, lines[i])
        elif operation == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif operation == "truncate":
            data = data[: draw(st.integers(0, len(data)))]
            continue
        elif operation == "bytes":
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(st.binary(min_size=1, max_size=4)) + lines[i][at:]
        else:  # replace a line by another line of any fixture
            lines[i] = draw(st.sampled_from(_lines(draw(st.sampled_from(SOURCES))) or [b"\n"]))
        data = b"".join(lines)
    return data


def _parses(data: bytes) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ast.parse(data)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated_sources())
def test_convert_and_check_never_crash(data):
    runner = CliRunner()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "model.py"
        source.write_bytes(data)
        out = Path(tmp) / "out.py"

        checked = runner.invoke(main, ["check", str(source)])
        assert checked.exception is None or isinstance(checked.exception, SystemExit), checked.exc_info
        assert checked.exit_code in (0, 1, 2), checked.output
        assert "Traceback" not in checked.output

        # A single file without -o: the translation goes to standard output.
        converted = runner.invoke(main, ["convert", str(source)])
        assert converted.exception is None or isinstance(converted.exception, SystemExit), converted.exc_info
        assert converted.exit_code in (0, 1, 2), converted.output
        assert "Traceback" not in converted.output
        assert source.read_bytes() == data  # the input is never modified
        assert sorted(p.name for p in Path(tmp).iterdir()) == ["model.py"]  # and nothing else written

        # check and convert agree on what is bad input.
        assert (checked.exit_code == 2) == (converted.exit_code == 2), (checked.output, converted.output)
        if converted.exit_code == 2:
            assert converted.stdout_bytes == b""  # no partial output
            assert len([line for line in converted.stderr.splitlines() if line.startswith("error: ")]) == 1
            return
        output = converted.stdout_bytes
        _parses(output)
        if output == data:
            return  # nothing changed: a second run is the same run
        # A second run changes nothing.
        out = Path(tmp) / "out.py"
        out.write_bytes(output)
        again = convert_file(str(out))
        assert again.error is None, again.error
        assert not again.changed, "converting the output again changed it"
