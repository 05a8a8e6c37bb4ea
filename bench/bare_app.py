"""The HTTP ceiling: a Flask app that only parses the JSON body and answers a constant. No model."""

import orjson
from flask import Flask, Response, request

app = Flask(__name__)


@app.post("/predict")
def predict() -> Response:
    payload = orjson.loads(request.get_data())
    return Response(orjson.dumps({"n": len(payload["inputs"])}), mimetype="application/json")
