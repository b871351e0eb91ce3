"""A class poll end to end in real browsers: a presenter (1920 px, presenter mode) asks the class a lesson's question,
three students (phones, 412 px, each its own browser context: its own cookies and session) open the link and answer,
the projector's histogram counts them within a few seconds, the presenter reveals, and each phone shows right or wrong."""
from __future__ import annotations

import re
import time

from tests.browser.conftest import CONSOLE_ERRORS, assert_no_exception, goto, screenshot, wait_idle

ANSWERS = ("3", "3", "4")  # the stride page's default question: the output has 3 rows


def _context(browser, width: int, height: int, phone: bool):
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1,
                                  is_mobile=phone, has_touch=phone)
    page = context.new_page()
    page.set_default_timeout(20_000)
    CONSOLE_ERRORS[page] = []
    return context, page


def run_poll(browser, app: str, lang: str = "en", shots: bool = False) -> dict:
    """The whole poll; returns the seconds each step took (the test checks them)."""
    words = {"en": ("Predict first", "Ask the class", "Your answer", "Send my answer", "is counted", "3 answers",
                    "Reveal the answer", "Right — the answer is 3", "Not quite"),
             "zh": ("先预测", "向全班提问", "你的答案", "提交我的答案", "已计入", "3 份作答", "公布答案", "答对了", "不太对")}[lang]
    predict, ask, your, send, counted, three, reveal, right, wrong = words
    took, contexts = {}, []
    try:
        ctx, lecturer = _context(browser, 1920, 1080, phone=False)
        contexts.append(ctx)
        goto(lecturer, app, "stride", presenter="1", lang=lang)
        switch = lecturer.get_by_test_id("stSidebar").get_by_text(predict, exact=True)
        switch.wait_for(timeout=30_000)
        switch.click()  # the server's default is off
        wait_idle(lecturer)
        lecturer.get_by_role("button", name=ask).click()
        lecturer.wait_for_url(re.compile(r"/poll\?"), timeout=20_000)
        wait_idle(lecturer)
        assert_no_exception(lecturer)
        code = lecturer.locator("div[aria-label]").filter(has_text=re.compile(r"^[A-Z2-9]{6}$")).first.inner_text()
        assert re.fullmatch(r"[A-HJKMNP-Z2-9]{6}", code), code
        assert lecturer.get_by_test_id("stImage").count() == 1  # the QR code
        link = lecturer.locator("code").filter(has_text=f"cp_code={code}").first.inner_text()
        assert link.startswith(app) and "cp_key" not in link
        students = []
        for _ in ANSWERS:  # three phones open the link at once
            ctx, phone = _context(browser, 412, 915, phone=True)
            contexts.append(ctx)
            phone.goto(link, wait_until="commit")
            students.append(phone)
        for i, (phone, given) in enumerate(zip(students, ANSWERS)):
            wait_idle(phone)
            assert_no_exception(phone)
            box = phone.get_by_label(your)
            box.fill(given)
            box.press("Enter")
            wait_idle(phone)
            if shots and i == 0:
                screenshot(phone, f"poll-phone-form-{lang}", full_page=True)
            phone.get_by_role("button", name=send).click()
        for phone in students:
            phone.get_by_text(counted).wait_for(timeout=30_000)
        sent = time.monotonic()
        lecturer.get_by_text(three).first.wait_for(timeout=20_000)
        took["histogram"] = time.monotonic() - sent
        if shots:
            lecturer.mouse.move(1900, 1000)  # no hover toolbar over the QR code
            lecturer.wait_for_timeout(1500)
            screenshot(lecturer, f"poll-projector-{lang}", full_page=False)
            screenshot(students[0], f"poll-phone-{lang}", full_page=True)
        lecturer.get_by_role("button", name=reveal).click()
        revealed = time.monotonic()
        for phone, given in zip(students, ANSWERS):
            phone.get_by_text(right if given == "3" else wrong).first.wait_for(timeout=30_000)
            assert_no_exception(phone)
        took["reveal"] = time.monotonic() - revealed
        if shots:
            lecturer.mouse.move(1900, 1000)
            lecturer.wait_for_timeout(1500)
            screenshot(lecturer, f"poll-projector-revealed-{lang}", full_page=False)
            screenshot(students[2], f"poll-phone-revealed-{lang}", full_page=True)
        assert_no_exception(lecturer)
    finally:
        for ctx in contexts:
            ctx.close()
    return took


def test_a_presenter_and_three_students_run_one_poll(browser, app):
    took = run_poll(browser, app)
    # ticks of 1 s (projector) and 2 s (phones); bounds with room for a busy CI machine (bench/polls.py --class
    # measures the projector's lag under load)
    assert took["histogram"] < 10 and took["reveal"] < 20, took
