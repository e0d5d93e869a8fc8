"""Open a `bench report` page in headless Chromium, check it and take a screenshot.

    python scripts/check_report_page.py                       # results/report/index.html
    python scripts/check_report_page.py PAGE --screenshot shot.png

Checks that the page loads without script or console errors, failed loads or network requests
and that every figure decodes; prints what it found and exits 1 on any problem (2 when there is
no page or no Chromium: `apt-get install chromium`, or set BENCH_CHROMIUM).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.report.browser import check_page, find_chromium


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("page", nargs="?", default="results/report/index.html")
    p.add_argument("--screenshot", default=None,
                   help="PNG to write (default: report-screenshot.png beside the page)")
    p.add_argument("--width", type=int, default=1280, help="viewport width in pixels")
    args = p.parse_args(argv)
    page = Path(args.page)
    if not page.is_file():
        print(f"check: error: no page {page} (make one with `python -m bench report`)",
              file=sys.stderr)
        return 2
    if find_chromium() is None:
        print("check: error: no Chromium (apt-get install chromium, or set BENCH_CHROMIUM)",
              file=sys.stderr)
        return 2
    shot = Path(args.screenshot) if args.screenshot else page.with_name("report-screenshot.png")
    check = check_page(page, shot, width=args.width)
    print(f"check: {page}: title {check.title!r}, {check.figures} figures, {check.tables} "
          f"tables, {len(check.images)} images, page height {check.height} px")
    for error in check.errors:
        print(f"check: problem: {error}")
    print(f"check: screenshot {check.screenshot}")
    print("check: ok" if check.ok else "check: FAILED")
    return 0 if check.ok else 1


if __name__ == "__main__":
    sys.exit(main())
