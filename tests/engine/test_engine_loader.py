"""load_model: sources, validation errors, external data, sparse initializers, IR3 models."""
from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from engine_models import assert_matches, mlp, model, reference, tensor, vi
from sparse_runtime import Engine
from sparse_runtime.errors import ModelLoadError, UnsupportedOpError
from sparse_runtime.loader import load_model


def _save(tmp_path, m, name="model.onnx"):
    p = tmp_path / name
    p.write_bytes(m.SerializeToString())
    return p


# --------------------------------------------------------------------------------- sources

def test_load_path_bytes_proto_agree(tmp_path):
    m = mlp()
    before = m.SerializeToString()
    p = _save(tmp_path, m)
    graphs = [load_model(str(p)), load_model(p), load_model(p.read_bytes()), load_model(m)]
    assert m.SerializeToString() == before  # the caller's proto is not modified
    for g in graphs:
        assert [n.op_type for n in g.nodes] == ["MatMul", "Add", "Relu", "Mul"]
        assert [vi.name for vi in g.inputs] == ["x"]
        assert g.inputs[0].shape == ("N", 4) and g.inputs[0].dtype == np.float32
        assert set(g.initializers) == {"w", "b", "two"}
        assert g.value_info["pre"].shape == ("N", 3)  # filled by shape inference
        assert g.opset == 17


def test_missing_file(tmp_path):
    p = tmp_path / "nope.onnx"
    with pytest.raises(ModelLoadError, match="nope.onnx.*does not exist"):
        load_model(p)


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(ModelLoadError, match="not a file"):
        load_model(tmp_path)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.onnx"
    p.write_bytes(b"")
    with pytest.raises(ModelLoadError, match="empty.onnx.*empty"):
        load_model(p)


def test_garbage_file(tmp_path):
    p = tmp_path / "garbage.onnx"
    p.write_bytes(os.urandom(64) + b"\xff" * 64)
    with pytest.raises(ModelLoadError, match="garbage.onnx"):
        load_model(p)


def test_text_file(tmp_path):
    p = tmp_path / "readme.onnx"
    p.write_text("this is not a model\n" * 10)
    with pytest.raises(ModelLoadError, match="readme.onnx"):
        load_model(p)


