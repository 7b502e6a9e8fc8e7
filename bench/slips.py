"""Rendering 10,000 admission slips as a PDF (A4, ten to a page): time and peak memory.

Each run renders in a fresh process (``app.reports.slips.render_slips_pdf`` into a file,
as ``pingyi codes issue --pdf`` does), so its peak resident memory is its own: the figure
is the process's peak RSS, and how much of it came on top of the RSS just before rendering
(after the imports and making the list of slips). The best of ``--repeat`` runs is shown
(the machine may be shared).

Then, unless ``--verify 0``, a check that the slips stay scannable: ``--verify`` slips are
rendered and every page read back the way the tests do (pypdfium2 renders it, zxing-cpp
decodes the QR codes; both are dev dependencies), at 216 dpi as in the tests and at a harsh
72 dpi (about 2 pixels per module), once with the fixed data mask the slips use and once
with segno choosing the best of the eight masks, for comparison.

``--cli`` also times ``pingyi codes issue SLUG --count N --pdf FILE`` end to end on a fresh
SQLite database (issuing the codes, then drawing their slips).

Needs a font for Chinese (Debian's fonts-noto-cjk). Usage: ``python bench/slips.py``
(``--quick`` for a smoke test: 200 slips, one run, 50 verified).
"""

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from machine import print_header  # noqa: E402

from app.admission import codes  # noqa: E402
from app.reports import fonts  # noqa: E402
from app.reports import slips as slips_report  # noqa: E402
from app.reports.slips import Slip  # noqa: E402

BASE_URL = "https://pingyi.example.gov.cn/"
TITLE = "城关区2025年度机关作风和营商环境民主评议"
GROUP = "办事群众"
DEPARTMENT = "区市场监督管理局"
PINGYI = Path(sys.executable).parent / "pingyi"


def make_slips(count: int) -> list[Slip]:
    """Every tenth slip is scoped to a department, so both layouts are drawn."""
    return [
        Slip(
            code=code,
            campaign_title=TITLE,
            rater_group_name=GROUP,
            target_name=DEPARTMENT if index % 10 == 9 else None,
        )
        for index, code in enumerate(codes.generate() for _ in range(count))
    ]


def rss_mib() -> float:
    """This process's resident memory now, in MiB."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def render_once(count: int) -> dict[str, float]:
    """Run in a child process: render ``count`` slips into a file; time, memory, size."""
    printable = make_slips(count)
    before = rss_mib()
    with tempfile.TemporaryFile() as stream:
        started = time.perf_counter()
        pages = slips_report.render_slips_pdf(printable, base_url=BASE_URL, stream=stream)
        elapsed = time.perf_counter() - started
        size = stream.tell()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"seconds": elapsed, "pages": pages, "bytes": size, "rss_before": before, "peak": peak}


def render_in_child(count: int) -> dict[str, float]:
    child = subprocess.run(
        [sys.executable, __file__, "--child", str(count)],
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode != 0:
        raise RuntimeError(f"rendering failed:\n{child.stderr[-3000:]}")
    result: dict[str, float] = json.loads(child.stdout)
    return result


def decoded_share(count: int, scale: float, mask: int | None) -> tuple[int, int]:
    """(slips whose QR code decodes to their own rating URL, slips) at ``scale`` × 72 dpi."""
    import pypdfium2 as pdfium
    import zxingcpp

    printable = make_slips(count)
    saved = slips_report.QR_MASK
    slips_report.QR_MASK = mask  # type: ignore[assignment]  # None: segno picks the best
    try:
        stream = io.BytesIO()
        slips_report.render_slips_pdf(printable, base_url=BASE_URL, stream=stream)
    finally:
        slips_report.QR_MASK = saved
    expected = {slips_report.rating_url(BASE_URL, slip.code) for slip in printable}
    qr_only = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    document = pdfium.PdfDocument(stream.getvalue())
    found: set[str] = set()
    try:
        for page in document:
            image = page.render(scale=scale, grayscale=True).to_pil()
            page.close()
            found.update(barcode.text for barcode in zxingcpp.read_barcodes(image, formats=qr_only))
    finally:
        document.close()
    return len(found & expected), len(expected)


def cli_run(count: int) -> float:
    sys.path.insert(0, str(BENCH_DIR))
    from _campaign_db import bench_database, subprocess_environment

    with bench_database("sqlite", with_keys=True) as database:
        work_dir = Path(tempfile.mkdtemp(prefix="pingyi-bench-slips-"))
        out = work_dir / "slips.pdf"
        started = time.perf_counter()
        subprocess.run(
            [
                str(PINGYI),
                *("codes", "issue", database.campaign_slug, "--group", "citizens"),
                *("--count", str(count), "--pdf", str(out)),
            ],
            env=subprocess_environment(database, work_dir),
            capture_output=True,
            check=True,
        )
        elapsed = time.perf_counter() - started
        out.unlink()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="slips per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is shown")
    parser.add_argument("--verify", type=int, default=300, help="slips to decode back (0: none)")
    parser.add_argument("--cli", action="store_true", help="also time `pingyi codes issue --pdf`")
    parser.add_argument("--quick", action="store_true", help="200 slips, one run, 50 verified")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        json.dump(render_once(args.child), sys.stdout)
        return
    if args.quick:
        args.count, args.repeat, args.verify = 200, 1, 50

    print_header(f"rendering {args.count:,} slips as PDF (best of {args.repeat})")
    font = fonts.find_cjk_font()
    print(f"# font: {font.path} (face {font.index}, monospaced face {font.monospace_index})")
    print(f"# QR data mask: {getattr(slips_report, 'QR_MASK', 'best of 8 (segno)')}")
    runs = [render_in_child(args.count) for _ in range(args.repeat)]
    best = min(runs, key=lambda run: run["seconds"])
    times = ", ".join(f"{run['seconds']:.2f}" for run in runs)
    peaks = ", ".join(f"{run['peak']:.0f}" for run in runs)
    print(
        f"render  {best['seconds']:6.2f} s  ({args.count / best['seconds']:,.0f} slips/s, "
        f"{best['pages']:.0f} pages, {best['bytes'] / 2**20:.1f} MiB; runs "
        f"{times})"
    )
    print(
        f"memory  peak RSS {best['peak']:.0f} MiB, of which {best['peak'] - best['rss_before']:.0f}"
        f" MiB while rendering (peaks of the runs: "
        f"{peaks} MiB)"
    )
    if args.cli:
        cli = min(cli_run(args.count) for _ in range(args.repeat))
        print(f"CLI     {cli:6.2f} s  (`pingyi codes issue --count {args.count} --pdf`, SQLite)")
    if args.verify:
        try:
            import pypdfium2  # noqa: F401
            import zxingcpp  # noqa: F401
        except ImportError as error:
            print(f"verify  skipped: {error} (pypdfium2 and zxing-cpp are dev dependencies)")
            return
        fixed = slips_report.QR_MASK
        for mask, label in ((fixed, f"mask {fixed}"), (None, "best mask")):
            for scale in (3.0, 1.0):
                decoded, total = decoded_share(args.verify, scale, mask)
                print(
                    f"verify  {label:9} at {scale * 72:.0f} dpi: {decoded}/{total} QR codes "
                    f"decode to their slip's URL"
                )


if __name__ == "__main__":
    main()
