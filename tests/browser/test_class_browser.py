"""The class board in real Chromium: a teacher opens a class, students join by its link on phones
and laptops (every third in Chinese), submit (one nickname hostile: shown as text, never run);
the teacher starts; every student's page turns to their own curve and place by itself; Reset
gives the students their form back; closing the class ends its link and frees its training."""

import re
import time

from bnviz.ui.strings import STRINGS
from harness.browser import ROOT, open_page, screenshot, wait_ready
from harness.classroom_load import training_threads
from tests.browser.conftest import no_exception

EN = STRINGS["en"]
HOSTILE = "<img src=x>**b**$x$"  # markup, markdown and LaTeX, within the 24 characters a nickname has
STUDENTS = 4


def test_a_class_joins_trains_together_and_is_freed(contexts, server):
    teacher = contexts(viewport={"width": 1400, "height": 1000}, locale="en-US").new_page()
    open_page(teacher, server, "class", EN["class_title"])
    teacher.get_by_role("radio", name="3,000").click()
    wait_ready(teacher)
    teacher.get_by_role("radio", name="256").click()
    wait_ready(teacher)
    teacher.get_by_role("button", name=EN["class_open"]).click()
    link = teacher.locator("[data-testid='stCode']", has_text="join=").first
    link.wait_for(timeout=30_000)
    url = re.search(r"class\?join=[A-Za-z0-9_-]+", link.inner_text()).group(0)
    assert teacher.locator("[data-testid='stImage'] img").count() >= 1  # the QR code
    teacher.reload()  # the teacher's browser keeps the class (its token, never in the link)
    teacher.locator("[data-testid='stCode']", has_text=url).first.wait_for(timeout=30_000)
    wait_ready(teacher)

    dialogs, pupils = [], []
    for k in range(STUDENTS):
        lang = "zh" if k % 3 == 2 else "en"
        s = STRINGS[lang]
        phone = k % 2 == 0
        context = contexts(viewport={"width": 390, "height": 844} if phone else {"width": 1280, "height": 900},
                           locale="zh-CN" if lang == "zh" else "en-US", has_touch=phone, is_mobile=phone)
        page = context.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        open_page(page, server, f"{url}&lang={lang}", s["class_title"])
        nick = page.get_by_role("textbox", name=s["class_nickname"])
        name = HOSTILE if k == 0 else f"student {k}"
        for _ in range(5):  # a phone's first load runs the page twice: text typed into the first is gone
            nick.fill(name)
            nick.press("Enter")  # the text is committed (as a tab to the next control does)
            wait_ready(page)
            if nick.input_value() == name:
                break
            page.wait_for_timeout(500)
        slider = page.get_by_role("slider").first
        slider.focus()
        for _ in range(k):  # each a different rate: one notch (1, 2, 5 per decade) further
            slider.press("ArrowRight")
        wait_ready(page)
        page.get_by_role("button", name=s["class_submit"]).click()
        page.locator("[data-testid='stAlertContentSuccess']").first.wait_for(timeout=30_000)
        pupils.append((page, s))
    first = pupils[0][0].locator("[data-testid='stAlertContentSuccess']").first
    assert HOSTILE in first.inner_text()  # as typed: text, not markup
    assert pupils[0][0].locator("img[src='x']").count() == 0 and not dialogs

    teacher.wait_for_timeout(2500)  # the board refreshes itself every 2 s while students submit
    wait_ready(teacher)
    assert EN["class_waiting"].format(n=STUDENTS, max=60) in teacher.inner_text("body")
    teacher.get_by_role("button", name=EN["class_start"], exact=True).click()
    teacher.get_by_text(EN["sweep_state_finished"]).first.wait_for(timeout=120_000)
    wait_ready(teacher)
    teacher.locator(".bnviz-chart canvas >> visible=true").nth(2).wait_for(timeout=30_000)  # accuracy, loss, search
    screenshot(teacher, ROOT / "docs" / "screenshots" / "class.png")  # Home's picture of the page
    for page, s in pupils:  # each page turned to the training by itself
        page.get_by_text(s["class_place"]).first.wait_for(timeout=30_000)
        page.locator(".bnviz-chart canvas >> visible=true").first.wait_for(timeout=30_000)  # their own curve
        no_exception(page)

    teacher.get_by_role("button", name=EN["class_reset"]).click()
    wait_ready(teacher)
    for page, s in pupils:  # the form again, for a new round
        page.get_by_role("button", name=s["class_submit"]).wait_for(timeout=30_000)
    teacher.get_by_role("button", name=EN["class_end"]).click()
    teacher.get_by_role("button", name=EN["class_open"]).wait_for(timeout=30_000)  # a new class can be opened
    for page, s in pupils:
        page.get_by_text(s["class_unknown"]).first.wait_for(timeout=30_000)
        no_exception(page)
    deadline = time.time() + 30
    while training_threads(server.proc.pid) and time.time() < deadline:
        time.sleep(0.2)
    assert training_threads(server.proc.pid) == 0
    no_exception(teacher)
