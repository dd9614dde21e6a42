"""sparse-serve end to end: a real server process, the official Triton HTTP client."""
from __future__ import annotations

import gzip
import http.client
import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
httpclient = pytest.importorskip("tritonclient.http")
from tritonclient.utils import InferenceServerException  # noqa: E402

HIDDEN = 64


def _input(x, name="x", datatype="FP32", binary=True):
    inp = httpclient.InferInput(name, list(x.shape), datatype)
    inp.set_data_from_numpy(x, binary_data=binary)
    return inp


def _post(address, path, body: bytes, headers=None):
    """(status, parsed JSON or raw bytes) without raising on 4xx."""
    req = urllib.request.Request(f"http://{address}{path}", data=body, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, data = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, data = e.code, e.read()
    try:
        return status, json.loads(data)
    except ValueError:
        return status, data


def _get(address, path):
    try:
        with urllib.request.urlopen(f"http://{address}{path}", timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _x(rows, seed=0):
    return np.random.default_rng(seed).standard_normal((rows, HIDDEN)).astype(np.float32)


# ------------------------------------------------------------------------------------ metadata
def test_health_and_metadata(client):
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("mlp")
    assert not client.is_model_ready("nope")
    server = client.get_server_metadata()
    assert server["name"] == "sparse_runtime" and "binary_tensor_data" in server["extensions"]
    meta = client.get_model_metadata("mlp")
    assert meta["name"] == "mlp" and meta["versions"] == ["1"]
    assert meta["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, HIDDEN]}]
    assert meta["outputs"] == [{"name": "y", "datatype": "FP32", "shape": [-1, HIDDEN]}]
    assert client.get_model_metadata("mlp", model_version="1")["name"] == "mlp"
    assert client.get_model_config("mlp")["input"][0]["data_type"] == "TYPE_FP32"


# ----------------------------------------------------------------------------------- inference
@pytest.mark.parametrize("binary_in,binary_out", [(True, True), (False, False), (True, False), (False, True)])
def test_infer_matches_engine(client, engine, binary_in, binary_out):
    x = _x(3, seed=1)
    out = httpclient.InferRequestedOutput("y", binary_data=binary_out)
    res = client.infer("mlp", [_input(x, binary=binary_in)], outputs=[out], request_id="r1")
    np.testing.assert_allclose(res.as_numpy("y"), engine.run([x])[0], rtol=1e-6, atol=1e-6)
    assert res.get_response()["id"] == "r1"
    assert res.get_output("y")["shape"] == [3, HIDDEN]


def test_infer_default_outputs_are_binary(client, engine):
    x = _x(1, seed=2)
    res = client.infer("mlp", [_input(x)])  # no outputs: the client asks binary_data_output
    assert "binary_data_size" in res.get_output("y")["parameters"]
    np.testing.assert_allclose(res.as_numpy("y"), engine.run([x])[0], rtol=1e-6, atol=1e-6)


def test_raw_json_and_gzip(server, engine):
    x = _x(2, seed=3)
    body = json.dumps({"inputs": [{"name": "x", "shape": [2, HIDDEN], "datatype": "FP32",
                                   "data": x.tolist()}]}).encode()  # nested lists are allowed too
    status, resp = _post(server[0], "/v2/models/mlp/infer", body)
    assert status == 200
    y = np.array(resp["outputs"][0]["data"], np.float32).reshape(resp["outputs"][0]["shape"])
    np.testing.assert_allclose(y, engine.run([x])[0], rtol=1e-6, atol=1e-6)
    status, resp = _post(server[0], "/v2/models/mlp/infer", gzip.compress(body), {"Content-Encoding": "gzip"})
    assert status == 200 and resp["outputs"][0]["shape"] == [2, HIDDEN]


# -------------------------------------------------------------------------------------- errors
def _expect_error(client, status, fragment, inputs, model="mlp", outputs=None):
    with pytest.raises(InferenceServerException) as ei:
        client.infer(model, inputs, outputs=outputs)
    assert ei.value.status() == str(status), ei.value.message()
    assert fragment in ei.value.message()


def test_client_errors_are_4xx_and_server_keeps_serving(client, engine):
    x = _x(1)
    _expect_error(client, 404, "unknown model 'nope'", [_input(x)], model="nope")
    _expect_error(client, 400, "shape [1, 63]", [_input(np.zeros((1, 63), np.float32))])
    _expect_error(client, 400, "datatype INT64, the model expects FP32", [_input(x.astype(np.int64), datatype="INT64")])
    _expect_error(client, 400, "unknown input 'z'", [_input(x, name="z")])
    _expect_error(client, 400, "missing input(s) ['x']", [])
    _expect_error(client, 400, "unknown output 'q'", [_input(x)], outputs=[httpclient.InferRequestedOutput("q")])
    with pytest.raises(InferenceServerException) as ei:
        client.get_model_metadata("nope")
    assert ei.value.status() == "404"
    res = client.infer("mlp", [_input(x)])  # still serving, and still right
    np.testing.assert_allclose(res.as_numpy("y"), engine.run([x])[0], rtol=1e-6, atol=1e-6)


_BAD = [
    (b"{not json", {}, 400, "malformed JSON"),
    (b"[1, 2]", {}, 400, "'inputs' list"),
    (b'{"inputs": [{"name": "x", "shape": [1, 64], "datatype": "FP32", "data": ["a"]}]}', {}, 400,
     "not a list of FP32"),
    (b'{"inputs": [{"name": "x", "shape": [1, 64], "datatype": "FP32", "data": [1, 2]}]}', {}, 400, "needs 64"),
    (b'{"inputs": [{"name": "x", "shape": [1, -64], "datatype": "FP32", "data": []}]}', {}, 400, "non-negative"),
    (b'{"inputs": [{"name": "x", "shape": [1, 64], "datatype": "FP32", "parameters": {"binary_data_size": 256}}]}',
     {}, 400, "binary data ends"),
    (b'{"inputs": []}xyz', {"Inference-Header-Content-Length": "14"}, 400, "not claimed"),
    (b"{}", {"Inference-Header-Content-Length": "99"}, 400, "outside the body"),
    (b"{}", {"Content-Encoding": "br"}, 415, "unsupported Content-Encoding"),
    (gzip.compress(b" " * (2 << 20)), {"Content-Encoding": "gzip"}, 413, "once inflated"),
]


@pytest.mark.parametrize("body,headers,status,fragment", _BAD, ids=[b[3] for b in _BAD])
def test_bad_requests(server, body, headers, status, fragment):
    got, resp = _post(server[0], "/v2/models/mlp/infer", body, headers)
    assert got == status and fragment in resp["error"], resp


def test_oversized_body_refused_before_it_is_read(server):
    """Content-Length over --max-body-mb (1 MiB here): 413 at once, without sending the body."""
    host, port = server[0].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.putrequest("POST", "/v2/models/mlp/infer")
    conn.putheader("Content-Length", str(512 << 20))
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 413 and "exceeds the limit" in json.loads(resp.read())["error"]
    conn.close()


def test_unknown_routes_and_version(server):
    status, body = _get(server[0], "/v3/whatever")
    assert status == 404 and "error" in json.loads(body)
    status, body = _get(server[0], "/v2/models/mlp/versions/7")
    assert status == 404 and "no version '7'" in json.loads(body)["error"]
    assert _get(server[0], "/v2/models/mlp/versions/1/ready")[0] == 200


def test_metrics_count_requests_errors_latency(client, server):
    client.infer("mlp", [_input(_x(1))])
    status, body = _get(server[0], "/metrics")
    text = body.decode()
    assert status == 200
    assert 'sparse_serve_requests_total{model="mlp"}' in text
    assert 'sparse_serve_request_errors_total{model="mlp",code="400"}' in text  # from the tests above
    assert 'sparse_serve_request_duration_seconds_bucket{model="mlp",le="+Inf"}' in text
    assert 'sparse_serve_batch_size_count{model="mlp"}' in text


# ------------------------------------------------------------------------------------ batching
def test_dynamic_batching_merges_and_splits_correctly(batching_server, engine):
    """32 clients at once, 1-3 rows each: every answer equals Engine.run on that request alone,
    and the batch-size histogram shows merged executions."""
    address = batching_server[0]
    results, errors = {}, []

    def worker(k):
        c = httpclient.InferenceServerClient(address, network_timeout=30)
        try:
            for j in range(4):
                x = _x(1 + (k + j) % 3, seed=100 * k + j)
                results[(k, j)] = (x, c.infer("mlp", [_input(x)]).as_numpy("y"))
        except Exception as e:
            errors.append(e)
        finally:
            c.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(results) == 128
    for x, y in results.values():
        np.testing.assert_allclose(y, engine.run([x])[0], rtol=1e-5, atol=1e-5)
    text = _get(address, "/metrics")[1].decode()
    count = float(text.split('sparse_serve_batch_size_count{model="mlp"} ')[1].split()[0])
    rows = float(text.split('sparse_serve_batch_size_sum{model="mlp"} ')[1].split()[0])
    assert rows == sum(x.shape[0] for x, _ in results.values())
    assert count < 128, "no two requests were merged"


def test_batching_off_for_fixed_batch_model(tmp_path, load_tools):
    """--max-batch on a model whose dim 0 is fixed: the server says so and serves unbatched."""
    import onnx

    from sparse_runtime.models import mlp

    path = tmp_path / "fixed.onnx"
    onnx.save(mlp(hidden=HIDDEN, ffn=128, tokens=2, sparsity=0.5), path)
    with load_tools.start_server(path, "--max-batch", 8, name="fixed") as (address, _):
        c = httpclient.InferenceServerClient(address)
        assert "dynamic_batching" not in c.get_model_config("fixed")
        assert c.infer("fixed", [_input(_x(2))]).as_numpy("y").shape == (2, HIDDEN)
        c.close()


# ------------------------------------------------------------------------------------ start-up
def test_model_that_fails_to_load_stops_startup(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"this is not an onnx file")
    proc = subprocess.run([sys.executable, "-m", "sparse_runtime.serve", str(bad), "--port", "1"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "cannot load model" in proc.stderr and "broken.onnx" in proc.stderr
