"""Full-size models are expensive to generate (BERT-base ~5 s): build each once per session."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

try:
    import sparse_runtime  # noqa: F401
except ImportError:  # bare `pytest` from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sparse_runtime.models import bert_encoder, resnet50


@pytest.fixture(scope="session")
def bert_base():
    """12-layer BERT-base encoder, seq 128, batch 1, 90 % unstructured, full 30522 vocab."""
    return bert_encoder(layers=12, hidden=768, heads=12, ffn=3072, seq=128, batch=1, sparsity=0.9)


@pytest.fixture(scope="session")
def resnet50_224():
    return resnet50(batch=1, image=224, sparsity=0.9)
