"""Screenshots of the Usage Analytics page's three tabs, for the README.

    llm-usage dashboard --port 8501 &          # on the demo warehouse (make demo)
    python -m tools.dashboard_screenshots http://127.0.0.1:8501 docs

writes docs/dashboard-usage.png, -provider.png and -performance.png. Uses Debian's
Chromium through Playwright (`apt-get install chromium`), as the browser test does.
"""

from __future__ import annotations

import sys
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDTH = 1400


def main(url: str, out_dir: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": 1000})
            page.goto(url, timeout=120_000)
            page.wait_for_selector('[data-testid="stMetric"]', timeout=120_000)
            for tab in ("Usage", "Provider", "Performance"):
                page.get_by_role("tab", name=tab).click()
                page.wait_for_timeout(1500)
                # Streamlit scrolls inside its own container, so a full-page shot would
                # stop at the window: grow the window to the content instead.
                height = page.evaluate(
                    "() => document.querySelector('[data-testid=\"stMainBlockContainer\"]').scrollHeight"
                )
                page.set_viewport_size({"width": WIDTH, "height": int(height) + 80})
                page.wait_for_timeout(1500)
                path = out_dir / f"dashboard-{tab.lower()}.png"
                page.screenshot(path=str(path))
                print(path)
                page.set_viewport_size({"width": WIDTH, "height": 1000})
        finally:
            browser.close()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
