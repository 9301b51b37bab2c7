"""Engine properties: determinism, independence from batch composition, masks, Adam counters."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from noisereg.data.reference import Split
from noisereg.engine import loop as batched
from noisereg.engine import plan
from noisereg.engine import trainer as engine
from noisereg.engine.randomness import PACKET
from noisereg.net import Net
from tests.conftest import assert_same_weights

OPT = engine.Optimization.keras_adam(60, log_every=20)
ALL_TRAIN, ALL_TEST = tuple(range(30)), tuple(range(70))


def train(
    split: Split,
    members: list[engine.Member],
    opt: engine.Optimization = OPT,
    checkpoints: tuple[int, ...] = (),
) -> engine.TrainResult:
    data = (split.x_train, split.y_train, split.x_test, split.y_test)
    return engine.train(members, *data, opt, checkpoints=checkpoints)


def member(
    seed: int,
    s_in: float = 0.2,
    s_h: float = 0.2,
    width: int = 24,
    rows: tuple[int, ...] = ALL_TRAIN,
) -> engine.Member:
    net = Net.of(width, input_stddev=s_in, hidden_stddev=s_h)
    return engine.Member(net, seed, seed + 100, rows, ALL_TEST)


def test_same_seeds_give_identical_weights(split: Split) -> None:
    first, second = (train(split, [member(1), member(2)]) for _ in range(2))
    assert_same_weights(first.weights, second.weights)


def test_chunks_of_one_shape_share_a_trace_but_not_data(split: Split) -> None:
    # A reused graph must read the new chunk's rows, seeds and stddevs, not the first one's.
    first = [member(1), member(2, s_in=0.05, rows=tuple(range(0, 30, 2)))]
    second = [member(5, s_in=0.4, s_h=0.1), member(6, rows=tuple(range(1, 30, 2)))]
    batched.compiled_loop.cache_clear()
    fresh = train(split, second)
    batched.compiled_loop.cache_clear()
    train(split, first, engine.Optimization.keras_adam(20, log_every=20))
    reused = train(split, second)
    assert batched.compiled_loop.cache_info().misses == 1  # one shape, so one loop ...
    loop = batched.compiled_loop((_shape_of(split, second),))
    assert loop.run_intervals.experimental_get_tracing_count() == 1  # ... traced once
    assert_same_weights(fresh.weights, reused.weights)
    np.testing.assert_array_equal(fresh.history["val_loss"], reused.history["val_loss"])


def run_alone(chunk: engine._Chunk) -> engine.TrainResult:
    """Train one chunk in a loop of its own (a bundle of one)."""
    (result,) = engine._Bundle([chunk]).run("chunk", 0.0)
    return result


def _shape_of(split: Split, members: list[engine.Member]) -> batched.LoopShape:
    return engine._Chunk(
        members, split.x_train, split.y_train, split.x_test, split.y_test, OPT
    ).shape


def test_different_seed_gives_different_weights(split: Split) -> None:
    result = train(split, [member(1), member(2)])
    assert not np.array_equal(result.weights[0].kernels[0], result.weights[1].kernels[0])


def test_result_does_not_depend_on_batch_mates_or_chunking(split: Split) -> None:
    alone = train(split, [member(7)]).weights[0]
    every_placement = Net.of(
        (24,), post_activation_stddev=0.3, dropout_rate=0.2, weight_stddev=0.1, logit_stddev=0.5
    )
    mates = [
        member(3, 0.5, 0.0),
        member(7),
        engine.Member(every_placement, 9, 109, ALL_TRAIN, ALL_TEST),
        member(4, width=10),
        engine.Member(Net.of((8, 8), hidden_stddev=0.2), 5, 105, ALL_TRAIN, ALL_TEST),
    ]
    together = engine.train(
        mates, split.x_train, split.y_train, split.x_test, split.y_test, OPT, max_models_per_graph=2
    ).weights[1]
    for x, y in zip(alone.as_list(), together.as_list(), strict=True):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-6)


def test_logging_less_often_leaves_the_weights_unchanged(split: Split) -> None:
    opt = engine.Optimization.keras_adam(60, log_every=1)
    coarse = engine.progress_only(opt)
    assert coarse.log_every == 6  # ten progress lines
    every_epoch, progress = train(split, [member(1)], opt), train(split, [member(1)], coarse)
    assert_same_weights(every_epoch.weights, progress.weights)
    np.testing.assert_array_equal(progress.logged_epochs, np.arange(6, 61, 6))
    np.testing.assert_array_equal(
        progress.history["val_loss"][0], every_epoch.history["val_loss"][0, 5::6]
    )


def test_stage_processes_use_the_reusing_cpu_allocator() -> None:
    # Set by `import noisereg` before TensorFlow starts; TF reports allocator stats for the
    # CPU only when its BFC allocator is in use.
    script = (
        "import noisereg, tensorflow as tf; tf.ones([8]); "
        "print(tf.config.experimental.get_memory_info('CPU:0')['peak'] > 0)"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_CPU_ALLOCATOR_USE_BFC"}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip() == "True", result.stderr[-500:]


# Trains one 1-epoch model at each of six widths: six shapes, six traces, as a benefit map does.
_SIX_SHAPES = """
import sys
import numpy as np
import tensorflow as tf
from noisereg.engine import trainer as engine
from noisereg.net import Net
if sys.argv[1] == "without-filter":
    for log_filter in list(tf.get_logger().filters):
        tf.get_logger().removeFilter(log_filter)
