"""Check a rendered report as a reader would: what the PDF says and shows, whether the HTML's
pictures load in a real browser. Reusable by any test of a report.

    from reader import pdf_text, pdf_fonts, pdf_pages_nonblank, html_broken_images, html_screenshot

Needs poppler-utils (pdftotext, pdffonts, pdftoppm) and chromium; `have(tool)` tells, so a test
can skip with a message instead of failing where they are missing.
"""
from __future__ import annotations

import base64
import binascii
import io
import json
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def have(tool: str) -> bool:
    if tool == "chromium":
        return chromium() is not None
    return shutil.which(tool) is not None


def chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


# ------------------------------------------------------------------ PDF
def pdf_text(pdf: str | Path, *, layout: bool = False) -> str:
    """The PDF's text (pdftotext), pages separated by form feeds."""
    args = ["pdftotext", "-enc", "UTF-8"] + (["-layout"] if layout else []) + [str(pdf), "-"]
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=120).stdout


def pdf_fonts(pdf: str | Path) -> list[str]:
    """Names of the fonts the PDF uses (pdffonts), subset prefixes ('ABCDEF+') removed."""
    out = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True, timeout=120).stdout
    names = []
    for line in out.splitlines()[2:]:
        if line.strip():
            name = line.split()[0]
            names.append(name.split("+", 1)[1] if re.match(r"^[A-Z]{6}\+", name) else name)
    return names


def pdf_page_count(pdf: str | Path) -> int:
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True, timeout=60).stdout
    m = re.search(r"^Pages:\s+(\d+)", out, flags=re.M)
    return int(m.group(1)) if m else 0


def pdf_pages_nonblank(pdf: str | Path, *, dpi: int = 50, min_std: float = 2.0) -> list[bool]:
    """For each page: does it show something? (rasterised with pdftoppm; pixel spread above min_std)."""
    import numpy as np
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="reader-pdf-") as tmp:
        subprocess.run(["pdftoppm", "-png", "-r", str(dpi), str(pdf), f"{tmp}/page"], check=True,
                       capture_output=True, timeout=300)
        pages = sorted(Path(tmp).glob("page-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        result = []
        for page in pages:
            arr = np.asarray(Image.open(page).convert("L"), dtype=float)
            result.append(bool(arr.std() > min_std))
        return result


def pdf_page_png(pdf: str | Path, page: int, png: str | Path, *, dpi: int = 60) -> Path:
    """Page `page` (1-based) as a PNG, to look at."""
    png = Path(png)
    stem = png.with_suffix("")
    subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile",
                    str(pdf), str(stem)], check=True, capture_output=True, timeout=120)
    return stem.with_suffix(".png")


# ------------------------------------------------------------------ HTML
class _Imgs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.srcs.append(dict(attrs).get("src") or "")


def html_images(html: str | Path) -> list[str]:
    """The src of every <img> in the page."""
    p = _Imgs()
    p.feed(Path(html).read_text(encoding="utf-8"))
    return p.srcs


def _decode_image(data: bytes, mime: str) -> str | None:
    """None if the bytes are a readable image, else why not."""
    if "svg" in mime or data.lstrip()[:5] in (b"<?xml", b"<svg ") or data.lstrip().startswith(b"<svg"):
        import xml.etree.ElementTree as ET
        try:
            root = ET.fromstring(data)
        except ET.ParseError as exc:
            return f"SVG does not parse: {exc}"
        return None if root.tag.endswith("svg") else f"root element is {root.tag}, not svg"
    try:
        from PIL import Image
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            if im.width < 1 or im.height < 1:
                return "image has no pixels"
    except Exception as exc:  # noqa: BLE001
        return f"does not decode: {exc}"
    return None


