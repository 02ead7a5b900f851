"""The class board page (pages/class.py) in AppTest: a teacher opens a class, students join by
its link in either language, submit, change and take back their entry; a hostile nickname stays
text; the class trains as one job and the board, each student's curve and their place appear;
refusals are said in the student's language; a closed class says so."""

import re
import time

import pytest
from streamlit.testing.v1 import AppTest

from bnviz.training import classes
from bnviz.ui.strings import STRINGS
from tests.pages.conftest import APP, drawn_datasets, drawn_specs, no_traceback, set_language, texts

PAGE = "pages/class.py"
HOSTILE = "<img src=x>**b**$x$"  # 19 characters: markup, markdown and LaTeX


def teacher(lang="en", **choices):
    at = AppTest.from_file(APP, default_timeout=60).run()
    if lang != "en":
        set_language(at, lang)
    at.switch_page(PAGE).run()
    no_traceback(at)
    s = STRINGS[lang]
    assert at.title[0].value == s["class_title"] and s["class_open_header"] in texts(at)
    for key, value in choices.items():
        at.session_state[key] = value
    at.button(key="cl_open").click().run()
    no_traceback(at)
    return at


def code_of(at) -> str:
    link = next(c.value for c in at.code if "join=" in c.value)
    found = re.search(r"/class\?join=([A-Za-z0-9_-]+)$", link)
    assert found, link
    return found.group(1)


def student(code, lang="en"):
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["join"] = code  # the class's link, opened as it is (a student's language in it)
    at.query_params["lang"] = lang
    at.switch_page(PAGE).run()
    no_traceback(at)
    return at


def submit(at, nick, lr=None, **settings):
    at.text_input(key="cl_nick").input(nick)
    if lr is not None:
        at.select_slider(key="cl_lr").set_value(lr)
    for key, value in settings.items():
        at.session_state[key] = value
    at.button(key="cl_submit").click().run()
    no_traceback(at)
    return at


def pending_marks(at, lang="en") -> list[str]:
    """The nicknames the board's accuracy chart, rendered (vl-convert), draws as not measured yet."""
    import vl_convert

    spec = drawn_specs(at)[0]
    datasets = {name: frame.astype(object).where(frame.notna(), None).to_dict("records")
                for name, frame in drawn_datasets(at, 0).items()}
    svg = vl_convert.vegalite_to_svg({**spec, "datasets": datasets})
    label = STRINGS[lang]["class_pending"]
    return sorted(re.search(r"; [^;]*: ([^;]*); [^;]*: " + re.escape(label), mark).group(1)
                  for mark in re.findall(r'aria-label="([^"]*)"', svg) if mark.endswith(label))


@pytest.fixture(autouse=True)
def no_classes_left():
    yield
    for code in list(classes.REGISTRY._classes):
        classes.REGISTRY.close(code)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_teacher_opens_a_class_with_a_link_and_a_qr_code(lang):
    at = teacher(lang)
    s = STRINGS[lang]
    code = code_of(at)
    assert classes.REGISTRY.find(code) is not None
    assert [i for e in at.get("image") for i in e.proto.imgs if i.caption == s["class_scan"]]  # the QR code
    for key in ("cl_toggle", "cl_start", "cl_stop", "cl_reset", "cl_end"):
        assert at.button(key=key)
    assert s["class_waiting"].format(n=0, max=classes.MAX_ENTRIES) in texts(at)


def test_a_choice_that_comes_back_empty_opens_the_class_with_the_value_shown():
    """Streamlit's segmented control says None when its browser side sends no selection: the
    class opens with what the form showed, the teacher's choice or the default (it opened with
    no epochs at all)."""
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page(PAGE).run()
    at.segmented_control(key="cl_epochs").set_value(2).run()
    for key in ("cl_epochs", "cl_subset", "cl_batch"):
        at.segmented_control(key=key).set_value(None)
    at.button(key="cl_open").click().run()
    no_traceback(at)
    made = classes.REGISTRY.find(code_of(at))
    assert (made.setup.epochs, made.setup.train_limit, made.setup.batch_size) == (2, 6_000, 64)


