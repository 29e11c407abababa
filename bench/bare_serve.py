"""The serving floor: a bare FastAPI route around the model's fitted scikit-learn
pipeline, with no contract check (JSON -> DataFrame -> predict_proba).

Run in a generated project's environment, with the registry model to take the
pipeline from: `python bare_serve.py MODEL_URI --port PORT`. It answers GET /health
and POST /predict (a JSON array of rows) with the probability of the positive class
per row, on one uvicorn worker, as `handoff serve --workers 1` does.
"""

from __future__ import annotations

import argparse
import json

import pandas as pd
import uvicorn
from fastapi import FastAPI, Request, Response
from handoff_kit import registry


def pipeline_of(model: object) -> object:
    """The fitted estimator the model holds: its first attribute that has predict_proba."""
    for value in vars(model).values():
        if hasattr(value, "predict_proba"):
            return value
    raise SystemExit(f"{type(model).__name__} holds no estimator with predict_proba")


def create_app(pipeline: object) -> FastAPI:
    app = FastAPI()
    predict_proba = pipeline.predict_proba  # type: ignore[attr-defined]

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        frame = pd.DataFrame(json.loads(await request.body()))
        scores = predict_proba(frame)[:, 1]
        return Response(json.dumps(scores.tolist()), media_type="application/json")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a registry model URI, e.g. models:/<name>@champion")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    app = create_app(pipeline_of(registry.load(args.model)))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