def test_every_truncation_is_a_clear_error(tmp_path):
    data = mlp().SerializeToString()
    p = tmp_path / "trunc.onnx"
    for cut in range(1, len(data), max(1, len(data) // 97)):
        p.write_bytes(data[:cut])
        with pytest.raises(ModelLoadError, match="trunc.onnx"):
            load_model(p)


def test_corrupt_initializer_size(tmp_path):
    m = mlp()
    m.graph.initializer[0].raw_data = m.graph.initializer[0].raw_data[:-4]
    with pytest.raises(ModelLoadError, match="bad.onnx.*'w'"):
        load_model(_save(tmp_path, m, "bad.onnx"))


def test_unsupported_source_type():
    with pytest.raises(ModelLoadError, match="int"):
        load_model(42)


# ----------------------------------------------------------------------------- versions/graph

def test_ir_version_too_new(tmp_path):
    m = mlp()
    m.ir_version = onnx.IR_VERSION + 5
    with pytest.raises(ModelLoadError, match=f"new.onnx.*IR version {onnx.IR_VERSION + 5}"):
        load_model(_save(tmp_path, m, "new.onnx"))


def test_opset_too_new(tmp_path):
    m = mlp()
    m.opset_import[0].version = onnx.defs.onnx_opset_version() + 3
    with pytest.raises(ModelLoadError, match="opset .* newer"):
        load_model(_save(tmp_path, m))


def test_opset_too_old():
    m = model([h.make_node("Relu", ["x"], ["y"])], [vi("x", [2])], [vi("y", [2])], opset=6)
    with pytest.raises(ModelLoadError, match="opset 6 is too old"):
        load_model(m)


def test_empty_graph(tmp_path):
    m = model([], [], [])
    with pytest.raises(ModelLoadError, match="empty"):
        load_model(_save(tmp_path, m, "hollow.onnx"))


def test_unsorted_nodes_are_sorted():
    m = mlp()
    nodes = list(m.graph.node)
    del m.graph.node[:]
    m.graph.node.extend(reversed(nodes))
    g = load_model(m)
    assert [n.name for n in g.nodes] == ["mm", "add", "relu", "mul"]
    x = np.ones((2, 4), np.float32)
    assert_matches(Engine(m).run([x]), reference(mlp_sorted(m), {"x": x}))


def mlp_sorted(m):
    s = onnx.ModelProto()
    s.CopyFrom(m)
    nodes = sorted(s.graph.node, key=lambda n: ["mm", "add", "relu", "mul"].index(n.name))
    del s.graph.node[:]
    s.graph.node.extend(nodes)
    return s


def test_cycle_names_node():
    nodes = [h.make_node("Relu", ["b"], ["a"], name="first"), h.make_node("Relu", ["a"], ["b"], name="second")]
    m = model(nodes, [vi("x", [2])], [vi("b", [2])])
    with pytest.raises(ModelLoadError, match="cycle.*first"):
        load_model(m)


def test_undefined_input_names_node_and_input():
    nodes = [h.make_node("Relu", ["x"], ["a"], name="ok"), h.make_node("Add", ["a", "ghost"], ["y"], name="adder")]
    m = model(nodes, [vi("x", [2])], [vi("y", [2])])
    with pytest.raises(ModelLoadError, match="'adder'.*'ghost'"):
        load_model(m)


def test_unknown_default_domain_op_names_node():
    m = model([h.make_node("FrobnicateX", ["x"], ["y"], name="frob")], [vi("x", [2])], [vi("y", [2])])
    with pytest.raises(UnsupportedOpError, match="'frob'.*FrobnicateX"):
        load_model(m)


def test_subgraph_ops_are_a_clear_error():
    then_g = h.make_graph([h.make_node("Identity", ["x"], ["t"])], "then", [], [vi("t", [2])])
    else_g = h.make_graph([h.make_node("Neg", ["x"], ["e"])], "else", [], [vi("e", [2])])
    node = h.make_node("If", ["c"], ["y"], name="branch", then_branch=then_g, else_branch=else_g)
    m = model([node], [vi("c", [], T.BOOL), vi("x", [2])], [vi("y", [2])])
    with pytest.raises(UnsupportedOpError, match="'branch'.*subgraph"):
        load_model(m)


def test_attributes_are_decoded():
    nodes = [h.make_node("Transpose", ["x"], ["t"], name="tr", perm=[1, 0]),
             h.make_node("LeakyRelu", ["t"], ["y"], name="lr", alpha=0.25)]
    g = load_model(model(nodes, [vi("x", [2, 3])], [vi("y", [3, 2])]))
    assert g.nodes[0].attrs == {"perm": [1, 0]}
    assert g.nodes[1].attrs["alpha"] == pytest.approx(0.25)
    assert g.value_info["t"].shape == (3, 2)


# ------------------------------------------------------------------------ IR3 / sparse inits

def test_ir3_initializers_listed_as_inputs_are_constants():
    w = np.arange(12, dtype=np.float32).reshape(4, 3)
    nodes = [h.make_node("MatMul", ["x", "w"], ["y"], name="mm")]
    m = model(nodes, [vi("x", [2, 4]), vi("w", [4, 3])], [vi("y", [2, 3])], [tensor("w", w)], opset=8, ir=3)
    g = load_model(m)
    assert [v.name for v in g.inputs] == ["x"]
    assert "w" in g.initializers
    eng = Engine(m)
    assert eng.input_names == ["x"]
    x = np.ones((2, 4), np.float32)
    assert_matches(eng.run([x]), [x @ w])


def test_sparse_initializer_becomes_dense():
    dense = np.zeros((4, 3), np.float32)
    dense[0, 1], dense[2, 0], dense[3, 2] = 1.5, -2.0, 4.0
    flat = np.flatnonzero(dense)
    sp = h.make_sparse_tensor(tensor("w", dense.reshape(-1)[flat]), tensor("w_idx", flat.astype(np.int64)), [4, 3])
    g = h.make_graph([h.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "sp", [vi("x", [2, 4])],
                     [vi("y", [2, 3])], sparse_initializer=[sp])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
    graph = load_model(m)
    np.testing.assert_array_equal(graph.initializers["w"], dense)
    x = RNG().standard_normal((2, 4)).astype(np.float32)
    assert_matches(Engine(m).run([x]), [x @ dense])


def test_sparse_initializer_coordinate_indices():
    dense = np.zeros((3, 3), np.float32)
    coords = np.array([[0, 0], [1, 2], [2, 1]], np.int64)
    dense[tuple(coords.T)] = [1, 2, 3]
    sp = h.make_sparse_tensor(tensor("w", np.array([1, 2, 3], np.float32)), tensor("w_idx", coords), [3, 3])
    g = h.make_graph([h.make_node("Add", ["x", "w"], ["y"], name="add")], "sp", [vi("x", [3, 3])],
                     [vi("y", [3, 3])], sparse_initializer=[sp])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
    np.testing.assert_array_equal(load_model(m).initializers["w"], dense)


def RNG():
    return np.random.default_rng(1)


# -------------------------------------------------------------------------------- external data

def _external_model(tmp_path):
    m = mlp(k=64, n=32)
    path = tmp_path / "ext.onnx"
    saved = onnx.ModelProto()
    saved.CopyFrom(m)  # onnx.save rewrites the proto it is given
    onnx.save(saved, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
              location="ext.bin", size_threshold=0)
    return m, path


def test_external_data_loads(tmp_path):
    m, path = _external_model(tmp_path)
    assert (tmp_path / "ext.bin").exists()
    g = load_model(path)
    ref = {t.name: onnx.numpy_helper.to_array(t) for t in m.graph.initializer}
    for name, arr in ref.items():
        np.testing.assert_array_equal(g.initializers[name], arr)
    x = RNG().standard_normal((3, 64)).astype(np.float32)
    assert_matches(Engine(path).run([x]), reference(m, {"x": x}))


def _with_location(tmp_path, location, offset=None, length=None, name="bad.onnx"):
    """mlp() whose 'w' initializer points at external data, entries written by hand."""
    m = mlp()
    t = next(t for t in m.graph.initializer if t.name == "w")
    nbytes = len(t.raw_data)
    t.ClearField("raw_data")
    t.data_location = T.EXTERNAL
    entries = {"location": location, "offset": offset, "length": nbytes if length is None else length}
    for k, v in entries.items():
        if v is not None:
            e = t.external_data.add()
            e.key, e.value = k, str(v)
    return _save(tmp_path, m, name), nbytes


def test_external_absolute_path_rejected(tmp_path):
    p, _ = _with_location(tmp_path, "/etc/passwd")
    with pytest.raises(ModelLoadError, match=r"bad.onnx.*'w'.*absolute"):
        load_model(p)


def test_external_dotdot_rejected(tmp_path):
    sub = tmp_path / "m"
    sub.mkdir()
    (tmp_path / "secret.bin").write_bytes(b"\0" * 1000)
    p, _ = _with_location(sub, "../secret.bin")
    with pytest.raises(ModelLoadError, match=r"'w'.*\.\."):
        load_model(p)
    p, _ = _with_location(sub, "data/../../secret.bin", name="bad2.onnx")
    with pytest.raises(ModelLoadError, match=r"bad2.onnx.*\.\."):
        load_model(p)


def test_external_symlink_escaping_rejected(tmp_path):
    sub = tmp_path / "m"
    sub.mkdir()
    (tmp_path / "outside.bin").write_bytes(b"\0" * 1000)
    os.symlink(tmp_path / "outside.bin", sub / "link.bin")
    p, _ = _with_location(sub, "link.bin")
    with pytest.raises(ModelLoadError, match="outside the model's folder"):
        load_model(p)


def test_external_symlink_inside_folder_ok(tmp_path):
    m, path = _external_model(tmp_path)
    os.rename(tmp_path / "ext.bin", tmp_path / "real.bin")
    os.symlink(tmp_path / "real.bin", tmp_path / "ext.bin")
    g = load_model(path)
    np.testing.assert_array_equal(g.initializers["w"], onnx.numpy_helper.to_array(m.graph.initializer[0]))


def test_external_missing_file(tmp_path):
    p, _ = _with_location(tmp_path, "weights.bin")
    with pytest.raises(ModelLoadError, match=r"'w'.*weights.bin.*does not exist"):
        load_model(p)


def test_external_file_too_short(tmp_path):
    p, nbytes = _with_location(tmp_path, "short.bin", offset=8)
    (tmp_path / "short.bin").write_bytes(b"\0" * nbytes)  # offset 8 + nbytes > size
    with pytest.raises(ModelLoadError, match=r"'w'.*too short"):
        load_model(p)


def test_external_length_mismatch(tmp_path):
    p, nbytes = _with_location(tmp_path, "w.bin", length=7)
    (tmp_path / "w.bin").write_bytes(b"\0" * 1000)
    with pytest.raises(ModelLoadError, match=r"'w'.*length 7"):
        load_model(p)


def test_external_data_in_memory_is_rejected(tmp_path):
    p, _ = _with_location(tmp_path, "w.bin")
    with pytest.raises(ModelLoadError, match="external data.*path"):
        load_model(p.read_bytes())


def test_external_escape_checked_before_reading(tmp_path, monkeypatch):
    # The loader must not open any external file when one location is bad.
    p, _ = _with_location(tmp_path, "../x.bin")
    import builtins
    real_open = builtins.open
    opened = []

    def spy(file, *a, **k):
        opened.append(str(file))
        return real_open(file, *a, **k)

    monkeypatch.setattr(builtins, "open", spy)
    with pytest.raises(ModelLoadError):
        load_model(p)
    assert all(f.endswith("bad.onnx") for f in opened)


def test_model_local_functions_are_inlined():
    fn = h.make_function("my.fns", "Double", ["a"], ["b"], [h.make_node("Add", ["a", "a"], ["b"])],
                         [h.make_opsetid("", 17)])
    g = h.make_graph([h.make_node("Double", ["x"], ["y"], name="dbl", domain="my.fns")], "f",
                     [vi("x", [3])], [vi("y", [3])])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17), h.make_opsetid("my.fns", 1)], functions=[fn])
    assert [n.op_type for n in load_model(m).nodes] == ["Add"]
    x = np.arange(3, dtype=np.float32)
    assert_matches(Engine(m).run([x]), [x + x])
