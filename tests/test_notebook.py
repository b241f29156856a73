"""Tests for k2t.notebook: notebooks as one program, and back."""

from __future__ import annotations

import json
import re

import black
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from k2t.notebook import Program, notebook_to_program, program_to_notebook


def code(src: str, **extra) -> dict:
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "outputs": [],
        "source": src,
    }
    cell.update(extra)
    return cell


def markdown(src: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": src}


def notebook(*cells: dict) -> str:
    """A notebook serialised exactly as nbformat.writes() does."""
    nb = {
        "cells": [dict(c, source=c["source"].splitlines(True)) for c in cells],
        "metadata": {
            "kernelspec": {
                "display_name": "Python 3",
                "language": "python",
                "name": "python3",
            },
            "language_info": {"name": "python", "version": "3.11.7"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def sources(nb_text: str) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(nb_text)["cells"]]


def fmt(text: str) -> str:
    return black.format_str(text, mode=black.Mode())


def keras_to_torch(text: str) -> str:
    """A stand-in translator: edits code, keeps comments, then runs black."""
    lines = [
        line if line.lstrip().startswith("#") else line.replace("keras", "torch")
        for line in text.splitlines(True)
    ]
    return fmt("".join(lines))


OUTPUT = {
    "name": "stdout",
    "output_type": "stream",
    "text": ["Epoch 1/3 — loss: 0.25\n"],
}

EXAMPLE = notebook(
    markdown("# Training *keras* models\n\nSee `keras.Model`."),
    code("%matplotlib inline\nimport keras\nimport numpy as np", execution_count=1),
    code(
        "model = keras.Sequential([keras.layers.Dense(3)])\nmodel.summary()",
        outputs=[OUTPUT],
        execution_count=2,
    ),
    {"cell_type": "raw", "metadata": {}, "source": "keras raw cell"},
    code("%%time\nfor epoch in range(3):\n    !echo {epoch}\n    model.fit(x, y)"),
    code(
        "!pip install keras\nkeras.layers.Dense?\n?keras.Model\nfiles = !ls\nprint(len(files))  # how many?"
    ),
    code("%%bash\necho keras | tr a-z A-Z"),
    code(""),
)


def test_program_joins_code_cells_in_order():
    program = notebook_to_program(EXAMPLE)
    assert isinstance(program, Program)
    assert str(program) == program.text
    assert program.cells == (1, 2, 4, 5, 6, 7)
    assert program.verbatim == (6,)
    markers = re.findall(r"^# k2t-cell: (\d+) (\w+)$", program.text, re.MULTILINE)
    assert [int(index) for index, _ in markers] == [1, 2, 4, 5, 6, 7]
    assert {nonce for _, nonce in markers} == {program.nonce}
    # Names from earlier cells are in scope: it is a single valid module.
    compile(program.text, "<notebook>", "exec")
    assert program.text.index("import keras") < program.text.index(
        "model = keras.Sequential"
    )
    assert "markdown" not in program.text and "raw cell" not in program.text


def test_locate_maps_program_lines_to_cells():
    program = notebook_to_program(EXAMPLE)
    lines = program.text.splitlines()
    target = lines.index("model.summary()") + 1
    assert program.locate(target) == (2, 2)
    assert program.locate(1) is None  # a marker
    assert program.locate(len(lines) + 5) is None
    assert program.locate(lines.index("import keras") + 1) == (1, 2)


def test_magics_are_hidden_in_comments():
    text = notebook_to_program(EXAMPLE).text
    for magic in [
        "%matplotlib",
        "%%time",
        "!echo",
        "!pip",
        "Dense?",
        "?keras",
        "!ls",
        "%%bash",
    ]:
        assert not any(
            line.lstrip().startswith(magic.rstrip("?")) and "k2t-magic" not in line
            for line in text.splitlines()
        )
        assert re.search(r"# k2t-magic: \w+ \".*" + re.escape(magic), text), magic
    # A comment that ends with "?" is Python, not a help request.
    assert "print(len(files))  # how many?\n" in text


def test_round_trip_without_change_is_byte_identical():
    program = notebook_to_program(EXAMPLE)
    assert program_to_notebook(EXAMPLE, program.text) == EXAMPLE


def test_round_trip_through_black_keeps_untouched_cells():
    nb = notebook(
        code("x = 1"), code("def f():\n    return 1"), code("%time f()"), code("y = 2")
    )
    result = program_to_notebook(nb, fmt(notebook_to_program(nb).text))
    assert result == nb  # black only added blank lines around markers


def test_translation_lands_in_the_right_cells():
    program = notebook_to_program(EXAMPLE)
    result = program_to_notebook(EXAMPLE, keras_to_torch(program.text))
    assert sources(result) == [
        "# Training *keras* models\n\nSee `keras.Model`.",
        "%matplotlib inline\nimport torch\nimport numpy as np",
        "model = torch.Sequential([torch.layers.Dense(3)])\nmodel.summary()",
        "keras raw cell",
        "%%time\nfor epoch in range(3):\n    !echo {epoch}\n    model.fit(x, y)",
        "!pip install keras\nkeras.layers.Dense?\n?keras.Model\nfiles = !ls\nprint(len(files))  # how many?",
        "%%bash\necho keras | tr a-z A-Z",
        "",
    ]
    new = json.loads(result)
    old = json.loads(EXAMPLE)
    # Source is stored as nbformat does: lines ending in "\n" but the last.
    assert new["cells"][2]["source"] == [
        "model = torch.Sequential([torch.layers.Dense(3)])\n",
        "model.summary()",
    ]
    # Everything except changed sources is untouched.
    for cell in (c for c in new["cells"]):
        cell.pop("source")
    for cell in old["cells"]:
        cell.pop("source")
    assert new == old
    assert (
        result.endswith("}\n") and "—" in result
    )  # nbformat style: ensure_ascii=False


def test_unchanged_cells_keep_their_exact_source_list():
    nb = json.loads(notebook(code("import keras"), code("y = 2")))
    nb["cells"][1]["source"] = ["y = ", "2"]  # unusual split, must survive
    nb_text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    result = program_to_notebook(
        nb_text, keras_to_torch(notebook_to_program(nb_text).text)
    )
    assert json.loads(result)["cells"][1]["source"] == ["y = ", "2"]
    assert json.loads(result)["cells"][0]["source"] == ["import torch"]


def test_code_before_first_marker_goes_to_first_cell():
    nb = notebook(markdown("intro"), code("x = keras.ops.ones(3)"), code("y = x"))
    program = notebook_to_program(nb)
    result = program_to_notebook(nb, "import torch\n" + keras_to_torch(program.text))
    assert sources(result)[1:] == ["import torch\nx = torch.ops.ones(3)", "y = x"]


def test_trailing_newline_of_a_cell_is_kept():
    nb = notebook(code("import keras\n"), code("x = 1"))
    result = program_to_notebook(nb, keras_to_torch(notebook_to_program(nb).text))
    assert sources(result) == ["import torch\n", "x = 1"]


def test_indented_magic_alone_in_a_block():
    nb = notebook(code("if keras:\n    !nvidia-smi\nelse:\n    %env X=1\n"))
    program = notebook_to_program(nb)
    assert program.verbatim == ()
    compile(program.text, "<nb>", "exec")
    assert sources(program_to_notebook(nb, keras_to_torch(program.text))) == [
        "if torch:\n    !nvidia-smi\nelse:\n    %env X=1\n"
    ]


def test_magic_like_lines_inside_strings_are_left_alone():
    src = 'doc = """\n%notamagic\n!neither\nwhat?\n"""\nx = keras.ops.sum(\n    1)'
    nb = notebook(code(src))
    program = notebook_to_program(nb)
    assert "k2t-magic" not in program.text
    assert sources(program_to_notebook(nb, program.text.replace("keras", "torch"))) == [
        src.replace("keras", "torch")
    ]


def test_magic_with_backslash_continuation():
    nb = notebook(code("!pip install \\\n    keras\nimport keras"))
    program = notebook_to_program(nb)
    assert program.verbatim == ()
    assert sources(program_to_notebook(nb, keras_to_torch(program.text))) == [
        "!pip install \\\n    keras\nimport torch"
    ]


def test_invalid_cell_is_kept_verbatim():
    nb = notebook(
        code("import keras"), code("def broken(:\n  keras"), code("keras.ops")
    )
    program = notebook_to_program(nb)
    assert program.verbatim == (1,)
    assert "def broken" not in program.text.replace('"def broken(:"', "")
    assert sources(program_to_notebook(nb, keras_to_torch(program.text))) == [
        "import torch",
        "def broken(:\n  keras",
        "torch.ops",
    ]


def test_writefile_of_python_is_translated_but_other_cell_magics_are_not():
    nb = notebook(
        code("%%writefile model.py\nimport keras"),
        code("%%writefile req.txt\nkeras"),
        code("%%html\n<b>keras</b>"),
    )
    program = notebook_to_program(nb)
    assert program.verbatim == (1, 2)
    assert sources(program_to_notebook(nb, keras_to_torch(program.text))) == [
        "%%writefile model.py\nimport torch",
        "%%writefile req.txt\nkeras",
        "%%html\n<b>keras</b>",
    ]


def test_markers_do_not_collide_with_cell_text():
    nb = notebook(
        code('# k2t-cell: 1 abc\n# k2t-magic: abc "boom"\nimport keras'), code("x = 1")
    )
    program = notebook_to_program(nb)
    assert program_to_notebook(nb, program.text) == nb
    assert sources(program_to_notebook(nb, keras_to_torch(program.text)))[0] == (
        '# k2t-cell: 1 abc\n# k2t-magic: abc "boom"\nimport torch'
    )


def test_lost_markers_are_an_error():
    nb = notebook(code("a = 1"), code("b = 2"))
    program = notebook_to_program(nb).text
    first_marker = program.splitlines(True)[0]
    with pytest.raises(ValueError, match="cell markers"):
        program_to_notebook(nb, program.replace(first_marker, ""))


def test_source_given_as_a_string_and_other_indentation():
    nb = {
        "cells": [code("m = keras.Model\nx = 1")],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 2,
    }
    nb_text = json.dumps(nb, indent=2)
    result = program_to_notebook(
        nb_text, keras_to_torch(notebook_to_program(nb_text).text)
    )
    assert json.loads(result)["cells"][0]["source"] == ["m = torch.Model\n", "x = 1"]
    assert result.startswith('{\n  "cells"') and not result.endswith("\n")


def test_no_code_cells():
    nb = notebook(markdown("just text"))
    program = notebook_to_program(nb)
    assert program.text == "" and program.cells == ()
    assert program_to_notebook(nb, "") == nb


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", 'no "cells" list'),
        ('{"cells": [], "nbformat": 3}', "nbformat 4"),
        ('{"cells": [{"source": "x"}], "nbformat": 4}', "cell 0 has no cell_type"),
        (
            '{"cells": [{"cell_type": "code", "source": 3}], "nbformat": 4}',
            "malformed source",
        ),
        (
            '{"cells": [], "metadata": {"kernelspec": {"language": "R"}}, "nbformat": 4}',
            "not a Python notebook",
        ),
    ],
)
def test_invalid_notebooks(text, message):
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        notebook_to_program(text)
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError):
        program_to_notebook(text, "")


