"""The compiled training loop of K stacked MLPs of one shape: forward, backward, Adam.

K models of one architecture are stacked along a leading axis (weights [K, ...], batched
matmuls) and whole runs of epochs execute inside one `tf.function`, so a step costs about
the noise draws plus the FLOPs instead of Keras' per-step dispatch.

A large chunk runs each step's forward and backward passes in blocks of models
(`model_blocks`), each block's [n, rows, width] tensors nearer the cache and two blocks'
ops side by side on two cores; every model's floats are the same as in one block.

Chunks whose models draw the same noise streams (the sweep's input-, hidden- and
both-noise chunks) train side by side in one loop (`LockstepLoop`): each chunk keeps its own
ops, so its floats are those it gets alone, and each shared stream is drawn once per step.

A chunk's data, seeds and stddevs are arguments of that function, not captured constants,
so every chunk with the same `LoopShape` reuses one trace (tracing and optimizing one costs
~0.6-0.9 s, as much as training 90 width-100 models for 1000 epochs).

Semantics follow Keras 3 exactly (checked by tests/test_engine_equivalence.py): Adam with
Keras' bias correction, mean binary cross-entropy on logits, every noise placement of `Net`
during training only, minibatches in order (shuffled per epoch when asked), and epoch
metrics averaged over the epoch's batches weighted by batch size. Gradients are written out
by hand: the family is small, and the hand-written backward pass keeps the graph lean.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import tensorflow as tf

from noisereg.engine.randomness import PACKET, standard_normal, stateless_uniforms
from noisereg.net import MLPWeights
from noisereg.process_setup import drop_retracing_warnings_of


@dataclass(frozen=True)
class LoopShape:
    """Everything the compiled graph depends on; chunks with equal shapes share one trace."""

    k: int
    hidden_units: tuple[int, ...]
    batch: int
    steps: int  # minibatches per epoch
    learning_rate: float
    beta_1: float
    beta_2: float
    epsilon: float
    shuffle: bool
    noisy: frozenset[str]  # placements where some model's stddev is > 0
    shared: frozenset[str]  # noisy placements where some models share one stream's draws
    regularized: bool = False  # some model has weight decay (l2 > 0)
    # U when model k draws stream k % U (a grid width's or a sweep placement's chunk, whose
    # members run over the streams once per stddev), else 0; see BatchedLoop._noise.
    cycle: int = 0
    # Sizes of the consecutive blocks of models whose forward and backward passes run as
    # separate ops (see `model_blocks`); () is one block of all K.
    blocks: tuple[int, ...] = ()


@dataclass
class StepDraws:
    """One training step's draws, made on first use and shared by every block of models.

    In a `LockstepLoop` the chunks of one step share `drawn` too: their streams have the
    same seeds and update counts, so whichever chunk draws first draws for all.
    """

    steps: tf.Tensor  # [K] int32, each model's update count (the draws' key)
    drawn: dict[str, tf.Tensor] = field(default_factory=dict)  # placement -> draws

    def once(self, placement: str, draw: Callable[[], tf.Tensor]) -> tf.Tensor:
        """Return `placement`'s draws: `draw()` on first use, the same tensor after that."""
        if placement not in self.drawn:
            self.drawn[placement] = draw()
        return self.drawn[placement]


# Floats of one block's [n, rows, width] activation above which a chunk's step is cut into
# blocks of models: large chunks run faster in cache-sized blocks, small ones slower
# (measurements: docs/performance.md; benchmarks/bench_engine.py times them side by side).
_BLOCK_FLOATS = 300_000


