"""Find a CJK (Chinese) font for reports in Chinese.

The same font is handed to matplotlib (figure labels), typst (the PDF) and the
HTML font stack, so that Chinese text renders everywhere and never as tofu
boxes. Discovery uses fontconfig (`fc-list :lang=zh`) and falls back to the
usual install folders when fontconfig is missing.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fedcost.errors import FedcostError

# Best first: simplified-Chinese sans families.
PREFERRED_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "Noto Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "Noto Serif CJK SC",
)
# Where fonts-noto-cjk and friends install on Debian/Ubuntu, Fedora, macOS.
_FALLBACK_FILES = (
    ("Noto Sans CJK SC", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    ("Noto Sans CJK SC", "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
    ("Noto Sans CJK SC", "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc"),
    ("Noto Sans CJK SC", "/usr/share/fonts/OTF/NotoSansCJK-Regular.ttc"),
    ("WenQuanYi Zen Hei", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    ("WenQuanYi Micro Hei", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    ("PingFang SC", "/System/Library/Fonts/PingFang.ttc"),
)

INSTALL_HINT = ("install a Chinese font, e.g. `apt-get install fonts-noto-cjk` "
                "(Debian/Ubuntu) or `dnf install google-noto-sans-cjk-fonts` (Fedora)")


class MissingFontError(FedcostError):
    """A report in Chinese was asked for but no CJK font is installed."""


@dataclass(frozen=True)
class CJKFont:
    family: str          # family name as fontconfig/typst/matplotlib know it
    path: Path           # one font file of the family (Regular)
    files: tuple[Path, ...]  # every file of the family found (Regular, Bold, ...)

    @property
    def dirs(self) -> list[Path]:
        """Folders holding the family's files (typst `font-paths`)."""
        out: list[Path] = []
        for f in self.files:
            if f.parent not in out:
                out.append(f.parent)
        return out


def _fc_list() -> list[tuple[str, Path, str]]:
    """(family, file, style) for every face fontconfig knows speaks Chinese."""
    exe = shutil.which("fc-list")
    if not exe:
        return []
    try:
        out = subprocess.run([exe, ":lang=zh", "family", "file", "style"], capture_output=True,
                             text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    faces = []
    for line in out.splitlines():
        # /path/file.ttc: Family A,Family B:style=Regular
        path, _, rest = line.partition(": ")
        if not rest:
            continue
        families, _, style = rest.partition(":style=")
        for fam in families.split(","):
            faces.append((fam.strip(), Path(path.strip()), style.split(",")[0].strip()))
    return faces


@functools.lru_cache(maxsize=1)
def find_cjk_font() -> CJKFont | None:
    """The best Chinese font installed, or None."""
    faces = _fc_list()
    by_family: dict[str, list[tuple[Path, str]]] = {}
    for fam, path, style in faces:
        if path.is_file():
            by_family.setdefault(fam, []).append((path, style))
    ordered = [f for f in PREFERRED_FAMILIES if f in by_family]
    # any other family fontconfig says covers Chinese, sans before serif
    ordered += sorted((f for f in by_family if f not in ordered and "Mono" not in f),
                      key=lambda f: ("Serif" in f or "Ming" in f, f))
    for fam in ordered:
        entries = by_family[fam]
        regular = next((p for p, s in entries if s.lower() in ("regular", "book", "normal")), entries[0][0])
        files = tuple(dict.fromkeys(p for p, _ in entries))
        return CJKFont(fam, regular, files)
    for fam, file in _FALLBACK_FILES:
        p = Path(file)
        if p.is_file():
            bold = p.with_name(p.name.replace("Regular", "Bold"))
            files = (p, bold) if bold.is_file() and bold != p else (p,)
            return CJKFont(fam, p, files)
    return None


def require_cjk_font() -> CJKFont:
    """The Chinese font, or a clear error telling how to install one."""
    font = find_cjk_font()
    if font is None:
        raise MissingFontError(f"a report in Chinese (lang: zh) needs a CJK font and none is installed: {INSTALL_HINT}")
    return font


# Debian's package of the preferred family; `.ci/run` installs the same one.
FONT_PACKAGE = "fonts-noto-cjk"
NO_INSTALL_ENV = "FEDCOST_NO_FONT_INSTALL"  # set to 1: never install, only report what is missing


def can_install_font() -> bool:
    """Whether this process may install the font itself: root with apt-get, and not told otherwise."""
    return (os.environ.get(NO_INSTALL_ENV) != "1" and hasattr(os, "geteuid") and os.geteuid() == 0
            and shutil.which("apt-get") is not None)


def install_font(say=print) -> CJKFont | None:
    """`apt-get install fonts-noto-cjk` (with one `apt-get update` if the first try fails); the font or None."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", FONT_PACKAGE]
    say(f"no Chinese font is installed; installing {FONT_PACKAGE} with apt-get (a few minutes at most) ...")
    for attempt in (install, ["apt-get", "update", "-q"], install):
        try:
            done = subprocess.run(attempt, env=env, capture_output=True, text=True, timeout=900, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            say(f"{' '.join(attempt)} failed: {exc}")
            return None
        if attempt is install and done.returncode == 0:
            break
    find_cjk_font.cache_clear()
    return find_cjk_font()


def ensure_languages(langs, say=print) -> tuple[list[str], str | None]:
    """The report languages that can be rendered here, and a warning for those that cannot.

    Checked before any long step: a Chinese report needs a CJK font; when none
    is installed and this process may install one it does, otherwise the
    Chinese reports are left out with a warning that says what to install.
    """
    langs = list(langs)
    if not any(needs_cjk(lg) for lg in langs) or find_cjk_font() is not None:
        return langs, None
    if can_install_font() and install_font(say) is not None:
        return langs, None
    kept = [lg for lg in langs if not needs_cjk(lg)]
    skipped = [lg for lg in langs if needs_cjk(lg)]
    return kept, (f"the {', '.join(skipped)} reports were not built: they need a CJK font and none is installed; "
                  f"{INSTALL_HINT}, then run the command again")


def needs_cjk(lang: str | None) -> bool:
    return bool(lang) and str(lang).lower().split("-")[0] in ("zh", "ja", "ko")