x = np.zeros((4, 2), np.float32)
y = np.array([0, 1, 0, 1], np.float32)
opt = engine.Optimization.keras_adam(1, log_every=1)
for width in range(1, 7):
    member = engine.Member(Net.of(width, hidden_stddev=0.1), 1, 2, (0, 1, 2, 3), (0, 1))
    engine.train([member], x, y, x, y, opt)
"""


@pytest.mark.slow  # a stage process that traces many loop shapes (> 20 s)
def test_a_trace_per_loop_shape_is_not_reported_as_retracing() -> None:
    # Fresh processes: TensorFlow warns at most twice per function and process.
    def stderr_of(mode: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", _SIX_SHAPES, mode], capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stderr[-1000:]
        return result.stderr

    warning = "triggered tf.function retracing"
    assert warning in stderr_of("without-filter")  # the scenario does make TensorFlow warn
    assert warning not in stderr_of("as-shipped")


def test_smaller_fold_trains_as_if_alone_in_minibatch_mode(split: Split) -> None:
    opt = engine.Optimization.keras_adam(30, 8, log_every=10)
    short_rows = tuple(range(0, 30, 3))  # 10 rows: 2 batches per epoch, the other member 4
    alone = train(split, [member(5, rows=short_rows)], opt)
    together = train(split, [member(6), member(5, rows=short_rows)], opt)
    np.testing.assert_allclose(
        alone.weights[0].kernels[0], together.weights[1].kernels[0], rtol=0, atol=1e-6
    )
    np.testing.assert_allclose(
        alone.history["train_loss"][0], together.history["train_loss"][1], atol=1e-6
    )


def test_history_logged_every_n_epochs_and_at_the_end(split: Split) -> None:
    opt = engine.Optimization.keras_adam(45, log_every=20, shuffle=False)
    result = train(split, [member(1)], opt)
    np.testing.assert_array_equal(result.logged_epochs, [20, 40, 45])
    assert set(result.history) == set(engine.HISTORY_COLUMNS)
    assert result.history["val_acc"].shape == (1, 3)


def test_noise_free_member_ignores_its_noise_seed(split: Split) -> None:
    a = train(split, [engine.Member(Net.of(16), 1, 10, ALL_TRAIN, ALL_TEST)]).weights[0]
    b = train(split, [engine.Member(Net.of(16), 1, 99, ALL_TRAIN, ALL_TEST)]).weights[0]
    for x, y in zip(a.as_list(), b.as_list(), strict=True):
        np.testing.assert_array_equal(x, y)


def test_every_placement_changes_training(split: Split) -> None:
    """Each placement alone draws noise: its weights differ from noise-free training."""
    placements = {
        "input": {"input_stddev": 0.2},
        "pre": {"hidden_stddev": 0.2},
        "post": {"post_activation_stddev": 0.2},
        "dropout": {"dropout_rate": 0.2},
        "weights": {"weight_stddev": 0.2},
        "logits": {"logit_stddev": 0.5},
    }
    nets = [Net.of((8, 8))] + [Net.of((8, 8), **kw) for kw in placements.values()]
    result = train(split, [engine.Member(n, 1, 10, ALL_TRAIN, ALL_TEST) for n in nets])
    clean = result.weights[0].kernels[-1]
    for name, weights in zip(placements, result.weights[1:], strict=True):
        assert not np.allclose(weights.kernels[-1], clean), name


def test_deep_weights_have_keras_shapes(split: Split) -> None:
    member_ = engine.Member(Net.of((8, 4, 3)), 1, 2, ALL_TRAIN, ALL_TEST)
    weights = train(split, [member_]).weights[0]
    assert [k.shape for k in weights.kernels] == [(2, 8), (8, 4), (4, 3), (3, 1)]
    assert [b.shape for b in weights.biases] == [(8,), (4,), (3,), (1,)]


def test_chunks_group_by_architecture_and_noise_placements() -> None:
    nets = [
        Net.of(24, input_stddev=0.1),
        Net.of(24, hidden_stddev=0.1),
        Net.of(24, input_stddev=0.3),
        Net.of((8, 8)),
        Net.of(24, hidden_stddev=0.2),
        Net.of(24, input_stddev=0.2),
    ]
    members = [engine.Member(net, i, i, ALL_TRAIN, ALL_TEST) for i, net in enumerate(nets)]
    assert plan.plan_chunks(members, 256) == [[0, 2, 5], [1, 4], [3]]
    assert plan.plan_chunks(members, 2) == [[0, 2], [5], [1, 4], [3]]


def grid_like_members(rows_per_fold: list[tuple[int, ...]]) -> list[engine.Member]:
    """Every fold at three stddevs, seeds shared by fold: the grid's common random numbers."""
    return [
        engine.Member(Net.of(24, hidden_stddev=s), 40 + fold, 140 + fold, rows, ALL_TEST)
        for s in (0.1, 0.3, 0.9)
        for fold, rows in enumerate(rows_per_fold)
    ]