def model_blocks(k: int, rows: int, hidden_units: Sequence[int]) -> tuple[int, ...]:
    """Return the sizes of the blocks of models a step's passes run in; () for one block.

    Per block, the [n, rows, width] tensors of the forward and backward pass are smaller
    than the cache, and two blocks' ops keep both cores busy where one chain of ops would
    wait on the next. Blocks are of about equal size (two cores) and start only where that
    changes no result: at a model offset whose flattened [models x width] bias-gradient
    output starts on a whole SIMD packet for every hidden width (TensorFlow's reduction over
    rows vectorizes over that flattened output, and its rounding differs at a packet's
    edge: measured), and holds two models or more. Sigmoid, the loss and Adam still see
    the whole chunk.
    """
    count = min(k * rows * max(hidden_units) // _BLOCK_FLOATS, k // 2)
    if count < 2:
        return ()
    quantum = math.lcm(*(PACKET // math.gcd(PACKET, width) for width in hidden_units))
    edges = [0]
    for i in range(1, count):
        edge = quantum * round(k * i / count / quantum)
        # A block of one model would change its bits: TensorFlow multiplies a batch of one
        # matrix by another kernel (measured).
        if edge - edges[-1] >= 2 and k - edge >= 2:
            edges.append(edge)
    edges.append(k)
    return tuple(hi - lo for lo, hi in itertools.pairwise(edges)) if len(edges) > 2 else ()


class NoiseStreams(NamedTuple):
    """One noisy placement's draws: U distinct streams for the chunk's K models.

    Models with the same stream seed and the same training rows per epoch take the same
    steps, so they would draw identical normals (common random numbers, e.g. one grid fold
    at every stddev): the loop draws each stream once and gives every model its stream's
    draws, scaled by the model's own stddev.
    """

    seeds: tf.Tensor  # [U] int32, the distinct stream seeds
    first: tf.Tensor  # [U] int32, a model drawing from each stream (its update count keys it)
    owner: tf.Tensor  # [K] int32, the stream each model draws from
    stddevs: tf.Tensor  # [K] float32


class ChunkData(NamedTuple):
    """A chunk's tensors; rows of each model are packed first, padding masked out."""

    train_x: tf.Tensor  # [K, steps * batch, n_inputs]
    train_y: tf.Tensor  # [K, steps * batch]
    train_mask: tf.Tensor  # [K, steps * batch], 1 on a model's own rows
    train_counts: tf.Tensor  # [K] rows per model
    val_x: tf.Tensor
    val_y: tf.Tensor
    val_mask: tf.Tensor
    shuffle_seeds: tf.Tensor  # [K] int32
    noise: dict[str, NoiseStreams]  # per noisy placement
    l2: tf.Tensor  # [K] weight decay per model (used when LoopShape.regularized)


# Per hidden layer (and last, the output layer): what the backward pass needs.
Layer = tuple[tf.Tensor, tf.Tensor, tf.Tensor | None, tf.Tensor]
State = tuple[tf.Tensor, ...]


def initial_state(weights: Sequence[MLPWeights]) -> State:
    """Return the loop state for K models starting from `weights`.

    Layout: the parameters [kernel_0, bias_0, ..., output kernel [K, h], output bias [K]],
    then Adam's first moments, second moments (same layout), then the update counts t [K].
    """
    kernels, biases = MLPWeights.stack(weights)
    params = [a for pair in zip(kernels, biases, strict=True) for a in pair]
    # The output layer is stored as vectors: kernel [K, h], bias [K].
    params[-2], params[-1] = params[-2][:, :, 0], params[-1][:, 0]
    zeros = [tf.zeros_like(p) for p in params]
    return (
        *(tf.constant(p) for p in params),
        *zeros,
        *zeros,
        tf.zeros([len(weights)], tf.float32),
    )


def weights_of(state: State) -> list[MLPWeights]:
    """Return each model's weights from a loop state, in Keras' layout."""
    n_params = (len(state) - 1) // 3
    arrays = [t.numpy() for t in state[:n_params]]
    arrays[-2], arrays[-1] = arrays[-2][:, :, None], arrays[-1][:, None]
    return MLPWeights.unstack(arrays[0::2], arrays[1::2])


def _joined(per_block: Sequence[tf.Tensor]) -> tf.Tensor:
    """Return the blocks' tensors as one along the model axis (no op for a single block)."""
    return per_block[0] if len(per_block) == 1 else tf.concat(per_block, 0)


@functools.lru_cache(maxsize=16)
def compiled_loop(shapes: tuple[LoopShape, ...]) -> LockstepLoop:
    """Return the loop for chunks of `shapes`, traced on first use and shared by later ones."""
    return LockstepLoop(shapes)


class BatchedLoop:
    """The training graph of one `LoopShape`: one step, epoch and validation pass."""

    def __init__(self, shape: LoopShape) -> None:
        self.shape = shape
        self.depth = len(shape.hidden_units)
        self.n_params = 2 * (self.depth + 1)
        edges = [0, *itertools.accumulate(shape.blocks or (shape.k,))]
        self.blocks = [slice(lo, hi) for lo, hi in itertools.pairwise(edges)]

    def _part(self, tensor: tf.Tensor, block: slice) -> tf.Tensor:
        """Return the entries of the models in `block`; the whole chunk's without a slice op."""
        return tensor if block == slice(0, self.shape.k) else tensor[block]

    def _stream_keys(self, data: ChunkData, placement: str, steps: tf.Tensor) -> tf.Tensor:
        """Return the [U, 2] int32 keys of a placement's distinct streams for the current step.

        Keyed by each model's own update count (int32 [K]), not the chunk's step index: a
        model that shares a graph with larger CV folds (more steps per epoch) draws the same
        noise. A shared stream takes the count of its first model; unshared ones, their own.
        """
        streams = data.noise[placement]
        if placement in self.shape.shared:
            steps = tf.gather(steps, streams.first)
        return tf.stack([streams.seeds, steps], axis=1)

    def _per_model(
        self, data: ChunkData, placement: str, drawn: tf.Tensor, block: slice
    ) -> tf.Tensor:
        """Return the draws of a block's models from the per-stream draws [U or K, ...].

        Shared streams are gathered to the models that draw them; unshared ones sliced.
        """
        if placement in self.shape.shared:
            return tf.gather(drawn, self._part(data.noise[placement].owner, block))
        return self._part(drawn, block)

    def _noise(
        self, data: ChunkData, draws: StepDraws, placement: str, rows: int, cols: int, block: slice
    ) -> tf.Tensor:
        """Return a block's stddev-scaled N(0, 1) noise [n, rows, cols] for the current step.

        Shared draws are gathered to their models or, when model k draws stream k % U and the
        block holds whole cycles, scaled for them by one batched matmul.
        """
        normals = draws.once(
            placement,
            lambda: standard_normal(self._stream_keys(data, placement, draws.steps), rows, cols),
        )
        stddevs = self._part(data.noise[placement].stddevs, block)
        cycle = self.shape.cycle
        if (
            placement in self.shape.shared
            and cycle
            and block.start % cycle == 0
            and block.stop % cycle == 0
        ):
            # Models are [n / U, U] over the streams: a batched outer product of stddevs
            # [n / U, U, 1, 1] and draws [1, U, 1, rows x cols], broadcast over the first
            # axis, scales each stream for its models without gathering copies first. Its
            # inner dimension is 1, so each entry is one rounded product, as in the multiply.
            scaled = tf.matmul(
                tf.reshape(stddevs, [-1, cycle, 1, 1]),
                tf.reshape(normals, [1, cycle, 1, rows * cols]),
            )
            return tf.reshape(scaled, [-1, rows, cols])
        return stddevs[:, None, None] * self._per_model(data, placement, normals, block)

    def _keep(
        self, data: ChunkData, draws: StepDraws, placement: str, rows: int, cols: int, block: slice
    ) -> tf.Tensor:
        """Return a block's inverted-dropout multipliers [n, rows, cols]: 0, or 1 / (1 - rate).

        A unit is kept when its uniform is >= the rate (probability 1 - rate); streams are
        keyed and shared as the normals of `_noise` (`stddevs` holds the rates here).
        """
        uniforms = draws.once(
            placement,
            lambda: stateless_uniforms(
                self._stream_keys(data, placement, draws.steps), [rows, cols]
            ),
        )
        uniforms = self._per_model(data, placement, uniforms, block)
        rate = self._part(data.noise[placement].stddevs, block)[:, None, None]
        return tf.cast(uniforms >= rate, tf.float32) / (1.0 - rate)

    def _forward(
        self,
        data: ChunkData,
        params: Sequence[tf.Tensor],
        x: tf.Tensor,
        draws: StepDraws | None,
        block: slice,
    ) -> tuple[tf.Tensor, list[Layer]]:
        """Return logits and, per layer, (input, pre-activation, multiplier, kernel).

        `params` and `x` are those of the chunk's models[block]. With `draws` (a training
        step) the training noise is applied; without, the pass is clean.
        """
        rows = x.shape[1]

        def noisy(placement: str) -> bool:
            return draws is not None and placement in self.shape.noisy

        def noise(placement: str, rows: int, cols: int) -> tf.Tensor:
            assert draws is not None  # called for noisy placements only
            return self._noise(data, draws, placement, rows, cols, block)

        def kept(placement: str, rows: int, cols: int) -> tf.Tensor:
            assert draws is not None
            return self._keep(data, draws, placement, rows, cols, block)

        if noisy("input"):
            x = x + noise("input", rows, x.shape[2])
        layers: list[Layer] = []
        hidden = x
        for layer in range(self.depth):
            kernel, bias = params[2 * layer], params[2 * layer + 1]
            if noisy(f"kernel{layer}"):
                kernel = kernel + noise(f"kernel{layer}", *kernel.shape[1:])
            pre = tf.matmul(hidden, kernel) + bias[:, None, :]
            width = self.shape.hidden_units[layer]
            if noisy(f"pre{layer}"):
                pre = pre + noise(f"pre{layer}", rows, width)
            activation = tf.nn.relu(pre)
            if noisy(f"post{layer}"):
                activation = activation + noise(f"post{layer}", rows, width)
            multiplier = None
            if noisy(f"dropout{layer}"):
                multiplier = 1.0 + noise(f"dropout{layer}", rows, width)
                activation = activation * multiplier
            if noisy(f"bernoulli{layer}"):
                keep = kept(f"bernoulli{layer}", rows, width)
                multiplier = keep if multiplier is None else multiplier * keep
                activation = activation * keep
            layers.append((hidden, pre, multiplier, kernel))
            hidden = activation
        out_kernel, out_bias = params[-2], params[-1]
        if noisy(f"kernel{self.depth}"):
            out_kernel = out_kernel + noise(f"kernel{self.depth}", 1, out_kernel.shape[1])[:, 0]
        logits = tf.linalg.matvec(hidden, out_kernel) + out_bias[:, None]
        if noisy("logit"):
            logits = logits + noise("logit", rows, 1)[:, :, 0]
        layers.append((hidden, logits, None, out_kernel))
        return logits, layers

    def _gradients(self, layers: list[Layer], g_logits: tf.Tensor) -> list[tf.Tensor]:
        """Backpropagate d(loss)/d(logits) to every parameter, in the state's order."""
        last_hidden, _, _, out_kernel = layers[-1]
        grads = [tf.einsum("kbh,kb->kh", last_hidden, g_logits), tf.reduce_sum(g_logits, 1)]
        # The outer product as a matmul with inner dimension 1: one rounded product per
        # entry, as the broadcast multiply computes it, without Eigen's two-sided broadcast.
        g_hidden = tf.matmul(g_logits[:, :, None], out_kernel[:, None, :])
        for layer in reversed(range(self.depth)):
            layer_input, pre, multiplier, kernel = layers[layer]
            if multiplier is not None:
                g_hidden = g_hidden * multiplier
            # Additive post-activation noise passes the gradient through unchanged. ReluGrad
            # is where(pre > 0, g, 0) in one pass instead of a compare and a select.
            g_pre = tf.raw_ops.ReluGrad(gradients=g_hidden, features=pre)
            grads[:0] = [
                tf.matmul(layer_input, g_pre, transpose_a=True),
                tf.reduce_sum(g_pre, 1),
            ]
            if layer > 0:
                g_hidden = tf.matmul(g_pre, kernel, transpose_b=True)
        return grads

    @staticmethod
    def _loss_acc(logits: tf.Tensor, y: tf.Tensor, mask: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Masked per-model sums of cross-entropy and correct predictions."""
        ce = tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits)
        correct = tf.cast(tf.equal(tf.cast(tf.sigmoid(logits) > 0.5, tf.float32), y), tf.float32)
        return tf.reduce_sum(ce * mask, 1), tf.reduce_sum(correct * mask, 1)

    def _order(self, data: ChunkData, epoch: tf.Tensor) -> tf.Tensor:
        """Per-model row order for one epoch: valid rows shuffled, padding kept last."""
        seeds = tf.stack([data.shuffle_seeds, tf.fill([self.shape.k], epoch)], axis=1)
        keys = stateless_uniforms(seeds, [data.train_x.shape[1]])
        return tf.argsort(keys + 2.0 * (1.0 - data.train_mask), axis=1, stable=True)

    def epoch(
        self,
        data: ChunkData,
        state: State,
        epoch: tf.Tensor,
        with_metrics: bool,
        drawn: Sequence[dict[str, tf.Tensor]],
    ) -> tuple[State, tf.Tensor, tf.Tensor]:
        """Train one epoch; return the state and, `with_metrics`, its mean loss and accuracy.

        `drawn` holds each step's draws (`StepDraws.drawn`), shared by the chunks of a
        `LockstepLoop`. Without metrics the returned loss and accuracy are zeros and the graph
        computes neither: only logged epochs need them, and they are ~15 ops per step.
        """
        shape = self.shape
        xt, yt, mt = data.train_x, data.train_y, data.train_mask
        if shape.steps > 1 and shape.shuffle:
            order = self._order(data, epoch)
            xt = tf.gather(xt, order, batch_dims=1)
            yt = tf.gather(yt, order, batch_dims=1)
        loss_sum = tf.zeros([shape.k])
        correct_sum = tf.zeros([shape.k])
        for j in range(shape.steps):
            lo, hi = j * shape.batch, (j + 1) * shape.batch
            state, sums = self._step(
                data, state, xt[:, lo:hi], yt[:, lo:hi], mt[:, lo:hi], with_metrics, drawn[j]
            )
            if sums is not None:
                loss_sum += sums[0]
                correct_sum += sums[1]
        return state, loss_sum / data.train_counts, correct_sum / data.train_counts

    def _step(
        self,
        data: ChunkData,
        state: State,
        x: tf.Tensor,
        y: tf.Tensor,
        mask: tf.Tensor,
        with_metrics: bool,
        drawn: dict[str, tf.Tensor],
    ) -> tuple[State, tuple[tf.Tensor, tf.Tensor] | None]:
        shape, n = self.shape, self.n_params
        params, m, v, t = state[:n], state[n : 2 * n], state[2 * n : 3 * n], state[3 * n]
        # Each block of models runs its forward and backward pass as ops of its own, so
        # their [n, rows, width] activations stay in cache; sigmoid, the loss and Adam
        # see the whole chunk (their kernels' results can depend on a value's position).
        draws = StepDraws(tf.cast(t, tf.int32), drawn)
        forwards = [
            self._forward(
                data, [self._part(p, block) for p in params], self._part(x, block), draws, block
            )
            for block in self.blocks
        ]
        logits = _joined([block_logits for block_logits, _ in forwards])
        count = tf.reduce_sum(mask, 1)
        sums = self._loss_acc(logits, y, mask) if with_metrics else None
        if sums is not None and shape.regularized:
            # Keras adds the penalty to each batch's mean loss: once per row in the row sum.
            sums = (sums[0] + self._penalty(data, params) * count, sums[1])
        # d(mean BCE)/d(logit) = (sigmoid - y) / n over the batch's valid rows.
        g_logits = mask * (tf.sigmoid(logits) - y) / tf.maximum(count, 1.0)[:, None]
        per_block = [
            self._gradients(layers, self._part(g_logits, block))
            for block, (_, layers) in zip(self.blocks, forwards, strict=True)
        ]
        grads = [_joined(parts) for parts in zip(*per_block, strict=True)]
        if shape.regularized:  # d(l2 x sum(w^2))/dw = 2 l2 w, on kernels (even indices)
            grads = [
                g + 2.0 * tf.reshape(data.l2, [shape.k] + [1] * (len(g.shape) - 1)) * p
                if index % 2 == 0
                else g
                for index, (g, p) in enumerate(zip(grads, params, strict=True))
            ]
        # A member whose rows ran out this epoch (smaller CV fold) takes no step, as in Keras.
        active = count > 0
        t_new = t + tf.cast(active, tf.float32)
        alpha = (
            shape.learning_rate
            * tf.sqrt(1.0 - tf.pow(shape.beta_2, t_new))
            / (1.0 - tf.pow(shape.beta_1, t_new))
        )
        new_params, new_m, new_v = [], [], []
        for p, g, mi, vi in zip(params, grads, m, v, strict=True):
            per_model = [shape.k] + [1] * (len(p.shape) - 1)
            mi2 = mi + (g - mi) * (1.0 - shape.beta_1)
            vi2 = vi + (tf.square(g) - vi) * (1.0 - shape.beta_2)
            p2 = p - tf.reshape(alpha, per_model) * mi2 / (tf.sqrt(vi2) + shape.epsilon)
            if shape.steps > 1:
                keep = tf.reshape(active, per_model)
                mi2, vi2, p2 = (
                    tf.where(keep, mi2, mi),
                    tf.where(keep, vi2, vi),
                    tf.where(keep, p2, p),
                )
            new_params.append(p2)
            new_m.append(mi2)
            new_v.append(vi2)
        return (*new_params, *new_m, *new_v, t_new), sums

    def validate(self, data: ChunkData, state: State) -> tuple[tf.Tensor, tf.Tensor]:
        """Return each model's mean validation loss and accuracy, without training noise."""
        whole = slice(0, self.shape.k)
        logits, _ = self._forward(data, state[: self.n_params], data.val_x, None, whole)
        loss_sum, correct_sum = self._loss_acc(logits, data.val_y, data.val_mask)
        n = tf.maximum(tf.reduce_sum(data.val_mask, 1), 1.0)
        loss = loss_sum / n
        if self.shape.regularized:  # Keras' evaluation loss includes the penalty too
            loss += self._penalty(data, state[: self.n_params])
        return loss, correct_sum / n

    @staticmethod
    def _penalty(data: ChunkData, params: Sequence[tf.Tensor]) -> tf.Tensor:
        """Return each model's weight-decay term: l2 x the sum of its squared kernel entries."""
        kernels = params[0::2]  # the layout alternates kernel, bias
        squares = [tf.reduce_sum(tf.square(k), axis=list(range(1, len(k.shape)))) for k in kernels]
        return data.l2 * tf.add_n(squares)


class LockstepLoop:
    """One compiled loop that trains the chunks of `shapes` side by side, step for step.

    Each chunk runs its own ops (`BatchedLoop`), so its floats are those it gets alone; what
    the chunks share is the loop and each step's draws (`StepDraws.drawn`). The engine
    bundles only chunks whose common placements draw the same streams, with the same
    update counts, at the same shapes (`plan.plan_bundles`). One chunk is a bundle of one.
    """

    def __init__(self, shapes: tuple[LoopShape, ...]) -> None:
        if len({shape.steps for shape in shapes}) != 1:
            raise ValueError("chunks in lockstep need the same minibatches per epoch")
        self.loops = [BatchedLoop(shape) for shape in shapes]
        self.steps = shapes[0].steps
        # Loops are written as tf.while_loop, so tracing skips AutoGraph, whose conversion
        # of this code was most of a stage's first trace (docs/performance.md).
        self.run_intervals = tf.function(self._intervals, autograph=False)

    def _epoch(
        self,
        data: Sequence[ChunkData],
        states: Sequence[State],
        epoch: tf.Tensor,
        with_metrics: bool,
    ) -> list[tuple[State, tf.Tensor, tf.Tensor]]:
        drawn: list[dict[str, tf.Tensor]] = [{} for _ in range(self.steps)]
        return [
            loop.epoch(chunk, state, epoch, with_metrics, drawn)
            for loop, chunk, state in zip(self.loops, data, states, strict=True)
        ]

    def _intervals(
        self,
        states: tuple[State, ...],
        data: tuple[ChunkData, ...],
        start: tf.Tensor,
        n_intervals: tf.Tensor,
        interval: tf.Tensor,
    ) -> tuple[tuple[State, ...], tuple[tf.Tensor, ...]]:
        """Train n_intervals x interval epochs from epoch `start`; log after each interval.

        Returns each chunk's new state and [n_intervals, 4, K] logs (train loss, train
        accuracy of the interval's last epoch, validation loss and accuracy after it).
        """
        logs = tuple(
            tf.TensorArray(tf.float32, size=n_intervals, element_shape=[4, loop.shape.k])
            for loop in self.loops
        )

        def train_interval(i: tf.Tensor, states: tuple, logs: tuple) -> tuple:
            first = start + i * interval

            def unlogged_epoch(e: tf.Tensor, states: tuple) -> tuple:
                epochs = self._epoch(data, states, first + e, with_metrics=False)
                return e + 1, tuple(state for state, _, _ in epochs)

            _, states = tf.while_loop(
                lambda e, _: e < interval - 1, unlogged_epoch, (tf.constant(0), states)
            )
            epochs = self._epoch(data, states, first + interval - 1, with_metrics=True)
            new_logs = []
            for loop, chunk, (state, loss, acc), log in zip(
                self.loops, data, epochs, logs, strict=True
            ):
                val_loss, val_acc = loop.validate(chunk, state)
                new_logs.append(log.write(i, tf.stack([loss, acc, val_loss, val_acc])))
            return i + 1, tuple(state for state, _, _ in epochs), tuple(new_logs)

        _, states, logs = tf.while_loop(
            lambda i, *_: i < n_intervals, train_interval, (tf.constant(0), states, logs)
        )
        return states, tuple(log.stack() for log in logs)


# Each tuple of loop shapes is traced once; see process_setup._OneTracePerShape.
drop_retracing_warnings_of(LockstepLoop._intervals.__qualname__)
