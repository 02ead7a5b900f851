"""A class that trains together (bnviz.training.classes, class_job, class_board): who may submit
what, nicknames as plain text, the class's models trained as one batched job that equals each
model trained alone, and the board's tables."""

import math
import time

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from bnviz.data import fashion_mnist
from bnviz.training import class_board, class_job, classes, sweep, wide
from bnviz.training.classes import ClassRefused

SETUP = class_job.Setup(epochs=1, train_limit=640, test_limit=200, batch_size=64)


def new_class(**options) -> classes.Class:
    return classes.Registry().create(SETUP, **options)


def refused(key, fn, *args, **kwargs):
    with pytest.raises(ClassRefused) as err:
        fn(*args, **kwargs)
    assert err.value.key == key, err.value.key
    return err.value


# ---- submissions ---------------------------------------------------------------------------

@pytest.mark.parametrize("typed, shown", [
    ("  Ada  ", "Ada"), ("<b>bold</b>", "<b>bold</b>"), ("**x** [a](javascript:1)", "**x** [a](javascript:1)"),
    ("li\u200bsa\u202e", "lisa"), ("tab\tand\nnewline", "tab and newline"), ("王小明", "王小明"),
    ("ＦＵＬＬ", "FULL"),
])
def test_a_nickname_is_plain_text(typed, shown):
    assert classes.clean_nickname(typed) == shown


@pytest.mark.parametrize("typed, key", [("", "class_nick_empty"), ("\u200b \n", "class_nick_empty"),
                                        ("x" * (classes.NICK_MAX + 1), "class_nick_long"), (None, "class_nick_empty")])
def test_an_impossible_nickname_is_refused_by_name(typed, key):
    refused(key, classes.clean_nickname, typed)


def test_a_taken_nickname_is_told_apart_and_a_student_replaces_only_their_own_entry():
    c = new_class()
    c.submit("s1", "Ada", {"lr": 0.1}, now=0)
    c.submit("s2", "ada", {"lr": 0.2}, now=0)
    c.submit("s3", "Ada", {"lr": 0.3}, now=0)
    assert [e.nickname for e in c.roster()] == ["Ada", "ada #2", "Ada #3"]
    c.submit("s2", "Bo", {"lr": 0.5, "batch_norm": False}, now=2)  # again: replaces, keeps its place
    assert [(e.nickname, e.member.lr, e.member.batch_norm) for e in c.roster()] == [
        ("Ada", 0.1, True), ("Bo", 0.5, False), ("Ada #3", 0.3, True)]
    c.withdraw("s1")
    assert [e.session for e in c.roster()] == ["s2", "s3"]


def test_students_set_only_what_the_teacher_allows():
    c = new_class(allowed=frozenset({"lr"}), default=wide.Member(0.1, batch_norm=False, optimizer="adam", seed=7))
    entry = c.submit("s1", "Ada", {"lr": 0.03, "batch_norm": True, "optimizer": "sgd", "seed": 99}, now=0)
    assert entry.member == wide.Member(0.03, batch_norm=False, optimizer="adam", seed=7)


@pytest.mark.parametrize("settings, key", [
    ({"lr": 0.0}, "class_lr_range"), ({"lr": 100.0}, "class_lr_range"), ({"lr": float("nan")}, "class_lr_range"),
    ({"lr": "abc"}, "class_bad_setting"), ({"lr": 0.1, "seed": 1.5}, "class_seed_range"),
    ({"lr": 0.1, "seed": -1}, "class_seed_range"), ({"lr": 0.1, "optimizer": "rmsprop"}, "class_bad_setting"),
    ({"lr": 0.1, "momentum": 1.0}, "class_bad_setting"),
])
def test_an_impossible_setting_is_refused_by_name(settings, key):
    c = new_class(allowed=frozenset(classes.FIELDS))
    refused(key, c.submit, "s1", "Ada", settings, now=0)
    assert c.roster() == []