@pytest.mark.parametrize(
    ("order", "owner", "cycle"),
    [
        (list(range(9)), [0, 1, 2] * 3, 3),
        ([0, 3, 6, 1, 4, 7, 2, 5, 8], [0, 0, 0, 1, 1, 1, 2, 2, 2], 0),
    ],
    ids=["model k draws stream k % 3 (batched outer product)", "grouped by stream (gather)"],
)
def test_models_sharing_a_stream_draw_it_once_with_the_same_results(
    split: Split, order: list[int], owner: list[int], cycle: int
) -> None:
    # Two folds of 20 rows share nothing but their size; a 10-row fold takes fewer steps in
    # minibatch mode, so a copy of it with a 20-row fold's seed would need its own stream.
    folds = [tuple(range(20)), tuple(range(10, 30)), tuple(range(0, 30, 3))]
    every_fold_and_stddev = grid_like_members(folds)
    members = [every_fold_and_stddev[i] for i in order]
    streams = engine.noise_streams(members)["pre0"]
    assert streams.seeds.shape[0] == 3  # one stream per fold, not one per model
    np.testing.assert_array_equal(streams.owner, owner)
    data = (split.x_train, split.y_train, split.x_test, split.y_test)
    for opt in (OPT, engine.Optimization.keras_adam(30, 8, log_every=10)):
        shared = engine._Chunk(members, *data, opt)
        alone = engine._Chunk(members, *data, opt, share_draws=False)
        assert shared.shape.shared == {"pre0"} and alone.shape.shared == frozenset()
        assert shared.shape.cycle == cycle and alone.shape.cycle == 0
        with_sharing, without = run_alone(shared), run_alone(alone)
        assert_same_weights(with_sharing.weights, without.weights)
        for column in engine.HISTORY_COLUMNS:
            np.testing.assert_array_equal(with_sharing.history[column], without.history[column])


