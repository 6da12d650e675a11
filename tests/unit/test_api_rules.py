"""API-signature rules (data/api_rules.json) and the AST detector that applies them."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from packaging.specifiers import SpecifierSet

from repro import apirules, datafiles
from repro.models import InferSettings
from repro.scan import scan
from repro.scan.api import detect, detect_text


def uses(source: str) -> list[tuple[str, str, int]]:
    return [(u.rule, u.symbol, u.origin.line or 0) for u in detect(ast.parse(source), "m.py")]


def test_rules_file_is_versioned_sourced_and_broad() -> None:
    data = datafiles.load("api_rules.json")
    assert data["schema_version"] == 1 and data["generated_by"] and data["source"]
    rules = apirules.rules()
    assert len(rules) >= 40
    assert len({r.id for r in rules}) == len(rules)
    for rule in rules:
        assert rule.source.startswith("https://"), rule.id
        assert rule.why and rule.paths
        SpecifierSet(rule.bound)  # parses
        assert rule.kind in ("name", "call", "call-keyword", "call-without-keyword", "attribute")
        assert (rule.kind in ("call-keyword", "call-without-keyword")) == bool(rule.keyword)
        assert (rule.kind == "attribute") == bool(rule.attributes), rule.id
    packages = {r.package for r in rules}
    assert packages >= {
        "torch", "tensorflow", "keras", "jax", "flax", "numpy", "scipy", "scikit-learn",
        "pandas", "networkx", "librosa", "transformers",
    }  # fmt: skip


def test_aliases_resolve_for_import_as_and_from_import() -> None:
    found = uses(
        "import numpy as np\n"
        "from tensorflow import contrib\n"
        "import tensorflow.contrib.slim as slim\n"
        "x = np.float(1)\n"
        "y = contrib.layers.flatten(x)\n"
        "z = slim.conv2d\n"
    )
    assert ("np-builtin-aliases", "numpy.float", 4) in found
    assert ("tf-contrib", "tensorflow.contrib", 2) in found
    assert ("tf-contrib", "tensorflow.contrib.layers.flatten", 5) in found
    assert ("tf-contrib", "tensorflow.contrib.slim", 3) in found


def test_similar_names_do_not_match() -> None:
    assert uses("import numpy as np\nx = np.float32(1) + np.int64(2)\n") == []
    # tf.compat.v1.Session is the TF2 way to write TF1 code: >=1.13, never <2
    rules = {r for r, _, _ in uses("import tensorflow as tf\ns = tf.compat.v1.Session()\n")}
    assert rules == {"tf-compat-v1"}


def test_call_keywords_and_calls() -> None:
    found = uses(
        "import torch\nfrom torch.autograd import Variable\n"
        "a = Variable(torch.zeros(1), volatile=True)\n"
        "b = Variable(torch.zeros(1))\n"
        "c = torch.fft(a, 1)\n"
        "d = torch.fft.fft(a)\n"
    )
    assert ("torch-volatile", "torch.autograd.Variable", 3) in found
    assert not any(line == 4 for _, _, line in found)
    assert ("torch-fft-call", "torch.fft", 5) in found
    assert ("torch-fft-module", "torch.fft.fft", 6) in found
    assert not any(r == "torch-fft-call" and line == 6 for r, _, line in found)


def test_tf1_keyword_arguments_date_the_code_but_their_tf2_spellings_do_not() -> None:
    found = uses(
        "import tensorflow as tf\n"
        "a = tf.reduce_sum(x, reduction_indices=[1], keep_dims=True)\n"
        "b = tf.math.reduce_mean(x, axis=[1], keepdims=True)\n"
        "c = tf.argmax(x, dimension=1)\n"
        "d = tf.nn.softmax(x, dim=-1)\n"
        "e = tf.compat.v1.reduce_sum(x, keep_dims=True)\n"
    )
    rules = {(r, line) for r, _, line in found}
    assert {
        ("tf-reduce-reduction-indices", 2),
        ("tf-reduce-keep-dims", 2),
        ("tf-argmax-dimension", 4),
        ("tf-softmax-dim", 5),
    } <= rules
    assert not [line for _, line in rules if line == 3]  # TF 2's own keywords
    assert [r for r, line in rules if line == 6] == ["tf-compat-v1"]  # v1 keeps keep_dims


def test_uses_are_capped_per_rule_and_file() -> None:
    source = "import numpy as np\n" + "".join(f"x{i} = np.float\n" for i in range(50))
    assert len(uses(source)) == 3


def test_python2_files_are_read_by_pattern() -> None:
    found = detect_text(
        "import tensorflow as tf\nprint 'x'\nsess = tf.Session()  # tf.placeholder\n"
        "from scipy.misc import imread\n",
        "old.py",
    )
    assert {(u.rule, u.origin.line) for u in found} == {
        ("tf-session", 3),
        ("scipy-misc-imageio", 4),
    }


def test_scan_records_uses_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(
        "import tensorflow as tf\n\nx = tf.placeholder(tf.float32)\n"
    )
    nb = {
        "cells": [
            {"cell_type": "code", "source": ["import jax\n"]},
            {"cell_type": "code", "source": ["y = jax.tree_multimap(f, a, b)\n"]},
        ]
    }
    (tmp_path / "demo.ipynb").write_text(json.dumps(nb))
    evidence = scan(tmp_path)
    where = {(u.rule, str(u.origin)) for u in evidence.api_uses}
    assert ("tf-placeholder", "model.py:3 (tensorflow.placeholder)") in where
    assert ("jax-tree-multimap", "demo.ipynb:2 (cell 2: jax.tree_multimap)") in where


def test_attribute_rules_need_the_package_imported() -> None:
    found = uses(
        "import networkx as nx\nG = nx.Graph()\nfor n in G.nodes_iter():\n    pass\n"
        "d = G.node[1]\nnx.add_path(G, [1, 2])\nG.add_path([3, 4])\n"
    )
    assert ("nx1-iter-methods", "networkx.Graph.nodes_iter", 3) in found
    assert ("nx-graph-node", "networkx.Graph.node", 5) in found
    assert ("nx-graph-path-methods", "networkx.Graph.add_path", 7) in found
    assert not any(line == 6 for _, _, line in found)  # nx.add_path is the function
    # the same names on objects of a file that does not import networkx: nothing
    assert uses("import numpy as np\nfor n in tree.nodes_iter():\n    x = tree.node\n") == []


def test_calls_without_a_keyword() -> None:
    found = uses(
        "import yaml\na = yaml.load(open('c.yml'))\nb = yaml.load(f, Loader=yaml.SafeLoader)\n"
        "c = yaml.load(f, yaml.FullLoader)\n"
    )
    assert found == [("yaml-load-without-loader", "yaml.load", 2)]


def test_non_framework_rules_bound_their_packages(tmp_path: Path) -> None:
    from repro.infer import infer

    (tmp_path / "app.py").write_text(
        "from django.conf.urls import patterns, url\nfrom flask.ext.sqlalchemy import X\n"
        "import pandas as pd\ndf = pd.DataFrame()\nrow = df.ix[0]\n"
        "from PIL import Image\nsmall = Image.open('a').resize((2, 2), Image.ANTIALIAS)\n"
    )
    ev = scan(tmp_path)
    bounds = {(u.package, u.bound) for u in ev.api_uses}
    assert {("django", "<1.10"), ("flask", "<1.0"), ("pandas", "<1.0"), ("pillow", "<10")} <= (
        bounds
    )
    import datetime as dt

    env = infer(ev, InferSettings(), commit_date=dt.datetime(2016, 1, 10, tzinfo=dt.timezone.utc))
    (pandas,) = [c for c in env.choices if c.name == "pandas"]
    assert pandas.version and pandas.version.startswith("0.")


def test_an_api_that_needs_a_package_the_code_never_imports_adds_it(tmp_path: Path) -> None:
    import datetime as dt

    from repro.infer import infer
    from tests.conftest import write_files

    when = dt.datetime(2019, 3, 1, tzinfo=dt.timezone.utc)
    excel = write_files(
        tmp_path / "excel",
        {
            "merge.py": "import pandas as pd\n\ndf = pd.read_excel('a.xlsx')\n"
            "with pd.ExcelWriter('b.xlsx') as w:\n    df.to_excel(w)\n",
            "requirements.txt": "pandas\nXlsxWriter\n",
        },
    )
    env = infer(scan(excel), InferSettings(python="3.8"), commit_date=when)
    reqs = {r.name: r for r in env.requirements}
    # read_excel reads through openpyxl (xlrd before pandas 1.2); the declared XlsxWriter
    # writes, so the writer adds nothing more
    assert sorted(reqs) == ["XlsxWriter", "openpyxl", "pandas", "xlrd"]
    assert not reqs["openpyxl"].optional
    assert any("code uses pandas.read_excel (merge.py:3)" in r for r in reqs["openpyxl"].reasons)
    assert not any("ExcelWriter" in r for r in reqs["openpyxl"].reasons)
    # standalone Keras gets its default backend, unless the code brings another
    keras = write_files(
        tmp_path / "keras", {"train.py": "import keras\nfrom keras.layers import Dense\n"}
    )
    assert "tensorflow" in {
        r.name
        for r in infer(scan(keras), InferSettings(python="3.8"), commit_date=when).requirements
    }
    torch = write_files(tmp_path / "torch", {"train.py": "import torch\nimport keras\n"})
    names = {
        r.name
        for r in infer(scan(torch), InferSettings(python="3.8"), commit_date=when).requirements
    }
    assert "tensorflow" not in names and "keras" in names
    # a package imported without the API adds nothing
    plain = write_files(tmp_path / "plain", {"a.py": "import pandas as pd\npd.read_csv('a.csv')\n"})
    assert [
        r.name
        for r in infer(scan(plain), InferSettings(python="3.8"), commit_date=when).requirements
    ] == ["pandas"]