def test_one_submission_a_second_the_entry_limit_closed_and_started_classes():
    c = new_class(max_entries=2)
    c.submit("s1", "A", {"lr": 0.1}, now=10.0)
    err = refused("class_too_fast", c.submit, "s1", "A", {"lr": 0.2}, now=10.5)
    assert err.params == {"s": "1"}
    c.submit("s1", "A", {"lr": 0.2}, now=11.0)
    c.submit("s2", "B", {"lr": 0.1}, now=11.0)
    refused("class_full", c.submit, "s3", "C", {"lr": 0.1}, now=11.0)
    c.submit("s2", "B", {"lr": 0.4}, now=12.5)  # a full class still takes its students' changes
    c.set_open(False)
    refused("class_closed", c.submit, "s1", "A", {"lr": 0.3}, now=20)
    c.set_open(True)
    c.job = object()  # started
    refused("class_started", c.submit, "s1", "A", {"lr": 0.3}, now=30)
    refused("class_started", c.withdraw, "s1")


def test_the_teachers_token_finds_the_class_after_a_reload():
    registry = classes.Registry()
    mine, other = registry.create(SETUP), registry.create(SETUP)
    assert registry.find_taught(mine.teacher) is mine and registry.find_taught(other.teacher) is other
    assert registry.find_taught("") is None and registry.find_taught(mine.code) is None  # the code is not the token
    registry.close(mine.code)
    assert registry.find_taught(mine.teacher) is None


def test_codes_are_random_and_a_closed_class_is_gone():
    registry = classes.Registry()
    made = [registry.create(SETUP) for _ in range(20)]
    assert len({c.code for c in made}) == 20 and all(len(c.code) >= 8 and len(c.teacher) >= 20 for c in made)
    assert registry.find(made[3].code) is made[3] and registry.find("nope") is None and registry.find(None) is None
    registry.close(made[3].code)
    assert registry.find(made[3].code) is None and len(registry) == 19


# ---- the class job -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fashion():
    return fashion_mnist.load_fashion_mnist()


MEMBERS = (wide.Member(0.05, batch_norm=True, seed=1), wide.Member(0.1, batch_norm=False, optimizer="momentum", seed=2),
           wide.Member(0.002, batch_norm=True, optimizer="adam", seed=3), wide.Member(9.0, batch_norm=False, seed=4))


def alone(member, fashion, setup=SETUP):
    """A plain loop with torch.optim on the class's batches, stopped where it diverges."""
    (x, y), _ = sweep.tensors(fashion, setup)
    model = wide.lone_model(member, setup.activation).train()
    opt = {"sgd": lambda p: torch.optim.SGD(p, lr=member.lr),
           "momentum": lambda p: torch.optim.SGD(p, lr=member.lr, momentum=member.momentum),
           "adam": lambda p: torch.optim.Adam(p, lr=member.lr)}[member.optimizer](model.parameters())
    losses = []
    for step, idx in enumerate(sweep.batches(setup, len(y)), 1):
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        losses.append(loss.item())
        if not math.isfinite(loss.item()) or loss.item() > wide.DIVERGED_LOSS:
            return np.array(losses), step
        opt.zero_grad()
        loss.backward()
        opt.step()
    return np.array(losses), None


def test_the_class_trains_as_one_job_that_equals_each_model_alone(fashion):
    from bnviz.training.manager import MANAGER, JobRefused

    c = new_class(allowed=frozenset(classes.FIELDS))
    for k, m in enumerate(MEMBERS):
        c.submit(f"s{k}", f"student {k}", {"lr": m.lr, "batch_norm": m.batch_norm, "optimizer": m.optimizer,
                                           "momentum": m.momentum, "seed": m.seed}, now=0)
    before = MANAGER.cap
    MANAGER.cap = 1
    try:
        job = c.start(fashion)
        refused("class_started", c.start, fashion)
        with pytest.raises(JobRefused):  # the same cap as every training
            class_job.ClassJob(MEMBERS, fashion, SETUP).start()
        assert job.join(120) and not job.alive and job not in MANAGER.active()
    finally:
        MANAGER.cap = before
    snap = job.snapshot()
    assert snap.state == "finished" and snap.step == snap.total == SETUP.total_steps
    assert snap.accuracy_steps[-1] == SETUP.total_steps and len(snap.accuracy_steps) == class_job.EVALUATIONS
    for k, m in enumerate(MEMBERS):
        losses, diverged = alone(m, fashion)
        assert snap.diverged_at[k] == diverged
        # float32: the first steps agree closely (further, rounding grows alike in any two correct codes)
        np.testing.assert_allclose(snap.losses[:2, k], losses[:2], rtol=1e-4)
        if diverged is None:
            assert 0.1 < snap.accuracy[-1, k] <= 1
        else:
            assert math.isnan(snap.accuracy[-1, k]) and np.isnan(snap.losses[diverged:, k]).all()


