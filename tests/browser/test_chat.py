"""The chat example in a real headless Chromium, on the official browser client we serve."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from urllib.parse import urlencode

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from .conftest import Browser, start_chat, stop

WAIT = 20


def wait_for(driver: WebDriver, check: Callable[[WebDriver], object], what: str) -> None:
    # The page re-renders its lists on every update: an element read mid-render is stale, and
    # the check is simply tried again.
    WebDriverWait(driver, WAIT, ignored_exceptions=(StaleElementReferenceException,)).until(
        check, f"timed out waiting for {what}")


def status(driver: WebDriver) -> str:
    return str(driver.find_element(By.ID, "status").text)


def lines(driver: WebDriver) -> list[str]:
    return [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#messages li")]


def users(driver: WebDriver) -> list[str]:
    return [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#users li")]


def conversations(driver: WebDriver) -> list[str]:
    return [str(li.get_attribute("data-key"))
            for li in driver.find_elements(By.CSS_SELECTOR, "#rooms li")]


def has_line(driver: WebDriver, text: str) -> Callable[[WebDriver], bool]:
    return lambda d: any(text in line for line in lines(d))


def login(driver: WebDriver, url: str, name: str, transports: str | None = None) -> None:
    query = {"name": name, **({"transports": transports} if transports else {})}
    driver.get(f"{url}/?{urlencode(query)}")
    wait_for(driver, lambda d: status(d).startswith("connected") and f"you are {name}"
             in d.find_element(By.ID, "me").text, f"{name} to connect")


def type_into(driver: WebDriver, element_id: str, text: str) -> None:
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text)
    field.submit()


def open_conversation(driver: WebDriver, key: str) -> None:
    wait_for(driver, lambda d: key in conversations(d), f"conversation {key}")
    driver.find_element(By.CSS_SELECTOR, f'#rooms li[data-key="{key}"]').click()
    wait_for(driver, lambda d: "current" in str(d.find_element(
        By.CSS_SELECTOR, f'#rooms li[data-key="{key}"]').get_attribute("class")), f"{key} shown")


def test_two_users_chat_in_a_room_privately_and_one_leaves(
    chat_server: str, browser: Browser
) -> None:
    ada, bob = browser(), browser()
    login(ada, chat_server, "ada")
    login(bob, chat_server, "bob")
    wait_for(ada, has_line(ada, "bob joined"), "ada to see bob join the lobby")
    wait_for(ada, lambda d: users(d) == ["ada (you)", "bob"], "the lobby's online list")

    type_into(ada, "join-room", "trio")
    type_into(bob, "join-room", "trio")
    wait_for(ada, has_line(ada, "bob joined"), "bob joining #trio")
    wait_for(bob, lambda d: users(d) == ["ada", "bob (you)"], "#trio's online list")

    type_into(ada, "text", "hello trio")
    wait_for(bob, has_line(bob, "ada: hello trio"), "bob to get ada's message")
    # The server stamps each message: the page shows its time before the text.
    stamped = next(line for line in lines(bob) if "hello trio" in line)
    assert stamped.split(" ")[0].count(":") == 2

    bob.find_element(By.CSS_SELECTOR, "#users li:first-child").click()  # ada
    wait_for(bob, lambda d: d.find_element(By.ID, "title").text == "@ada", "the private view")
    type_into(bob, "text", "psst, ada")
    wait_for(ada, lambda d: any(k.startswith("@") for k in conversations(d)),
             "ada to get a private conversation")
    private_key = next(k for k in conversations(ada) if k.startswith("@"))
    open_conversation(ada, private_key)
    wait_for(ada, has_line(ada, "bob: psst, ada"), "ada to read bob's private message")
    wait_for(bob, has_line(bob, "bob: psst, ada"), "bob to see what he sent")

    open_conversation(ada, "#trio")
    open_conversation(bob, "#trio")
    bob.find_element(By.ID, "leave").click()
    wait_for(ada, has_line(ada, "bob left"), "ada to see bob leave #trio")
    wait_for(ada, lambda d: users(d) == ["ada (you)"], "#trio's online list without bob")
    assert "#trio" not in conversations(bob)

    open_conversation(ada, "#lobby")
    bob.quit()
    wait_for(ada, has_line(ada, "bob went away"), "ada to see bob's page close")
    wait_for(ada, lambda d: users(d) == ["ada (you)"], "the lobby without bob")


def _round_trip_on(browser: Browser, url: str, transport: str) -> None:
    page = browser()
    login(page, url, transport, transports=transport)
    type_into(page, "text", f"over {transport}")
    wait_for(page, has_line(page, f"{transport}: over {transport}"), "the message back")
    assert status(page) == f"connected ({transport})"
    assert page.execute_script("return chatSocket.io.engine.transport.name") == transport


def test_a_page_over_polling_only(chat_server: str, browser: Browser) -> None:
    _round_trip_on(browser, chat_server, "polling")


def test_a_page_over_websocket_only(chat_server: str, browser: Browser) -> None:
    _round_trip_on(browser, chat_server, "websocket")


def test_the_page_shows_reconnection(browser: Browser) -> None:
    process, port = start_chat()
    url = f"http://127.0.0.1:{port}"
    try:
        page = browser()
        login(page, url, "rita")
        stop(process)
        wait_for(page, lambda d: d.find_element(By.ID, "status").get_attribute("data-state")
                 == "reconnecting", "the page to show it is reconnecting")
        process, _ = start_chat(port)
        wait_for(page, lambda d: status(d).startswith("connected"), "the page to reconnect")
        wait_for(page, has_line(page, "reconnected"), "a reconnected notice")
        type_into(page, "text", "back again")
        wait_for(page, has_line(page, "rita: back again"), "a message after reconnecting")
    finally:
        stop(process)


def test_the_chat_mounted_with_asgiapp_under_hypercorn_trio(browser: Browser) -> None:
    from tests.asgi.test_hypercorn import start_hypercorn
    from tests.asgi.test_hypercorn import stop as stop_hypercorn

    process, port, _ = start_hypercorn("examples.asgi_app:app")
    url = f"http://127.0.0.1:{port}"
    try:
        ada, bob = browser(), browser()
        login(ada, url, "ada")
        login(bob, url, "bob", transports="polling")
        wait_for(ada, has_line(ada, "bob joined"), "ada to see bob join through hypercorn")
        type_into(bob, "text", "hi from polling")
        wait_for(ada, has_line(ada, "bob: hi from polling"), "bob's message")
        wait_for(ada, lambda d: status(d) == "connected (websocket)", "ada to upgrade")
    finally:
        code, out = stop_hypercorn(process)
    assert code == 0, out
    assert "Traceback" not in out, out


def test_a_person_sees_only_the_login_until_they_pick_a_nickname(
    chat_server: str, browser: Browser
) -> None:
    page = browser()
    page.get(chat_server)
    login_form, chat_panel = page.find_element(By.ID, "login"), page.find_element(By.ID, "chat")
    assert login_form.is_displayed()
    assert not chat_panel.is_displayed()
    for where in ("rooms", "users", "send-form", "join-form"):
        assert not page.find_element(By.ID, where).is_displayed(), where

    error = page.find_element(By.ID, "login-error")
    assert error.text == ""
    for blank in ("", "   "):
        type_into(page, "name", blank)
        wait_for(page, lambda d: error.is_displayed() and "nickname" in error.text,
                 f"a message for the nickname {blank!r}")
        assert not chat_panel.is_displayed()

    type_into(page, "name", "ada")
    wait_for(page, lambda d: chat_panel.is_displayed(), "the chat panel after login")
    assert not login_form.is_displayed()
    assert error.text == ""
    wait_for(page, lambda d: users(d) == ["ada (you)"], "the lobby's online list")


def test_the_page_has_an_icon(chat_server: str) -> None:
    with urllib.request.urlopen(f"{chat_server}/favicon.ico", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/x-icon"
        assert response.read()[:4] == b"\x00\x00\x01\x00"  # an ICO file's header
    with urllib.request.urlopen(chat_server, timeout=10) as response:
        assert b'<link rel="icon" href="/favicon.ico">' in response.read()
