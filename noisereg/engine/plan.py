"""How the engine groups models: noise streams, chunks and bundles. No TensorFlow here.

A chunk is the models one compiled graph trains (one architecture and noise-placement set,
at most N); a bundle is the chunks one compiled loop trains side by side because they draw
the same noise. The plan depends only on the members and N, never on where chunks run, so
every backend trains the same models together and gets the same floats.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from noisereg.net import Net, dropout_stddev

# Every noise placement of a model draws from its own stream, seeded by
# derive_seed(noise_seed, stream); hidden layer l uses streams _LAYER_STREAMS + 4 l + kind.
SHUFFLE_STREAM, _INPUT_STREAM, _LOGIT_STREAM, _OUTPUT_KERNEL_STREAM = 0, 1, 2, 3
_LAYER_STREAMS = 4
_PRE, _POST, _DROPOUT, _KERNEL = 0, 1, 2, 3
# Bernoulli dropout came later: its streams sit apart so no earlier stream number moved.
_BERNOULLI_STREAMS = 1000


def noise_placements(nets: Sequence[Net]) -> dict[str, tuple[int, list[float]]]:
    """Return placement name -> (noise stream, per-model stddev) for nets of one shape.

    Names: "input", "logit", "kernel<l>" (l = depth is the output kernel), "pre<l>",
    "post<l>", "dropout<l>", "bernoulli<l>" for hidden layer l. For "bernoulli<l>" the
    per-model value is the drop rate, not a stddev.
    """
    depth = len(nets[0].hidden_units)

    def layer(index: int, kind: int) -> int:
        return _LAYER_STREAMS + 4 * index + kind

    placements = {
        "input": (_INPUT_STREAM, [n.input_stddev for n in nets]),
        "logit": (_LOGIT_STREAM, [n.logit_stddev for n in nets]),
        f"kernel{depth}": (_OUTPUT_KERNEL_STREAM, [n.weight_stddev for n in nets]),
    }
    for index in range(depth):
        placements[f"kernel{index}"] = (layer(index, _KERNEL), [n.weight_stddev for n in nets])
        placements[f"pre{index}"] = (layer(index, _PRE), [n.hidden_stddev[index] for n in nets])
        placements[f"post{index}"] = (
            layer(index, _POST),
            [n.post_activation_stddev[index] for n in nets],
        )
        placements[f"dropout{index}"] = (
            layer(index, _DROPOUT),
            [dropout_stddev(n.dropout_rate[index]) for n in nets],
        )
        placements[f"bernoulli{index}"] = (
            _BERNOULLI_STREAMS + index,
            [n.bernoulli_dropout_rate[index] for n in nets],
        )
    return placements


def noisy_placements(net: Net) -> frozenset[str]:
    """Return the placements where `net` draws noise (stddev > 0)."""
    return frozenset(
        placement for placement, (_, (stddev,)) in noise_placements([net]).items() if stddev > 0
    )


@dataclass(frozen=True)
class Member:
    """One model to train: its net, seeds, and which pool rows it trains and validates on."""

    net: Net
    init_seed: int
    noise_seed: int
    train_rows: tuple[int, ...]
    val_rows: tuple[int, ...]


def plan_chunks(members: Sequence[Member], max_models_per_graph: int) -> list[list[int]]:
    """Return member indices per graph: one architecture and noise-placement set, <= N models.

    Grouping by placements means no model pays for draws it would multiply by zero (the
    sweep's input-noise models would otherwise draw hidden noise for their hidden-noise
    batch-mates). A group larger than N is ordered by noise stream before it is cut, so
    models that share draws (`loop.NoiseStreams`) share a chunk where N allows. The plan
    depends only on the members' order and N, never on where the chunks run, so every
    backend trains the same models together and gets the same floats.
    """
    order: dict[tuple[tuple[int, ...], frozenset[str]], list[int]] = {}
    for index, member in enumerate(members):
        key = (member.net.hidden_units, noisy_placements(member.net))
        order.setdefault(key, []).append(index)
    chunks = []
    for indices in order.values():
        if len(indices) > max_models_per_graph:
            by_stream: dict[tuple[int, int], list[int]] = {}
            for index in indices:
                by_stream.setdefault(stream_key(members[index]), []).append(index)
            indices = [index for sharers in by_stream.values() for index in sharers]
        chunks += [
            indices[start : start + max_models_per_graph]
            for start in range(0, len(indices), max_models_per_graph)
        ]
    return chunks


def stream_key(member: Member) -> tuple[int, int]:
    """Return what makes two members' noise draws identical: noise seed and steps taken.

    Members with the same training-row count take the same updates, so with the same noise
    seed every placement of theirs draws the same normals at every step.
    """
    return member.noise_seed, len(member.train_rows)


def plan_bundles(
    members: Sequence[Member],
    chunks: Sequence[Sequence[int]],
    batch_size: int,
    max_models_per_graph: int,
) -> list[list[int]]:
    """Return chunk indices per compiled loop: chunks that draw the same noise, together.

    Two chunks of one architecture whose members have the same distinct streams
    (`stream_key`, in the same order) draw the same tensors at every step in each placement
    they both have; trained side by side (`loop.LockstepLoop`), each is drawn once, with
    the same bits as alone. Without a common placement lockstep gained nothing measurable
    (docs/performance.md), so only chunks that share draws are bundled. A bundle is a
    connected set of such chunks, cut to at most N models, in plan order. Only full-batch
    chunks: an epoch of minibatches sums its losses in an AddN that Grappler orders by op
    name, and a bundle renames ops, so the logged training loss could move in the last bit.
    """
    signatures = []
    for indices in chunks:
        first = members[indices[0]]
        streams = dict.fromkeys(stream_key(members[i]) for i in indices)
        full_batch = max(len(members[i].train_rows) for i in indices) <= batch_size
        signatures.append((first.net.hidden_units, tuple(streams)) if full_batch else None)
    placements = [noisy_placements(members[indices[0]].net) for indices in chunks]

    def shares_draws(a: int, b: int) -> bool:
        same = signatures[a] is not None and signatures[a] == signatures[b]
        return same and bool(placements[a] & placements[b])

    def size(bundle: list[int]) -> int:
        return sum(len(chunks[c]) for c in bundle)

    # Connected sets first: a chunk may share with the set only through a later chunk (the
    # sweep's input- and hidden-noise chunks each share with the both-noise one).
    connected: list[list[int]] = []
    for index in range(len(chunks)):
        linked = [group for group in connected if any(shares_draws(c, index) for c in group)]
        merged = sorted([index, *itertools.chain.from_iterable(linked)])
        connected = [group for group in connected if group not in linked] + [merged]
    bundles = []
    for group in connected:
        if size(group) <= max_models_per_graph:
            bundles.append(group)
            continue
        cut: list[list[int]] = []  # too many models: each chunk joins a bundle it shares with
        for index in group:
            fits = [
                bundle
                for bundle in cut
                if any(shares_draws(c, index) for c in bundle)
                and size(bundle) + len(chunks[index]) <= max_models_per_graph
            ]
            if fits:
                fits[0].append(index)
            else:
                cut.append([index])
        bundles += cut
    return sorted(bundles)