LINES = st.sampled_from(
    [
        "import keras",
        "x = keras.ops.ones(3)",
        "%matplotlib inline",
        "!pip install keras",
        "keras?",
        "for i in range(2):",
        "    !echo {i}",
        "    y = keras.ops.add(i, 1)",
        "s = '''",
        "%in a string",
        "'''",
        "def f(:",
        "",
        "# comment?",
        "\tz = (1,",
        "  2)",
    ]
)
CELLS = st.lists(LINES, max_size=6).map("\n".join)


@settings(max_examples=150, deadline=None)
@given(st.lists(CELLS, max_size=5))
def test_round_trip_property(cell_sources):
    nb = notebook(*(code(src) for src in cell_sources))
    program = notebook_to_program(nb)
    assert program_to_notebook(nb, program.text) == nb
    # Identity "translation" that only reformats never corrupts a cell.
    try:
        formatted = fmt(program.text)
    except black.InvalidInput:
        formatted = program.text
    result = sources(program_to_notebook(nb, formatted))
    for before, after in zip(cell_sources, result):
        masked = notebook_to_program(notebook(code(before))).text
        # Reformatting may change code, but the same lines of IPython survive.
        magics = [
            line.strip()
            for line in before.splitlines()
            if re.match(r"\s*[%!]|.*\w\?$", line)
        ]
        if "k2t-magic" in masked:
            for magic in magics:
                assert magic in after