def test_students_join_in_both_languages_and_a_hostile_nickname_stays_text():
    at = teacher()
    code = code_of(at)
    en, zh = student(code), student(code, "zh")
    assert STRINGS["zh"]["class_intro_student"] in texts(zh)
    submit(en, HOSTILE, lr=0.05)
    said = [e.value for e in en.success]
    assert said and "\\<img" in said[0] and "\\*\\*b\\*\\*" in said[0] and "\\$x\\$" in said[0]  # escaped
    submit(zh, "王小明", lr=0.5, cl_bn=False)
    assert "王小明" in zh.success[0].value and STRINGS["zh"]["class_you_are_in"].split("{")[0] in zh.success[0].value
    made = classes.REGISTRY.find(code)
    assert [(e.nickname, e.member.lr, e.member.batch_norm) for e in made.roster()] == [
        (HOSTILE, 0.05, True), ("王小明", 0.5, False)]
    at.run()
    board = at.dataframe[0].value
    assert list(board["nickname"]) == [HOSTILE, "王小明"]  # a table cell: plain text, as typed
    assert {"points"} <= set(drawn_datasets(at, 0)) and len(drawn_datasets(at, 0)["points"]) == 2


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_refusals_are_said_in_the_students_language(lang):
    s = STRINGS[lang]
    at = teacher()
    code = code_of(at)
    st_ = student(code, lang)
    submit(st_, "   ")
    assert s["err_class_nick_empty"] in texts(st_)
    submit(st_, "Ada", lr=0.1)
    submit(st_, "Ada", lr=0.2)  # within the second
    assert s["err_class_too_fast"].format(s="1") in texts(st_)
    time.sleep(classes.SUBMIT_INTERVAL_S)
    submit(st_, "Ada B", lr=0.2)  # replaces the entry
    made = classes.REGISTRY.find(code)
    assert [(e.nickname, e.member.lr) for e in made.roster()] == [("Ada B", 0.2)]
    at.button(key="cl_toggle").click().run()  # the teacher closes submissions
    st_.run()
    assert s["class_closed_student"] in texts(st_) and st_.button(key="cl_submit").disabled
    st_.button(key="cl_withdraw").click().run()
    assert made.roster() == []
    at.button(key="cl_end").click().run()  # the class is closed: its link no longer works
    st_.run()
    assert s["class_unknown"] in texts(st_)
    assert "Traceback" not in texts(st_) and not st_.exception
    lost = student("not-a-class", lang)
    assert s["class_unknown"] in texts(lost)


def test_the_class_trains_together_and_everyone_sees_the_board_and_their_place():
    at = teacher(cl_epochs=1, cl_subset=3_000, cl_batch=256, cl_allowed=["batch_norm"])
    code = code_of(at)
    pupils = []
    for k, (nick, lr, bn) in enumerate([("a", 1.0, True), ("b", 0.2, False), ("c", 10.0, False)]):
        p = student(code, "zh" if k == 1 else "en")
        submit(p, nick, lr=lr, cl_bn=bn)
        pupils.append(p)
    at.run()  # the board before Start: the class's choices, on the axis, not measured yet
    assert pending_marks(at) == ["a", "b", "c"]
    at.button(key="cl_start").click().run()
    no_traceback(at)
    made = classes.REGISTRY.find(code)
    assert made.job is not None and made.job.join(120)
    snap = made.job.snapshot()
    assert snap.state == "finished" and snap.losses.shape == (snap.total, 3)
    assert snap.diverged_at[0] is None
    at.run()
    no_traceback(at)
    points = drawn_datasets(at, 0)["points"]
    assert list(points["nickname"]) == ["a", "b", "c"]
    assert pending_marks(at) == []  # every model measured (or diverged: an ✕)
    assert points["diverged"].tolist() == [d is not None for d in snap.diverged_at]
    assert points["accuracy"].iloc[0] > 0.3
    assert at.get("download_button") and STRINGS["en"]["class_ratio"] in [m.label for m in at.metric]
    for p, lang in zip(pupils, ("en", "zh", "en")):
        p.run()
        no_traceback(p)
        assert STRINGS[lang]["class_place"] in [m.label for m in p.metric]
    said = STRINGS["en"]["class_you_diverged"].split("{")[0] in texts(pupils[2])
    assert said == (snap.diverged_at[2] is not None)