def test_shared_draws_match_models_trained_one_by_one(split: Split) -> None:
    members = grid_like_members([tuple(range(20)), tuple(range(10, 30))])
    together = train(split, members)
    assert engine.noise_streams(members)["pre0"].seeds.shape[0] == 2
    # Alone, a model's matmuls block differently (last bits, as for any batch-mates); its
    # noise is the same bits, or the difference would be of the order of the stddevs.
    for index in (0, 3, 5):
        alone = train(split, [members[index]])
        for x, y in zip(alone.weights[0].as_list(), together.weights[index].as_list(), strict=True):
            np.testing.assert_allclose(x, y, rtol=0, atol=1e-6)
        np.testing.assert_allclose(
            alone.history["train_loss"][0], together.history["train_loss"][index], atol=1e-6
        )


def test_stream_cycle_needs_every_model_on_stream_k_mod_u() -> None:
    def cycle(folds: list[int]) -> int:
        members = [
            engine.Member(Net.of(8, hidden_stddev=0.1), 1, 50 + f, ALL_TRAIN, ()) for f in folds
        ]
        return engine.stream_cycle(engine.noise_streams(members))

    assert cycle([0, 1, 0, 1, 0, 1]) == 2
    assert cycle([0, 1, 0]) == 0  # 3 models do not split into rows of 2 streams
    assert cycle([0, 1, 1, 0]) == 0  # shared, but not in the cyclic order
    assert cycle([0, 1, 2]) == 0  # nothing shared