def test_a_cell_of_keras_imports_only_keeps_its_place(tmp_path):
    """convert removes every import of such a cell: its marker (and the next cell's, when that cell
    starts with a removed import) must survive, so that each cell is written back where it was."""
    from click.testing import CliRunner

    from k2t.cli import main

    path = tmp_path / "nb.ipynb"
    path.write_text(
        notebook(
            code("import tensorflow as tf\nimport numpy as np"),
            code("from tensorflow.keras.models import Sequential\nfrom tensorflow.keras.optimizers import Adam"),
            code("print(np.ones(2))"),
            code("from tensorflow.keras.layers import Dense\nmodel = Sequential([Dense(2, input_shape=(3,))])\n"
                 "model.compile(optimizer=Adam(), loss='mse')"),
        )
    )
    result = CliRunner().invoke(main, ["convert", str(path), "-o", str(tmp_path / "out.ipynb")])
    assert result.exit_code in (0, 1), result.output
    cells = sources((tmp_path / "out.ipynb").read_text())
    assert len(cells) == 4
    assert "class Model(nn.Module)" in cells[0] and cells[1] == ""  # its imports all went
    assert cells[2] == "print(np.ones(2))"
    assert cells[3].startswith("model = Model().to(device)")


def test_a_cell_that_starts_a_functional_graph_keeps_its_place(tmp_path):
    """The comments of a layer's statement move into forward(), but a cell marker stays where its
    cell is: a cell opening with a layer call is written back in its place."""
    from click.testing import CliRunner

    from k2t.cli import main

    path = tmp_path / "nb.ipynb"
    path.write_text(
        notebook(
            code("import keras\nfrom keras import layers\ninputs = keras.Input(shape=(4,))"),
            code("x = layers.Dense(3, activation='relu')(inputs)  # hidden"),
            code("model = keras.Model(inputs, layers.Dense(1)(x))\nprint('built')"),
        )
    )
    result = CliRunner().invoke(main, ["convert", str(path), "-o", str(tmp_path / "out.ipynb")])
    assert result.exit_code == 0, result.output
    cells = sources((tmp_path / "out.ipynb").read_text())
    assert len(cells) == 3
    assert "class Model(nn.Module)" in cells[0]
    assert cells[1] == "# hidden"  # with its cell's marker, the comment stays in the cell
    assert cells[2].startswith("model = Model().to(device)")
