"""pytest-benchmark suite for whole models through Engine.run.

Run: python -m pytest benchmarks/test_bench_models.py --benchmark-enable --benchmark-columns=median,ops
The MLP and a 2-layer BERT-base slice keep it short; benchmarks/compare.py runs the full models
against ONNX Runtime and DeepSparse.
"""
import numpy as np
import pytest

from sparse_runtime import Engine, kernels
from sparse_runtime.engine.benchmark import prepare_feeds
from sparse_runtime.models import bert_encoder, mlp, resnet50

MODELS = {
    "mlp768x3072-t128": lambda s: mlp(hidden=768, ffn=3072, tokens=128, sparsity=s),
    "bert-base-2layers-seq128": lambda s: bert_encoder(layers=2, seq=128, sparsity=s),
    "resnet50-112px": lambda s: resnet50(image=112, sparsity=s),
}


@pytest.mark.parametrize("sparsity", [0.0, 0.9])
@pytest.mark.parametrize("name", list(MODELS))
def test_model(benchmark, name, sparsity):
    engine = Engine(MODELS[name](sparsity))
    feeds = prepare_feeds(engine)
    engine.run(feeds)
    benchmark(engine.run, feeds)
    benchmark.extra_info.update({"isa": kernels.get_isa(), "threads": kernels.get_num_threads(),
                                 "formats": sorted({r["format"] for r in engine.report()})})