def test_the_next_chunk_compiles_while_one_trains(
    split: Split, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three chunks of three shapes (widths): the first chunk's run waits until the second
    # chunk's graph is being built on the background thread; run one after another, it
    # would wait for a compile that never starts and time out.
    second_compiling, compile_threads = threading.Event(), []
    real_compile, real_run = engine._Bundle.compile, engine._Bundle.run

    def compile(self: engine._Bundle) -> None:
        compile_threads.append(threading.current_thread().name)
        if self.shapes[0].hidden_units == (12,):
            second_compiling.set()
        real_compile(self)

    def run(
        self: engine._Bundle, tag: str, started: float, checkpoints: frozenset[int]
    ) -> list[engine.TrainResult]:
        if self.shapes[0].hidden_units == (8,):
            assert second_compiling.wait(timeout=60), "the next chunk was not compiled meanwhile"
        return real_run(self, tag, started, checkpoints)

    monkeypatch.setattr(engine._Bundle, "compile", compile)
    monkeypatch.setattr(engine._Bundle, "run", run)
    members = [member(1, width=8), member(2, width=12), member(3, width=16)]
    prefetched = train(split, members)
    assert len(compile_threads) == 3
    assert all(name.startswith("next-chunk") for name in compile_threads)
    monkeypatch.undo()
    for index, one in enumerate(members):
        assert_same_weights(train(split, [one]).weights, [prefetched.weights[index]])


def test_a_group_larger_than_a_chunk_keeps_stream_sharers_together() -> None:
    members = grid_like_members([ALL_TRAIN[:20], ALL_TRAIN[10:], ALL_TRAIN[::3]])
    # Member order is stddev-major (0..2 at 0.1, 3..5 at 0.3, ...); sharers are i, i+3, i+6.
    assert plan.plan_chunks(members, 6) == [[0, 3, 6, 1, 4, 7], [2, 5, 8]]
    assert plan.plan_chunks(members, 9) == [list(range(9))]  # fits: order kept


@pytest.mark.parametrize(
    ("units", "blocks"),
    [
        pytest.param((16,), (3, 6, 3), marks=pytest.mark.slow),  # > 10 s, see pyproject markers
        ((16,), (4, 5, 3)),
        pytest.param((16, 32), (2, 10), marks=pytest.mark.slow),
    ],
    ids=["whole stream cycles (matmul scaling)", "cycles cut (gather)", "two layers, 2 + 10"],
)
def test_blocks_of_models_train_to_the_same_bits_as_the_whole_chunk(
    split: Split, units: tuple[int, ...], blocks: tuple[int, ...]
) -> None:
    # Every placement, weight decay and draws shared by 3 streams (model k draws stream
    # k % 3); widths 16 and 32 put every offset on a whole packet (batched.model_blocks).
    nets = [
        Net.of(
            units,
            input_stddev=0.1 * s,
            hidden_stddev=0.2 * s,
            post_activation_stddev=0.1 * s,
            dropout_rate=0.1 * s,
            bernoulli_dropout_rate=0.1 * s,
            weight_stddev=0.05 * s,
            logit_stddev=0.3 * s,
            l2=0.001 * s,
        )
        for s in (1, 2, 3, 4)
    ]
    members = [
        engine.Member(net, 30 + fold, 60 + fold, rows, ALL_TEST)
        for net in nets
        for fold, rows in enumerate([ALL_TRAIN[:20], ALL_TRAIN[10:], ALL_TRAIN[5:25]])
    ]
    data = (split.x_train, split.y_train, split.x_test, split.y_test)
    for opt in (OPT, engine.Optimization.keras_adam(30, 8, log_every=10)):
        whole = engine._Chunk(members, *data, opt)
        cut = engine._Chunk(members, *data, opt)
        assert whole.shape.cycle == 3 and whole.shape.blocks == ()
        cut.shape = dataclasses.replace(cut.shape, blocks=blocks)
        expected, blocked = run_alone(whole), run_alone(cut)
        assert_same_weights(blocked.weights, expected.weights)
        for column in engine.HISTORY_COLUMNS:
            if column == "train_loss" and opt.batch_size < len(ALL_TRAIN):
                # Grappler sums an epoch's minibatch losses in one AddN ordered by op name,
                # and the blocks' ops are named differently: the last bit may move.
                np.testing.assert_allclose(
                    blocked.history[column], expected.history[column], rtol=1e-6, atol=0
                )
            else:
                np.testing.assert_array_equal(blocked.history[column], expected.history[column])


def test_model_blocks_cut_large_chunks_at_whole_packets_only() -> None:
    assert batched.model_blocks(20, 30, (100,)) == ()  # 60,000 floats: one block
    assert batched.model_blocks(60, 30, (400,)) == (30, 30)  # the sweep's chunks
    # Width 500: an offset is on a whole packet of 16 floats when it is a multiple of 4.
    assert batched.model_blocks(90, 24, (500,)) == (32, 28, 30)
    # Width 50 needs offsets that are multiples of 8; only (8, 1) would fit, and a block of
    # one model would change its bits.
    assert batched.model_blocks(9, 5000, (50,)) == ()
    cases = [(90, 24, (300,)), (100, 320, (100, 50)), (257, 64, (50, 70)), (5, 5000, (400,))]
    for k, rows, widths in cases:
        sizes = batched.model_blocks(k, rows, widths)
        assert sum(sizes) == k and len(sizes) >= 2 and min(sizes) >= 2
        assert max(sizes) - min(sizes) <= 2 * 16  # about equal, for two cores
        offsets = np.cumsum((0, *sizes[:-1]))
        for width in widths:
            assert all(offset * width % PACKET == 0 for offset in offsets)


def sweep_like_members(width: int = 16, rows: tuple[int, ...] = ALL_TRAIN) -> list[engine.Member]:
    """Three placement sets over the same three noise seeds: the sweep's common random numbers.

    The third set has every placement and weight decay, so each kind of draw is shared.
    """
    nets = [Net.of(width, input_stddev=0.2), Net.of(width, hidden_stddev=0.3)]
    nets.append(
        Net.of(
            width,
            input_stddev=0.1,
            hidden_stddev=0.2,
            post_activation_stddev=0.1,
            dropout_rate=0.1,
            bernoulli_dropout_rate=0.1,
            weight_stddev=0.05,
            logit_stddev=0.3,
            l2=0.001,
        )
    )
    return [engine.Member(net, 30 + r, 60 + r, rows, ALL_TEST) for net in nets for r in range(3)]


def test_chunks_that_draw_the_same_streams_are_bundled() -> None:
    members = sweep_like_members()
    chunks = plan.plan_chunks(members, 256)
    assert chunks == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    # The first two share no placement, each shares one with the third: one bundle.
    assert plan.plan_bundles(members, chunks, 32, 256) == [[0, 1, 2]]
    # Six models at most: the third joins the first bundle it shares draws with.
    assert plan.plan_bundles(members, chunks, 32, 6) == [[0, 2], [1]]
    # Minibatches (batch 16 < 30 rows) are never bundled (see plan_bundles).
    assert plan.plan_bundles(members, chunks, 16, 256) == [[0], [1], [2]]
    # Other seeds, rows or widths draw other tensors.
    other_seed = [dataclasses.replace(m, noise_seed=m.noise_seed + 1) for m in members[3:6]]
    other_rows = [dataclasses.replace(m, train_rows=ALL_TRAIN[:20]) for m in members[3:6]]
    wider = sweep_like_members(width=24)[3:6]
    for second in (other_seed, other_rows, wider):
        mixed = [*members[:3], *second]
        assert plan.plan_bundles(mixed, plan.plan_chunks(mixed, 256), 32, 256) == [[0], [1]]


def _ops_in(function: object, op: str) -> int:
    """Count `op` nodes in a traced function's graph and every function it calls."""
    graph_def = function.graph.as_graph_def()  # type: ignore[attr-defined]
    nodes = [*graph_def.node, *(n for f in graph_def.library.function for n in f.node_def)]
    return sum(node.op == op for node in nodes)


def test_a_bundle_draws_shared_streams_once_and_trains_each_chunk_to_its_own_bits(
    split: Split,
) -> None:
    members = sweep_like_members()
    data = (split.x_train, split.y_train, split.x_test, split.y_test)
    chunks = [engine._Chunk(members[i : i + 3], *data, OPT) for i in (0, 3, 6)]
    uniforms = []
    for bundle in ([chunks[0]], [chunks[1]], [chunks[2]], chunks):
        trace = batched.compiled_loop(tuple(c.shape for c in bundle)).run_intervals
        concrete = trace.get_concrete_function(
            tuple(c.state for c in bundle), tuple(c.data for c in bundle), *[np.int32(1)] * 3
        )
        uniforms.append(_ops_in(concrete, "StatelessRandomUniformV2"))
    # Each stream seed is one uniform op per draw: the bundle draws the input stream and
    # the hidden stream once each, where the chunks alone draw them twice.
    assert uniforms[3] == uniforms[2] < sum(uniforms[:3])
    together = train(split, members)
    for start in (0, 3, 6):
        alone = train(split, members[start : start + 3])
        assert_same_weights(alone.weights, together.weights[start : start + 3])
        for column in engine.HISTORY_COLUMNS:
            np.testing.assert_array_equal(
                alone.history[column], together.history[column][start : start + 3]
            )


def test_checkpoints_hold_the_weights_of_runs_of_exactly_that_many_epochs(split: Split) -> None:
    # Two widths, so two chunks whose snapshots are merged back into member order.
    members = [member(1), member(2, width=16), member(3, s_in=0.0)]
    checkpoints = (7, 20, 45, 60)  # inside an interval, on a log, inside another, the end
    plain = train(split, members)
    checked = train(split, members, checkpoints=checkpoints)
    assert sorted(checked.snapshots) == list(checkpoints)
    for epochs in checkpoints:
        exactly = train(split, members, engine.Optimization.keras_adam(epochs, log_every=20))
        assert_same_weights(checked.snapshots[epochs], exactly.weights)
    # Cutting calls at checkpoints changes neither the final weights nor what is logged.
    assert_same_weights(checked.weights, plain.weights)
    np.testing.assert_array_equal(checked.logged_epochs, plain.logged_epochs)
    for column, values in plain.history.items():
        np.testing.assert_array_equal(checked.history[column], values)


def test_checkpoints_outside_the_run_are_refused(split: Split) -> None:
    with pytest.raises(ValueError, match=r"checkpoints \[0, 61\] are outside 1\.\.60"):
        train(split, [member(1)], checkpoints=(0, 30, 61))
