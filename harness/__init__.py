"""The browser and server harness shared by the tests and the benchmarks: a real ``streamlit run``
(:mod:`~harness.browser`), Debian's Chromium driven by Playwright, wire tabs that speak Streamlit's
websocket protocol (:mod:`~harness.wire`), the server's thread census (:mod:`~harness.census`) and
the classroom load (:mod:`~harness.classroom_load`)."""