def test_stop_ends_the_job_and_reset_frees_the_class(fashion):
    c = new_class()
    c.submit("s1", "A", {"lr": 0.1}, now=0)
    refused("class_empty", new_class().start, fashion)
    long = classes.Class(code="x", teacher="t", setup=class_job.Setup(epochs=50, train_limit=640, test_limit=100),
                         entries=dict(c.entries))
    job = long.start(fashion)
    deadline = time.time() + 60
    while job.snapshot().step == 0 and time.time() < deadline:
        time.sleep(0.02)
    long.stop()
    assert job.join(60) and job.snapshot().state == "stopped"
    long.reset()
    assert long.job is None and long.roster() == []
    long.submit("s9", "again", {"lr": 0.2}, now=100)  # open for submissions again
    assert [e.nickname for e in long.roster()] == ["again"]


# ---- the board -----------------------------------------------------------------------------

def table(rows):
    return pd.DataFrame(rows, columns=["nickname", "lr", "model", "accuracy", "diverged"]).assign(optimizer="sgd")


def test_the_bands_of_rates_that_worked_and_their_ratio():
    t = table([("a", 0.01, "LeNet", 0.70, False), ("b", 0.1, "LeNet", 0.85, False), ("c", 1.0, "LeNet", 0.1, True),
               ("d", 0.01, "LeNet-BN", 0.80, False), ("e", 1.0, "LeNet-BN", 0.86, False),
               ("f", 10.0, "LeNet-BN", 0.5, False), ("g", 0.3, "LeNet-BN", None, False)])
    b = class_board.bands(t)
    # best 0.86: worked = within 0.10 of it → LeNet: 0.1 only; LeNet-BN: 0.01 … 1
    assert b["LeNet"] == {"lo": 0.1, "hi": 0.1, "decades": 0.0, "n": 1, "tried": 3}
    assert b["LeNet-BN"]["lo"] == 0.01 and b["LeNet-BN"]["hi"] == 1.0 and b["LeNet-BN"]["decades"] == pytest.approx(2)
    assert b["ratio"] is None  # a zero-width band has no ratio
    t.loc[0, "accuracy"] = 0.8
    b = class_board.bands(t)
    assert b["LeNet"]["decades"] == pytest.approx(1) and b["ratio"] == pytest.approx(2)


def test_the_leaderboard_and_a_students_standing():
    t = table([("a", 0.01, "LeNet", 0.70, False), ("b", 0.1, "LeNet", None, True), ("c", 1.0, "LeNet-BN", 0.9, False)])
    board = class_board.leaderboard(t)
    assert list(board["nickname"]) == ["c", "a", "b"] and list(board["rank"]) == [1, 2, 3]
    assert class_board.standing(t, "a") == (2, 3) and class_board.standing(t, "z") is None


def test_the_class_search_against_a_uniform_in_log_sample():
    drawn = class_board.uniform_sample(2000, 1e-3, 10, seed=4)
    assert drawn.min() >= 1e-3 and drawn.max() <= 10
    counts, _ = np.histogram(np.log10(drawn), bins=4, range=(-3, 1))  # a decade each: alike
    assert counts.min() > 400 and counts.max() < 600
    again, other = (class_board.uniform_sample(5, 1e-3, 10, seed=s) for s in (4, 5))
    np.testing.assert_allclose(again, class_board.uniform_sample(5, 1e-3, 10, seed=4), rtol=1e-12)  # each refresh
    assert not np.allclose(again, other)
    assert class_board.largest_gap([0.01, 0.1], 1e-3, 10) == pytest.approx(2)  # from 0.1 to 10
    assert class_board.largest_gap([1e-3, 10], 1e-3, 10) == pytest.approx(4)
    t = table([(str(k), 0.1, "LeNet", 0.5, False) for k in range(10)])  # a class that all picked 0.1
    frame, gaps = class_board.search(t, 1e-4, 10, seed=1)
    assert len(frame) == 20 and set(frame["who"]) == {"class", "uniform"}
    assert gaps["class"] == pytest.approx(3) and gaps["uniform"] < gaps["class"]
