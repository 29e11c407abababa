"""Rows per second of input validation, run by bench/run.py in a chosen environment.

With `--package NAME` it imports the generated project's contract (`NAME.contracts`)
and validates with its input schema; without it, with `CustomerFeatures` below, which
checks the same columns as the worked example. Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import time
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

CONTRACT_TYPES = ["month-to-month", "one-year", "two-year"]


class CustomerFeatures(pa.DataFrameModel):
    """The worked example's model input, as the contract describes it."""

    tenure_months: Series[int] = pa.Field(ge=0)
    monthly_charges: Series[float] = pa.Field(ge=0)
    contract_type: Series[str] = pa.Field(isin=CONTRACT_TYPES)
    support_calls: Series[int] = pa.Field(ge=0)


def make_rows(n_rows: int, seed: int = 0) -> pd.DataFrame:
    """The example's columns and distributions, without the label."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure_months": rng.integers(0, 72, n_rows).astype("int64"),
            "monthly_charges": rng.uniform(20.0, 120.0, n_rows).round(2),
            "contract_type": rng.choice(CONTRACT_TYPES, n_rows, p=[0.5, 0.3, 0.2]),
            "support_calls": rng.poisson(1.5, n_rows).astype("int64"),
        }
    )


def input_schema(package: str) -> type[pa.DataFrameModel]:
    """The contract's input schema: its one DataFrameModel named for inputs or features."""
    contracts = importlib.import_module(f"{package}.contracts")
    models = {
        name: value
        for name, value in vars(contracts).items()
        if isinstance(value, type)
        and issubclass(value, pa.DataFrameModel)
        and value is not pa.DataFrameModel
    }
    inputs = [
        model
        for name, model in sorted(models.items())
        if any(word in name.lower() for word in ("input", "feature"))
    ]
    if len(inputs) != 1:
        raise SystemExit(
            f"{package}.contracts has DataFrameModels {sorted(models)}: expected exactly one "
            "whose name says input or features."
        )
    return inputs[0]


def project_rows(package: str, n_rows: int) -> pd.DataFrame:
    """The project's own example data when it has a generator, else ours."""
    try:
        data = importlib.import_module(f"{package}.data")
    except ModuleNotFoundError as missing:
        if missing.name != f"{package}.data":
            raise  # The module exists but is broken: say so, do not measure something else.
        return make_rows(n_rows)
    make: Any = getattr(data, "make_customers", None)
    return make(n_rows) if callable(make) else make_rows(n_rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--package", help="a generated project's package with contracts/")
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    if args.package:
        schema = input_schema(args.package)
        source = f"{args.package}.contracts.{schema.__name__} (the generated project's contract)"
    else:
        schema = CustomerFeatures
        source = "CustomerFeatures in bench/validate.py (no contracts/ in the generated project)"

    results = []
    for n_rows in args.rows:
        frame = project_rows(args.package, n_rows) if args.package else make_rows(n_rows)
        schema.validate(frame.head(100))  # Warm-up: pandera builds its checks lazily.
        seconds = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            schema.validate(frame)
            seconds.append(time.perf_counter() - start)
        results.append({"rows": n_rows, "seconds": seconds})
        print(f"  {n_rows:>9,} rows: {statistics.median(seconds):.3f} s", file=sys.stderr)
    json.dump({"schema": source, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