def html_broken_images(html: str | Path, *, browser: bool = True) -> list[str]:
    """Problems with the page's images, one string each; [] when every image is fine.

    Static check: every <img> has a data: URI that decodes to an image (or a src that resolves
    to a readable image file beside the page). With browser=True (and chromium present) the page
    is also loaded in headless Chromium and every image must have naturalWidth > 0.
    """
    html = Path(html)
    problems = []
    srcs = html_images(html)
    for i, src in enumerate(srcs):
        label = f"image {i + 1} ({src[:40]}...)"
        if not src:
            problems.append(f"{label}: no src")
            continue
        if src.startswith("data:"):
            head, _, payload = src.partition(",")
            mime = head[5:].split(";")[0]
            try:
                data = base64.b64decode(payload, validate=False) if ";base64" in head else unquote(payload).encode()
            except (binascii.Error, ValueError) as exc:
                problems.append(f"{label}: bad base64: {exc}")
                continue
            why = _decode_image(data, mime)
        else:
            url = urlparse(src)
            if url.scheme in ("http", "https"):
                problems.append(f"{label}: remote image (the page is not self-contained)")
                continue
            target = (html.parent / unquote(url.path)).resolve() if url.scheme in ("", "file") else None
            if target is None or not target.is_file():
                problems.append(f"{label}: {src} does not resolve to a file")
                continue
            why = _decode_image(target.read_bytes(), target.suffix)
        if why:
            problems.append(f"{label}: {why}")
    if browser and chromium() and srcs:
        for entry in _browser_images(html):
            if not entry.get("complete") or not entry.get("w"):
                problems.append(f"image {entry.get('i', '?') + 1} does not load in Chromium "
                                f"(naturalWidth={entry.get('w')})")
    return problems


def _chromium_args(user_dir: str) -> list[str]:
    return [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={user_dir}"]


def _browser_images(html: Path) -> list[dict]:
    """naturalWidth of each <img>, as Chromium sees it (a copy of the page with a probe script)."""
    probe = """<script>
window.addEventListener('load', function () {
  var r = [].map.call(document.images, function (im, i) {
    return {i: i, w: im.naturalWidth, h: im.naturalHeight, complete: im.complete};
  });
  var pre = document.createElement('pre'); pre.id = 'fedcost-probe';
  pre.textContent = 'PROBE' + JSON.stringify(r) + 'EBORP';
  document.body.appendChild(pre);
});
</script>"""
    with tempfile.TemporaryDirectory(prefix="reader-chromium-") as tmp:
        page = html.parent / f".probe-{html.name}"
        text = html.read_text(encoding="utf-8")
        page.write_text(text.replace("</body>", probe + "</body>") if "</body>" in text else text + probe,
                        encoding="utf-8")
        try:
            proc = subprocess.run(_chromium_args(tmp) + ["--virtual-time-budget=10000", "--dump-dom",
                                                         page.resolve().as_uri()],
                                  capture_output=True, text=True, timeout=120)
        finally:
            page.unlink(missing_ok=True)
    m = re.search(r"PROBE(\[.*?\])EBORP", proc.stdout, flags=re.S)
    if not m:
        return [{"i": -1, "w": 0, "complete": False, "error": "probe did not run: " + proc.stderr[-300:]}]
    import html as _html
    return json.loads(_html.unescape(m.group(1)))


def html_screenshot(html: str | Path, png: str | Path, *, width: int = 1200, height: int = 2000) -> Path:
    """A screenshot of the page in headless Chromium."""
    png = Path(png).resolve()
    with tempfile.TemporaryDirectory(prefix="reader-chromium-") as tmp:
        subprocess.run(_chromium_args(tmp) + [f"--screenshot={png}", f"--window-size={width},{height}",
                                              "--virtual-time-budget=5000", Path(html).resolve().as_uri()],
                       capture_output=True, text=True, timeout=120)
    if not png.is_file():
        raise RuntimeError(f"chromium wrote no screenshot of {html}")
    return png


def png_nonblank(png: str | Path, *, min_std: float = 2.0) -> bool:
    import numpy as np
    from PIL import Image
    arr = np.asarray(Image.open(png).convert("L"), dtype=float)
    return bool(arr.std() > min_std)


# ------------------------------------------------------------------ notebooks
def notebook_errors(ipynb: str | Path) -> list[dict]:
    """Error outputs in an executed notebook: [{'cell': index, 'ename': ..., 'evalue': ...}]."""
    nb = json.loads(Path(ipynb).read_text(encoding="utf-8"))
    errs = []
    for i, cell in enumerate(nb.get("cells", [])):
        for out in cell.get("outputs", []) or []:
            if out.get("output_type") == "error":
                errs.append({"cell": i, "ename": out.get("ename"), "evalue": out.get("evalue")})
    return errs


def write_notebook(path: str | Path, cells: list[tuple], *, front_matter: str | None = None) -> Path:
    """A small report notebook for tests: cells are ('md'|'code'|'raw', source[, tags])."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

    made = []
    if front_matter is not None:
        made.append(new_raw_cell(f"---\n{front_matter.strip()}\n---"))
    for kind, source, *rest in cells:
        cell = {"md": new_markdown_cell, "code": new_code_cell, "raw": new_raw_cell}[kind](source)
        if rest and rest[0]:
            cell.metadata["tags"] = list(rest[0])
        made.append(cell)
    nb = new_notebook(cells=made)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path
