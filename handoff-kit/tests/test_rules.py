"""The data rule: package/ reads official catalog sources only; research/ owes the rest."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from textwrap import dedent

import pytest
import yaml

from handoff_kit import Schema, config
from handoff_kit.catalog import Source, contract_schemas, read_catalog
from handoff_kit.rules import research_debts, research_imports, scan_package


@pytest.fixture
def sources(settings: config.Settings) -> dict[str, Source]:
    return read_catalog(settings.catalog, contract_schemas(settings))


def plant(path: Path, code: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(code)
    return path


def test_the_sample_package_reads_through_the_catalog_only(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    assert scan_package(settings.package_dir, sources, settings.root) == []


def test_reading_around_the_catalog_is_found_with_file_and_line(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    plant(
        settings.package_dir / "features.py",
        "import pandas as pd\n"
        "from handoff_kit import catalog\n"
        "from handoff_kit.catalog import load\n\n"
        'a = pd.read_csv("some/path.csv")\n'
        'b = catalog.load("survey")\n'
        'c = load("nowhere")\n'
        'd = pd.read_parquet("data/houses.csv")\n'
        'e = catalog.load("houses")\n'
        "f = pd.read_csv(a.columns[0])\n"
        "g = catalog.load(a.columns[0])\n",
    )

    findings = [
        str(f) for f in scan_package(settings.package_dir, sources, settings.root)
    ]

    module = "package/src/sample_model/features.py"
    assert findings == [
        f"{module}:5: reads data directly with pandas.read_csv(): 'some/path.csv' is a "
        f"path outside the data catalog; {INSTEAD}",
        f"{module}:6: loads the unofficial source 'survey' "
        f"({settings.catalog / 'survey.yml'}); package/ uses official sources only",
        f"{module}:7: loads 'nowhere', which is not in the data catalog",
        f"{module}:8: reads data directly with pandas.read_parquet(): 'data/houses.csv' "
        "is the official source 'houses'; load it with catalog.load(\"houses\") instead",
        f"{module}:10: reads data directly with pandas.read_csv(): a path the gate "
        f"cannot see; {INSTEAD}",
        f"{module}:11: loads a source the gate cannot see (a.columns[0]): pass the "
        "source's name as a literal or a module constant",
    ]


def test_a_file_python_cannot_parse_is_a_finding_not_a_crash(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    plant(settings.package_dir / "broken.py", "x = 1\ndef broken(:\n")

    [finding] = scan_package(settings.package_dir, sources, settings.root)

    assert str(finding) == (
        "package/src/sample_model/broken.py:2: Python cannot parse it: invalid syntax"
    )


def test_a_package_outside_the_root_is_shown_by_its_full_path(
    tmp_path: Path, settings: config.Settings, sources: dict[str, Source]
) -> None:
    module = plant(
        tmp_path / "elsewhere/reader.py", 'import polars as pl\npl.read_csv("x.csv")\n'
    )

    [finding] = scan_package(module.parent, sources, settings.root)

    assert finding.file == module
    assert finding.line == 2
    assert "reads data directly with polars.read_csv()" in finding.message


# --- How the scan reads the code: imports, aliases, constants, scopes ------------

INSTEAD = 'load an official source with catalog.load("<name>") instead'
OUTSIDE = f"is a path outside the data catalog; {INSTEAD}"
UNSEEN = f"a path the gate cannot see; {INSTEAD}"
UNTYPED = "so the gate counts every {} as a data read; " + (
    f"{INSTEAD}, or waive the line ('# handoff: allow-read <reason>')"
)


def scan(
    settings: config.Settings, sources: dict[str, Source], **modules: str
) -> list[str]:
    """Plant `modules` (name -> code) in the sample package and scan it; findings
    as `module.py:line: message`, files named from the package."""
    for name, code in modules.items():
        plant(settings.package_dir / f"{name}.py", dedent(code))
    return [
        str(finding).removeprefix("package/src/sample_model/")
        for finding in scan_package(settings.package_dir, sources, settings.root)
    ]


def test_a_reader_imported_by_name_is_found(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    findings = scan(
        settings,
        sources,
        reader="""\
        from pandas import read_csv

        frame = read_csv("data/survey.csv")
        """,
    )

    assert findings == [
        "reader.py:3: reads data directly with pandas.read_csv(): 'data/survey.csv' "
        f"is the unofficial source 'survey'; {INSTEAD}"
    ]


def test_an_aliased_module_or_reader_is_found_under_its_real_name(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    findings = scan(
        settings,
        sources,
        reader="""\
        import pandas
        import pandas as p2
        from pandas import read_parquet as rp

        a = p2.read_json("a.json")
        b = rp("b.parquet")
        c = pandas.read_excel("c.xlsx")
        reader = p2.read_csv
        d = reader("d.csv")


        def lazily():
            import polars as pl

            return pl.scan_parquet("e.parquet")
        """,
    )

    assert findings == [
        f"reader.py:5: reads data directly with pandas.read_json(): 'a.json' {OUTSIDE}",
        f"reader.py:6: reads data directly with pandas.read_parquet(): 'b.parquet' {OUTSIDE}",
        f"reader.py:7: reads data directly with pandas.read_excel(): 'c.xlsx' {OUTSIDE}",
        f"reader.py:9: reads data directly with pandas.read_csv(): 'd.csv' {OUTSIDE}",
        f"reader.py:15: reads data directly with polars.scan_parquet(): 'e.parquet' {OUTSIDE}",
    ]


def test_the_builtin_open_reads_and_writing_modes_pass(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    findings = scan(
        settings,
        sources,
        files="""\
        import io

        a = open("data/houses.csv")
        b = open("b.bin", "rb")
        c = io.open("c.txt", mode="r+")
        d = open("d.log", "a+")


        def e(mode: str) -> None:
            open("e.txt", mode)


        # Writes are not reads: "w", "a", "x" (and "w+", which empties the file first).
        WRITE = "wb"
        open("out.csv", "w")
        open("out.csv", mode="a")
        open("out.csv", "xb")
        open("out.csv", "w+")
        open("out.bin", WRITE)
        """,
    )

    assert findings == [
        "files.py:3: reads data directly with open(): 'data/houses.csv' is the official "
        "source 'houses'; load it with catalog.load(\"houses\") instead",
        f"files.py:4: reads data directly with open(): 'b.bin' {OUTSIDE}",
        f"files.py:5: reads data directly with io.open(): 'c.txt' {OUTSIDE}",
        f"files.py:6: reads data directly with open(): 'd.log' {OUTSIDE}",
        f"files.py:10: reads data directly with open(): 'e.txt' {OUTSIDE}",
    ]


def test_pathlib_reads_are_found_with_the_path_they_read(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    findings = scan(
        settings,
        sources,
        paths="""\
        import pathlib
        from pathlib import Path

        DATA = Path("data")
        a = Path("data/houses.csv").read_text()
        b = pathlib.Path("b.bin").read_bytes()
        c = (DATA / "survey.csv").open()
        d = DATA.joinpath("d.csv").read_text()
        e = (
            Path.home()
            .read_bytes()
        )
        f = DATA.parent.with_suffix(".txt").open(mode="rb")
        g = Path.read_text(DATA / "g.csv")


        def h(path: Path | None, where: Path = DATA) -> None:
            path.open()
            where.read_text()
            (where / "out.csv").open("w")
            where.with_name("out.txt").write_text("written")
        """,
    )

    assert findings == [
        "paths.py:5: reads data directly with pathlib.Path.read_text(): 'data/houses.csv' "
        "is the official source 'houses'; load it with catalog.load(\"houses\") instead",
        f"paths.py:6: reads data directly with pathlib.Path.read_bytes(): 'b.bin' {OUTSIDE}",
        "paths.py:7: reads data directly with pathlib.Path.open(): 'data/survey.csv' "
        f"is the unofficial source 'survey'; {INSTEAD}",
        f"paths.py:8: reads data directly with pathlib.Path.read_text(): 'data/d.csv' {OUTSIDE}",
        f"paths.py:11: reads data directly with pathlib.Path.read_bytes(): {UNSEEN}",
        f"paths.py:13: reads data directly with pathlib.Path.open(): {UNSEEN}",
        f"paths.py:14: reads data directly with pathlib.Path.read_text(): 'data/g.csv' {OUTSIDE}",
        f"paths.py:18: reads data directly with pathlib.Path.open(): {UNSEEN}",
        f"paths.py:19: reads data directly with pathlib.Path.read_text(): {UNSEEN}",
    ]


def test_read_text_on_any_object_is_a_read_and_the_message_says_why(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    findings = scan(
        settings,
        sources,
        helpers="""\
        from handoff_kit import catalog


        def read_csv():
            return catalog.load("houses")
        """,
        reader="""\
        import dask.dataframe as dd
        from importlib import resources

        from sample_model import helpers
        from sample_model.helpers import read_csv


        def settings_text(config) -> str:
            return config.read_text()


        raw = resources.files("sample_model").joinpath("x.bin").read_bytes()
        lazy = dd.read_csv("data/houses.csv")
        # The package's own functions are scanned where they are.
        own = helpers.read_csv(), read_csv()
        """,
    )

    assert findings == [
        "reader.py:9: reads data directly with config.read_text(): Python code does "
        f"not say what config is, {UNTYPED.format('.read_text()')}",
        "reader.py:12: reads data directly with resources.files('sample_model')"
        ".joinpath('x.bin').read_bytes(): Python code does not say what "
        "resources.files('sample_model').joinpath('x.bin') is, "
        f"{UNTYPED.format('.read_bytes()')}",
        "reader.py:13: reads data directly with dask.dataframe.read_csv(): "
        "'data/houses.csv' is the official source 'houses'; "
        'load it with catalog.load("houses") instead',
    ]


def test_numpy_loadtxt_is_found(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    findings = scan(
        settings,
        sources,
        arrays='import numpy as np\n\nrows = np.loadtxt("rows.txt")\n',
    )

    assert findings == [
        f"arrays.py:3: reads data directly with numpy.loadtxt(): 'rows.txt' {OUTSIDE}"
    ]


@pytest.mark.parametrize(
    ("imports", "call", "shown"),
    [
        ("import numpy", "numpy.load", "numpy.load"),
        ("import numpy as np", "np.genfromtxt", "numpy.genfromtxt"),
        ("from numpy import fromfile", "fromfile", "numpy.fromfile"),
        ("import pyarrow.parquet as pq", "pq.read_table", "pyarrow.parquet.read_table"),
        (
            "import pyarrow.parquet as pq",
            "pq.ParquetFile",
            "pyarrow.parquet.ParquetFile",
        ),
        ("import pyarrow", "pyarrow.parquet.read_table", "pyarrow.parquet.read_table"),
        ("from pyarrow import csv", "csv.read_csv", "pyarrow.csv.read_csv"),
        ("import pyarrow.feather as f", "f.read_table", "pyarrow.feather.read_table"),
        (
            "import pyarrow.feather as f",
            "f.read_feather",
            "pyarrow.feather.read_feather",
        ),
        ("import pyarrow.dataset as ds", "ds.dataset", "pyarrow.dataset.dataset"),
        ("import polars as pl", "pl.read_csv", "polars.read_csv"),
        ("from urllib import request", "request.urlopen", "urllib.request.urlopen"),
        (
            "import urllib.request",
            "urllib.request.urlretrieve",
            "urllib.request.urlretrieve",
        ),
        ("import requests", "requests.get", "requests.get"),
        ("from requests import post", "post", "requests.post"),
        ("import requests", "requests.request", "requests.request"),
        ("import httpx", "httpx.get", "httpx.get"),
        ("import gzip", "gzip.open", "gzip.open"),
        ("import builtins", "builtins.open", "open"),
        ("from pandas import *", "read_csv", "pandas.read_csv"),
        (
            "from sklearn import datasets",
            "datasets.fetch_openml",
            "sklearn.datasets.fetch_openml",
        ),
        ("import joblib", "joblib.load", "joblib.load"),
        ("import torch", "torch.load", "torch.load"),
        ("import numpy as np", "np.memmap", "numpy.memmap"),
        ("import os", "os.open", "os.open"),
        ("import pandas as pd", "pd.HDFStore", "pandas.HDFStore"),
        ("from scipy import io", "io.loadmat", "scipy.io.loadmat"),
        ("import h5py", "h5py.File", "h5py.File"),
        ("import xarray as xr", "xr.open_dataset", "xarray.open_dataset"),
        ("from PIL import Image", "Image.open", "PIL.Image.open"),
        ("import cv2", "cv2.imread", "cv2.imread"),
        ("import imageio.v3 as iio", "iio.imread", "imageio.v3.imread"),
        ("import duckdb", "duckdb.from_csv_auto", "duckdb.from_csv_auto"),
        ("import fsspec", "fsspec.open", "fsspec.open"),
        ("import smart_open", "smart_open.open", "smart_open.open"),
        ("import shelve", "shelve.open", "shelve.open"),
    ],
)
def test_every_kind_of_read_is_found(
    settings: config.Settings,
    sources: dict[str, Source],
    imports: str,
    call: str,
    shown: str,
) -> None:
    findings = scan(settings, sources, reader=f'{imports}\n\ndata = {call}("x")\n')

    assert findings == [
        f"reader.py:3: reads data directly with {shown}(): 'x' {OUTSIDE}"
    ]


def test_a_reader_looked_up_by_a_name_the_code_says_is_found_under_its_real_name(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    findings = scan(
        settings,
        sources,
        lookups="""\
        import builtins
        import importlib

        import pandas as pd

        READ = "read_csv"

        a = getattr(pd, "read_csv")("a.csv")
        b = getattr(pd, READ)("b.csv")
        c = importlib.import_module("numpy").load("c.npy")
        d = __import__("pandas").read_parquet("d.parquet")
        e = __import__("pyarrow.parquet", fromlist=["read_table"]).read_table("e")
        f = getattr(builtins, "open")("f.txt")
        g = getattr(pd, "io").parsers.read_csv("g.csv")
        reader = getattr(pd, READ)
        """,
    )

    assert findings == [
        f"lookups.py:8: reads data directly with pandas.read_csv(): 'a.csv' {OUTSIDE}",
        f"lookups.py:9: reads data directly with pandas.read_csv(): 'b.csv' {OUTSIDE}",
        f"lookups.py:10: reads data directly with numpy.load(): 'c.npy' {OUTSIDE}",
        "lookups.py:11: reads data directly with pandas.read_parquet(): 'd.parquet' "
        + OUTSIDE,
        "lookups.py:12: reads data directly with pyarrow.parquet.read_table(): 'e' "
        + OUTSIDE,
        f"lookups.py:13: reads data directly with open(): 'f.txt' {OUTSIDE}",
        "lookups.py:14: reads data directly with pandas.io.parsers.read_csv(): "
        f"'g.csv' {OUTSIDE}",
        "lookups.py:15: hands pandas.read_csv() around without calling it, so the "
        f"gate cannot see what it reads; {INSTEAD}",
    ]


def test_a_name_looked_up_in_a_reader_package_by_a_string_the_code_hides_is_found(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    findings = scan(
        settings,
        sources,
        hidden="""\
        import numpy as np
        import pandas as pd


        def read(kind: str, frame: pd.DataFrame, model: object) -> object:
            rows = getattr(pd, "read_" + kind)("rows")
            arrays = getattr(np, kind)
            column = getattr(frame, kind)
            method = getattr(model, "predict_" + kind)
            convert = getattr(str, kind)
            return rows, arrays, column, method, convert
        """,
    )

    assert findings == [
        "hidden.py:6: looks up a name in pandas that the code does not say "
        "(getattr(pd, 'read_' + kind)), so the gate cannot see whether it reads; "
        + INSTEAD,
        "hidden.py:7: looks up a name in numpy that the code does not say "
        "(getattr(np, kind)), so the gate cannot see whether it reads; " + INSTEAD,
    ], "a lookup on the project's own objects is not a read"


def test_code_run_from_a_string_is_a_finding_and_pandas_expressions_are_not(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    findings = scan(
        settings,
        sources,
        strings="""\
        import re

        import pandas as pd

        CODE = "import pandas; pandas.read_csv('x.csv')"


        def run(frame: pd.DataFrame) -> object:
            exec(CODE)
            value = eval("1 + 1")
            code = compile(CODE, "<string>", "exec")
            pattern = re.compile("a+")
            return frame.query("a > 1"), frame.eval("a + 1"), pd.eval("1 + 2"), value
        """,
    )

    ran = "runs code given as a string with {}(), which the gate cannot read: write "
    ran += "the code out, or waive the line ('# handoff: allow-read <reason>')"
    assert findings == [
        f"strings.py:9: {ran.format('exec')}",
        f"strings.py:10: {ran.format('eval')}",
        f"strings.py:11: {ran.format('compile')}",
    ]


def test_a_duckdb_query_and_an_object_store_download_are_reads(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    findings = scan(
        settings,
        sources,
        stores="""\
        import boto3
        import duckdb

        rows = duckdb.sql("SELECT * FROM 'data/raw/rows.csv'").df()
        boto3.client("s3").download_file("bucket", "rows.csv", "rows.csv")
        """,
    )

    assert findings == [
        "stores.py:4: reads data directly with duckdb.sql(): its SQL can read any "
        "file, so the gate counts every query as a data read; "
        f"{INSTEAD}, or waive the line ('# handoff: allow-read <reason>')",
        "stores.py:5: reads data directly with "
        "boto3.client('s3').download_file(): Python code does not say what "
        f"boto3.client('s3') is, {UNTYPED.format('.download_file()')}",
    ]


def test_a_url_outside_the_catalog_is_a_location(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    findings = scan(
        settings,
        sources,
        web='import httpx\n\nrows = httpx.get("https://example.com/rows.csv")\n',
    )

    assert findings == [
        "web.py:3: reads data directly with httpx.get(): 'https://example.com/rows.csv' "
        f"is a location outside the data catalog; {INSTEAD}"
    ]


def test_a_reader_handed_around_without_a_call_is_found(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    findings = scan(
        settings,
        sources,
        reader="""\
        from functools import partial

        import pandas as pd
        from handoff_kit import catalog

        semicolons = partial(pd.read_csv, sep=";")
        frames = list(map(catalog.load, ["houses"]))
        name = pd.read_csv.__name__
        """,
    )

    assert findings == [
        "reader.py:6: hands pandas.read_csv() around without calling it, so the gate "
        f"cannot see what it reads; {INSTEAD}",
        "reader.py:7: hands catalog.load around without calling it, so the gate cannot "
        "see which source it loads: call catalog.load() with the source's name as a "
        "literal or a module constant",
        "reader.py:8: hands pandas.read_csv() around without calling it, so the gate "
        f"cannot see what it reads; {INSTEAD}",
    ]


def test_a_source_named_by_a_module_constant_is_checked(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    survey = settings.catalog / "survey.yml"
    findings = scan(
        settings,
        sources,
        names="""\
        from typing import Final

        HOUSES: Final = "houses"
        SURVEY = "survey"
        """,
        reader="""\
        import handoff_kit.catalog as cat
        from handoff_kit import catalog
        from handoff_kit.catalog import load as load_source

        from sample_model import names
        from sample_model.names import SURVEY

        from .names import HOUSES

        OFFICIAL = "houses"
        SAME = OFFICIAL
        EVENTS: str = "events"

        a = catalog.load(OFFICIAL)
        b = load_source(HOUSES)
        c = cat.load(names.HOUSES)
        d = catalog.load(name=SAME)
        e = catalog.load(SURVEY)
        f = cat.load(names.SURVEY)
        g = catalog.load(EVENTS)
        """,
    )

    assert findings == [
        f"reader.py:18: loads the unofficial source 'survey' (SURVEY; {survey}); "
        "package/ uses official sources only",
        f"reader.py:19: loads the unofficial source 'survey' (names.SURVEY; {survey}); "
        "package/ uses official sources only",
        "reader.py:20: loads 'events' (EVENTS), which is not in the data catalog",
    ]


def test_the_package_can_pass_the_loader_on_under_another_name(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    findings = scan(
        settings,
        sources,
        __init__="from handoff_kit import catalog\n",
        loading="from handoff_kit.catalog import load\n\nread = load\n",
        reader="""\
        from sample_model import catalog, loading

        from .loading import read

        a = catalog.load("survey")
        b = loading.read("houses")
        c = read("nowhere")
        """,
    )

    assert [finding.split(":")[1] for finding in findings] == ["5", "7"]
    assert "loads the unofficial source 'survey'" in findings[0]
    assert "loads 'nowhere', which is not in the data catalog" in findings[1]


def test_a_source_name_the_gate_cannot_see_is_a_finding(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    findings = scan(
        settings,
        sources,
        reader="""\
        from handoff_kit import catalog

        TWICE = "houses"
        TWICE = "survey"
        CHANGED = "houses"
        PREFIX = "hou"


        def frame(name: str):
            return catalog.load(name)


        def change() -> None:
            global CHANGED
            CHANGED = "survey"


        a = catalog.load(TWICE)
        b = catalog.load(CHANGED)
        c = catalog.load(PREFIX + "ses")
        d = catalog.load()
        """,
    )

    unseen = "pass the source's name as a literal or a module constant"
    assert findings == [
        f"reader.py:10: loads a source the gate cannot see (name): {unseen}",
        f"reader.py:18: loads a source the gate cannot see (TWICE): {unseen}",
        f"reader.py:19: loads a source the gate cannot see (CHANGED): {unseen}",
        f"reader.py:20: loads a source the gate cannot see (PREFIX + 'ses'): {unseen}",
        f"reader.py:21: loads a source the gate cannot see (no name given): {unseen}",
    ]


def test_names_resolve_in_their_scope_as_python_resolves_them(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    findings = scan(
        settings,
        sources,
        scopes="""\
        import pandas as pd
        from handoff_kit import catalog

        NAME = "houses"


        def open(name: str) -> str:
            return name


        class Reader:
            pd = None
            NAME = "survey"

            def frame(self):
                return pd.read_csv("x.csv"), catalog.load(NAME)


        def shadowed(pd, NAME="survey"):
            catalog.load(NAME)
            return pd.read_csv("y.csv")


        text = open("not the builtin")
        rows = [catalog.load(NAME) for _ in range(2)]
        with_walrus = (n := 1)
        fixed = lambda csv="z.csv": pd.read_csv(csv)
        """,
    )

    assert findings == [
        f"scopes.py:16: reads data directly with pandas.read_csv(): 'x.csv' {OUTSIDE}",
        "scopes.py:20: loads a source the gate cannot see (NAME): pass the source's "
        "name as a literal or a module constant",
        "scopes.py:21: reads data directly with pd.read_csv(): Python code does not "
        f"say what pd is, {UNTYPED.format('.read_csv()')}",
        f"scopes.py:27: reads data directly with pandas.read_csv(): {UNSEEN}",
    ]


def test_writing_files_and_parsing_strings_are_not_reads(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    findings = scan(
        settings,
        sources,
        writer="""\
        import json
        from pathlib import Path

        import fsspec
        import h5py
        import numpy as np
        import pandas as pd
        from handoff_kit import catalog

        OUT = Path("reports")
        HOUSES = "houses"


        def save(frame: pd.DataFrame, text: str, parquet: pd.DataFrame | None) -> None:
            OUT.mkdir(exist_ok=True)
            frame.to_csv(OUT / "frame.csv", index=False)
            frame.to_parquet("frame.parquet")
            (OUT / "notes.txt").write_text(text)
            Path("raw.bin").write_bytes(b"")
            with open("log.txt", "w") as log, (OUT / "more.log").open(mode="a") as more:
                log.write(json.dumps(json.loads(text)))
                more.write(text)
            np.memmap("cache.bin", np.float32, "w+", shape=(3,))
            h5py.File("frame.h5", "w").create_dataset("x", data=frame.to_numpy())
            with fsspec.open("s3://bucket/frame.csv", "wb") as remote:
                remote.write(frame.to_csv().encode())


        houses = catalog.load("houses"), catalog.load(HOUSES)
        """,
    )

    assert findings == []


def test_unusual_code_is_read_without_stumbling(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    findings = scan(
        settings,
        sources,
        constants="""\
        from .names import HOUSES

        TWICE = "houses"
        TWICE = "survey"
        """,
        names='HOUSES = "houses"\n',
        odd="""\
        import pandas as pd
        from handoff_kit import catalog

        from . import constants
        from .constants import HOUSES, TWICE
        from .. import elsewhere

        count: int
        LOOP_A = LOOP_B
        LOOP_B = LOOP_A
        READERS = {".csv": pd.read_csv}


        async def fetch(value: object, left, right, thing) -> None:
            match value:
                case {"rows": rows, **rest}:
                    print(rows, rest)
                case [first, *others]:
                    print(first, others)
            READERS[".csv"]("a.csv")
            (left / right).read_text()
            thing.parent.read_text()
            make().read_bytes()
            LOOP_A.open()
            LOOP_A()
            pd.read_csv()


        a = catalog.load(HOUSES), catalog.load(constants.HOUSES)
        b = catalog.load(TWICE)
        c = catalog.load(UNDEFINED)
        d = catalog.load(LOOP_A)
        """,
    )

    assert findings == [
        "odd.py:11: hands pandas.read_csv() around without calling it, so the gate "
        f"cannot see what it reads; {INSTEAD}",
        "odd.py:21: reads data directly with (left / right).read_text(): Python code "
        f"does not say what left / right is, {UNTYPED.format('.read_text()')}",
        "odd.py:22: reads data directly with thing.parent.read_text(): Python code "
        f"does not say what thing.parent is, {UNTYPED.format('.read_text()')}",
        "odd.py:23: reads data directly with make().read_bytes(): Python code "
        f"does not say what make() is, {UNTYPED.format('.read_bytes()')}",
        f"odd.py:26: reads data directly with pandas.read_csv(): {UNSEEN}",
        "odd.py:30: loads a source the gate cannot see (TWICE): pass the source's "
        "name as a literal or a module constant",
        "odd.py:31: loads a source the gate cannot see (UNDEFINED): pass the source's "
        "name as a literal or a module constant",
        "odd.py:32: loads a source the gate cannot see (LOOP_A): pass the source's "
        "name as a literal or a module constant",
    ]


REPOSITORY = Path(__file__).resolve().parents[2]  # The template's, around the kit.


def test_the_generated_example_package_has_no_finding(tmp_path: Path) -> None:
    # The kit's tests run in the template repository only (projects get no tests).
    assert (REPOSITORY / "copier.yml").is_file(), f"no template around {REPOSITORY}"
    template = tmp_path / "template"
    template.mkdir()
    for name in ("copier.yml", "template", "hooks"):
        source = REPOSITORY / name
        if source.is_dir():
            # The template's link to this kit: the scan needs the project's code only.
            skip = shutil.ignore_patterns("__pycache__", "handoff-kit")
            shutil.copytree(source, template / name, ignore=skip)
        else:
            shutil.copy2(source, template / name)
    project = tmp_path / "project"
    copy = ["copy", "--defaults", "--quiet", "--data", "project_name=Churn Model"]
    command = [sys.executable, "-m", "copier", *copy, str(template), str(project)]
    subprocess.run(command, check=True, capture_output=True)
    catalog = project / "data/catalog"
    named = {
        yaml.safe_load(file.read_text())["schema"] for file in catalog.glob("*.yml")
    }
    sources = read_catalog(catalog, dict.fromkeys(named - {None}, Schema))
    package = project / "package/src/churn_model"

    findings = scan_package(package, sources, project)

    assert [f for f in findings if f.waived is None] == []
    # One waived read: the example writes its stand-in warehouse (data.py), with a reason.
    assert [(f.file.name, f.waived) for f in findings] == [("data.py", "writes it")]

    # The scan sees the example's code: its data path is the official `customers`.
    with (package / "data.py").open("a") as data:
        data.write(
            "\n\ndef bypass() -> pd.DataFrame:\n    return pd.read_csv(CUSTOMERS_CSV)\n"
        )
    [finding] = [f for f in scan_package(package, sources, project) if f.waived is None]
    assert finding.message == (
        "reads data directly with pandas.read_csv(): 'data/customers.csv' is the "
        "official source 'customers'; load it with catalog.load(\"customers\") instead"
    )


# --- Waivers: `# handoff: allow-read <reason>` -------------------------------------


def test_a_waiver_with_a_reason_waives_the_read_and_keeps_it_listed(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    code = """\
    from pathlib import Path

    import pandas as pd

    lookup = pd.read_csv("data/codes.csv")  # handoff: allow-read a fixed code list
    # A waiver on the line the call starts on, the line it ends on, or the line
    # of the method a chain calls (where the finding is):
    more = pd.read_csv(  # handoff: allow-read where the call starts
        "data/more.csv",
    )
    most = pd.read_csv(
        "data/most.csv",
    )  # handoff: allow-read where the call ends
    raw = (
        Path("data/raw.bin")
        .read_bytes()  # handoff: allow-read the chain's read
    )
    # Not on a line of the read: open() is a line above.
    text = (
        open("data/notes.txt")
        .read()  # handoff: allow-read misplaced
    )
    unwaived = pd.read_csv("data/other.csv")
    """
    plant(settings.package_dir / "lookup.py", dedent(code))

    findings = scan_package(settings.package_dir, sources, settings.root)

    assert [(f.line, f.waived) for f in findings] == [
        (5, "a fixed code list"),
        (8, "where the call starts"),
        (11, "where the call ends"),
        (16, "the chain's read"),
        (20, None),
        (23, None),
    ]
    assert str(findings[0]).endswith(f"{OUTSIDE} (waived: a fixed code list)")


def test_a_waiver_without_a_reason_is_a_finding_and_waives_nothing(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    findings = scan(
        settings,
        sources,
        lookup="""\
        import pandas as pd

        lookup = pd.read_csv("codes.csv")  # handoff: allow-read
        text = pd.read_csv("# handoff: allow-read not a comment")
        """,
    )

    assert findings == [
        f"lookup.py:3: reads data directly with pandas.read_csv(): 'codes.csv' {OUTSIDE}",
        "lookup.py:3: a waiver needs a reason: say why this line may read data "
        "directly ('# handoff: allow-read <reason>')",
        "lookup.py:4: reads data directly with pandas.read_csv(): "
        f"'# handoff: allow-read not a comment' {OUTSIDE}",
    ]


# --- Files the scan cannot read as Python ----------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (b"x = 1\x00\n", "source code string cannot contain null bytes"),
        (b"x = " + b"1 + " * 100_000 + b"1\n", "it is nested too deeply"),
    ],
)
def test_a_file_python_cannot_build_is_a_finding_too(
    settings: config.Settings, sources: dict[str, Source], code: bytes, reason: str
) -> None:
    (settings.package_dir / "odd.py").write_bytes(code)

    [finding] = scan_package(settings.package_dir, sources, settings.root)

    assert (
        str(finding)
        == f"package/src/sample_model/odd.py:0: Python cannot parse it: {reason}"
    )


@pytest.mark.parametrize(
    "code", ["x = " + "-" * 2_000 + "1\n", "x = " + "lambda: " * 400 + "1\n"]
)
def test_code_too_deep_for_the_scan_is_a_finding_not_a_crash(
    settings: config.Settings, sources: dict[str, Source], code: str
) -> None:
    plant(settings.package_dir / "deep.py", code)

    [finding] = scan_package(settings.package_dir, sources, settings.root)

    assert str(finding) == (
        "package/src/sample_model/deep.py:0: the scan cannot follow it: "
        "its code is nested too deeply"
    )


def test_unofficial_sources_used_in_research_are_debts(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    research = settings.research
    plant(
        research / "scratch.py", 'import pandas as pd\npd.read_csv("data/survey.csv")\n'
    )
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": ["'houses' and 'survey' in prose"]},
            {"cell_type": "code", "source": ["load(", "'survey')"]},
        ]
    }
    plant(research / "nb.ipynb", json.dumps(notebook))
    plant(research / ".ipynb_checkpoints/nb-checkpoint.ipynb", json.dumps(notebook))
    plant(research / "clean.py", "print('houses')\n")
    plant(research / "notes.md", "We used 'survey'.\n")

    debts = [str(d) for d in research_debts(research, sources, settings.root)]

    owed = "`survey` (bronze, unofficial; owner bob@example.com) used in research/"
    assert debts == [f"{owed}nb.ipynb", f"{owed}scratch.py"]


# --- Imports of research code ---------------------------------------------------


def test_every_way_package_code_imports_research_code_is_found(
    settings: config.Settings,
) -> None:
    plant(
        settings.package_dir / "leaky.py",
        dedent(
            """\
            import importlib
            from importlib import import_module as load_module

            import research.helpers
            from research import tidy
            from research.plots import draw as sketch

            HELPERS = "research.helpers"
            helpers = importlib.import_module(HELPERS)
            also = load_module("research")
            again = __import__("research.helpers", fromlist=["tidy"])
            """
        ),
    )
    plant(
        settings.package_dir / "fine.py",
        dedent(
            """\
            import importlib

            from . import model
            from .research_notes import NOTES

            contracts = importlib.import_module("sample_model.contracts")
            """
        ),
    )

    findings = [
        str(f).removeprefix("package/src/sample_model/")
        for f in research_imports(settings.package_dir, "research", settings.root)
    ]

    why = "package code must never import research code; move what you need into the package"
    assert findings == [
        f"leaky.py:4: imports research code (research.helpers): {why}",
        f"leaky.py:5: imports research code (research): {why}",
        f"leaky.py:6: imports research code (research.plots): {why}",
        f"leaky.py:9: imports research code (research.helpers): {why}",
        f"leaky.py:10: imports research code (research): {why}",
        f"leaky.py:11: imports research code (research.helpers): {why}",
    ]


# --- Databases ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("imports", "call", "shown"),
    [
        ("import sqlite3", 'sqlite3.connect("x")', "sqlite3.connect"),
        ("import sqlite3 as db", 'db.connect(database="x")', "sqlite3.connect"),
        ("from sqlite3 import connect as c", 'c("x")', "sqlite3.connect"),
        ("import psycopg", 'psycopg.connect("x")', "psycopg.connect"),
        (
            "import psycopg",
            'psycopg.Connection.connect("x")',
            "psycopg.Connection.connect",
        ),
        ("from psycopg2 import connect", 'connect(dsn="x")', "psycopg2.connect"),
        ("import duckdb", 'duckdb.connect("x")', "duckdb.connect"),
        ("import pymysql", 'pymysql.connect("x")', "pymysql.connect"),
        (
            "import mysql.connector",
            'mysql.connector.connect("x")',
            "mysql.connector.connect",
        ),
        (
            "import builtins, sqlite3",
            'getattr(sqlite3, "connect")("x")',
            "sqlite3.connect",
        ),
        (
            "import sqlalchemy as sa",
            'sa.create_engine("x")',
            "sqlalchemy.create_engine",
        ),
        (
            "from sqlalchemy.ext.asyncio import create_async_engine",
            'create_async_engine(url="x")',
            "sqlalchemy.ext.asyncio.create_async_engine",
        ),
        ("import sqlmodel", 'sqlmodel.create_engine("x")', "sqlmodel.create_engine"),
        ("import asyncpg", 'asyncpg.create_pool("x")', "asyncpg.create_pool"),
    ],
)
def test_every_database_connection_is_a_read_whatever_module_makes_it(
    settings: config.Settings,
    sources: dict[str, Source],
    imports: str,
    call: str,
    shown: str,
) -> None:
    findings = scan(settings, sources, db=f"{imports}\n\ncon = {call}\n")

    assert findings == [
        f"db.py:3: reads data directly with {shown}(): 'x' {OUTSIDE}"
    ], f"{call} opens a database the catalog does not name: it should be a read"


def test_a_connection_names_its_file_or_says_the_gate_cannot_see_it(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    findings = scan(
        settings,
        sources,
        db="""\
        import sqlite3

        import psycopg
        import pandas as pd

        DB = "data/houses.csv"
        a = sqlite3.connect(DB)
        b = psycopg.connect(host="db.internal", dbname="sales")
        c = sqlite3.connect(a.path)
        d = pd.read_sql("SELECT * FROM sales", b)
        e = pd.read_sql_query("SELECT 1", "sqlite:///x.db")
        """,
    )

    assert findings == [
        "db.py:7: reads data directly with sqlite3.connect(): 'data/houses.csv' is "
        "the official source 'houses'; load it with catalog.load(\"houses\") instead",
        "db.py:8: reads data directly with psycopg.connect(): a database the call "
        f"does not name (its settings or the environment's); {INSTEAD}",
        "db.py:9: reads data directly with sqlite3.connect(): a database the gate "
        f"cannot see; {INSTEAD}",
        "db.py:10: reads data directly with pandas.read_sql(): its query reads a "
        f"database the catalog does not name; {INSTEAD}",
        "db.py:11: reads data directly with pandas.read_sql_query(): its query reads "
        f"a database the catalog does not name; {INSTEAD}",
    ]


def test_databases_in_memory_hold_no_data_and_pass(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    findings = scan(
        settings,
        sources,
        memory="""\
        import sqlite3
        from sqlite3 import connect as c

        import duckdb
        import sqlalchemy

        MEMORY = ":memory:"
        a = sqlite3.connect(":memory:")
        b = c(MEMORY)
        d = sqlite3.connect("file::memory:?cache=shared", uri=True)
        e = sqlite3.connect("file:shared?mode=memory&cache=shared", uri=True)
        f = duckdb.connect()
        g = duckdb.connect(database=":memory:")
        h = duckdb.connect(":memory:named")
        i = sqlalchemy.create_engine("sqlite://")
        j = sqlalchemy.create_engine("sqlite+pysqlite:///:memory:")
        k = sqlalchemy.create_engine("duckdb:///:memory:")
        """,
    )

    assert findings == [], "a database in memory reads no data: it should pass"


def test_the_packages_own_connect_is_scanned_where_it_is_and_signals_are_no_connection(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    findings = scan(
        settings,
        sources,
        store="""\
        import sqlite3


        def connect(name: str) -> sqlite3.Connection:
            return sqlite3.connect(name)
        """,
        use="""\
        from sample_model import store
        from sample_model.store import connect


        def use(button: object) -> None:
            store.connect("a")
            connect("b")
            button.clicked.connect(print)
        """,
    )

    assert findings == [
        "store.py:5: reads data directly with sqlite3.connect(): a database the gate "
        f"cannot see; {INSTEAD}",
    ], "the package's own connect() is checked inside it, not at every call"


def test_a_query_on_a_duckdb_connection_is_a_read_even_in_memory(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    findings = scan(
        settings,
        sources,
        duck="""\
        import duckdb

        con = duckdb.connect()
        a = con.sql("SELECT * FROM 'data/raw.csv'")
        b = duckdb.connect().execute("SELECT 1")
        with duckdb.connect() as other:
            c = other.query("SELECT 2")
        """,
    )

    why = (
        "on a DuckDB connection: its SQL can read any file, so the gate counts every "
        f"query as a data read; {INSTEAD}, or waive the line "
        "('# handoff: allow-read <reason>')"
    )
    assert findings == [
        f"duck.py:4: reads data directly with con.sql() {why}",
        f"duck.py:5: reads data directly with duckdb.connect().execute() {why}",
        f"duck.py:7: reads data directly with other.query() {why}",
    ]


def test_a_connection_handed_around_is_found(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    findings = scan(
        settings,
        sources,
        handed="""\
        import sqlite3

        opener = sqlite3.connect
        con = opener("x")
        pool = map(sqlite3.connect, ["y"])
        """,
    )

    assert findings == [
        f"handed.py:4: reads data directly with sqlite3.connect(): 'x' {OUTSIDE}",
        "handed.py:5: hands sqlite3.connect() around without calling it, so the gate "
        f"cannot see what it reads; {INSTEAD}",
    ]


@pytest.mark.parametrize(
    ("code", "found"),
    [
        ('import sqlalchemy\n\ne = sqlalchemy.create_engine("postgresql://db/sales")\n',
         "sqlalchemy.create_engine(): 'postgresql://db/sales' is a location outside the data catalog"),
        ('from sqlalchemy import create_engine as ce\n\ne = ce(url="postgresql+psycopg://db/x")\n',
         "sqlalchemy.create_engine(): 'postgresql+psycopg://db/x' is a location outside"),
        ('import duckdb\n\nc = duckdb.connect("data/warehouse.duckdb", read_only=True)\n',
         "duckdb.connect(): 'data/warehouse.duckdb' is a path outside the data catalog"),
        ('import pandas\n\nf = pandas.read_sql("SELECT 1", "postgresql://db/x")\n',
         "pandas.read_sql(): its query reads a database the catalog does not name"),
        ("import s3fs\n\nfs = s3fs.S3FileSystem(anon=True)\n",
         "s3fs.S3FileSystem(): a filesystem reads whatever path the code gives it"),
        ('from s3fs.core import S3FileSystem as S3\n\nS3().cat("s3://b/x.csv")\n',
         "s3fs.core.S3FileSystem(): a filesystem reads whatever path"),
        ('import fsspec\n\nfs = fsspec.filesystem("s3")\n',
         "fsspec.filesystem(): a filesystem reads whatever path"),
        ('import fsspec.core\n\nfs, path = fsspec.core.url_to_fs("s3://b/x.csv")\n',
         "fsspec.core.url_to_fs(): a filesystem reads whatever path"),
    ],
    ids=["create_engine", "create_engine-alias", "duckdb", "read_sql", "s3fs", "s3fs-core", "fsspec", "url_to_fs"],
)  # fmt: skip
def test_the_catalogs_database_and_object_store_readers_are_reads_outside_the_loader(
    settings: config.Settings, sources: dict[str, Source], code: str, found: str
) -> None:
    findings = scan(settings, sources, warehouse=code)

    assert len(findings) == 1, f"one read expected, found {findings}"
    assert findings[0].startswith(
        f"warehouse.py:3: reads data directly with {found}"
    ), findings


def test_a_database_location_the_catalog_names_points_at_its_source(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    for name, location in [
        ("sales", "postgresql://db/sales"),
        ("stock", "data/w.duckdb"),
    ]:
        entry = settings.catalog / f"{name}.yml"
        entry.write_text(
            f"name: {name}\ndescription: d\nowner: o\ntier: gold\nstatus: official\n"
            f"location: {location}\nschema: null\ntable: {name}\n"
        )
    catalogued = read_catalog(settings.catalog, contract_schemas(settings))

    findings = scan(
        settings,
        catalogued,
        warehouse="""\
        import duckdb
        import sqlalchemy

        e = sqlalchemy.create_engine("postgresql://db/sales")
        c = duckdb.connect("data/w.duckdb")
        """,
    )

    assert findings == [
        "warehouse.py:4: reads data directly with sqlalchemy.create_engine(): "
        "'postgresql://db/sales' is the official source 'sales'; load it with "
        'catalog.load("sales") instead',
        "warehouse.py:5: reads data directly with duckdb.connect(): 'data/w.duckdb' "
        "is the official source 'stock'; load it with catalog.load(\"stock\") instead",
    ]
